"""Settings are parsed and checked before any input is touched (issue 10, finding 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmemo.settings import Settings, SettingsError, check_environment

from .conftest import copy_examples
from .test_cli import modelmemo


@pytest.mark.parametrize("name, value, allowed", [
    ("MODELMEMO_WORKERS", "abc", "whole number from 1 to 1024"),
    ("MODELMEMO_WORKERS", "0", "whole number from 1 to 1024"),
    ("MODELMEMO_SETTLE_SECONDS", "-1", "number of seconds from 0 to 3600"),
    ("MODELMEMO_KEEP_RUNS", "2.5", "whole number from 0 to 100000"),
    ("MODELMEMO_SMTP_RETRIES", "0", "whole number from 1 to 10"),
    ("MODELMEMO_SMTP_BACKOFF_SECONDS", "nan", "number of seconds from 0 to 60"),
    ("MODELMEMO_WATCH_RETRY_SECONDS", "0", "number of seconds above 0 and at most 3600"),
    ("MODELMEMO_SMTP_PORT", "smtp", "whole number from 1 to 65535"),
    ("MODELMEMO_SMTP_TIMEOUT", "-1", "number of seconds above 0 and at most 600"),
    ("MODELMEMO_SMTP_ALLOW_PLAIN", "maybe", "true or false"),
])
def test_finding8_bad_value_names_the_variable_and_what_is_allowed(name, value, allowed):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value).startswith(name) and allowed in str(caught.value) and repr(value) in str(caught.value)


def test_finding8_email_settings_and_misspelt_names_are_checked_too():
    with pytest.raises(SettingsError, match="MODELMEMO_SMTP_PORT"):
        check_environment({"MODELMEMO_SMTP_HOST": "localhost", "MODELMEMO_SMTP_PORT": "smtp"})
    with pytest.raises(SettingsError, match="unknown setting MODELMEMO_WORKER \\(did you mean MODELMEMO_WORKERS\\?"):
        check_environment({"MODELMEMO_WORKER": "2"})
    with pytest.raises(SettingsError, match="unknown setting MODELMEMO_COLOUR \\(see README"):
        check_environment({"MODELMEMO_COLOUR": "blue"})  # nothing close: no guess
    assert check_environment({"MODELMEMO_WORKERS": "3"}).workers == 3


@pytest.mark.parametrize("env, args", [
    ({"MODELMEMO_WORKERS": "abc"}, []),
    ({"MODELMEMO_SMTP_HOST": "127.0.0.1", "MODELMEMO_SMTP_PORT": "x"}, []),
    ({}, ["--workers", "0"]),
    ({}, ["--workers", "5000"]),  # issue 23: --workers has MODELMEMO_WORKERS' bounds
    ({"MODELMEMO_SMTP_BACKOFF_SECONDS": "1e9"}, []),  # issue 23: would hold a failing send for 30 years
])
def test_finding8_bad_setting_stops_the_run_at_once_in_one_line(tmp_path: Path, env, args):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    output = tmp_path / "output"

    result = modelmemo("run", str(inputs), "--output", str(output), *args, env=env, timeout=60)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert not output.exists()  # nothing rendered, nothing written


def test_public_base_url_is_validated_and_ends_with_one_slash():
    assert Settings.from_env({}).public_base_url is None
    assert Settings.from_env({"MODELMEMO_PUBLIC_BASE_URL": "https://memos.example.com/mm"}).public_base_url == \
        "https://memos.example.com/mm/"
    for bad in ("memos.example.com", "ftp://x.example/", "https://x.example/?a=1", "https://"):
        with pytest.raises(SettingsError, match="MODELMEMO_PUBLIC_BASE_URL"):
            Settings.from_env({"MODELMEMO_PUBLIC_BASE_URL": bad})
    assert check_environment({"MODELMEMO_PUBLIC_BASE_URL": "https://m.example/"}).public_base_url


def test_folders_default_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.input_dir == tmp_path / "inputs" and settings.output_dir == tmp_path / "output"
    assert settings.catalog_files[0].is_file()  # the shipped catalog, wherever the command runs


def test_readme_setting_tables_are_rendered_from_the_one_settings_table():
    """README's variable and constant tables are exactly what settings.readme_table renders: a
    setting added, renamed or re-documented in modelmemo/settings.py and not in README fails here."""
    import re

    from modelmemo.settings import readme_table

    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for group in ("settings", "email", "constants"):
        found = re.search(rf"<!-- settings:{group} -->\n(.*?)\n<!-- /settings:{group} -->", readme, re.S)
        assert found, f"README has no settings:{group} block"
        assert found.group(1) == readme_table(group), f"README's {group} table differs from settings.py"


def test_every_variable_the_code_reads_is_in_the_settings_table():
    """A MODELMEMO_* name used anywhere in the package but missing from VARIABLES would be reported as
    an unknown setting at start (check_environment) and be undocumented."""
    import re

    from modelmemo.settings import KNOWN_VARIABLES

    from .conftest import ROOT

    used = set()
    for path in list((ROOT / "modelmemo").rglob("*.py")) + list((ROOT / "flows").rglob("*.py")):
        # Names as string literals (env.get("MODELMEMO_X"), error messages, docs in the code).
        used |= set(re.findall(r"[\"'](MODELMEMO_[A-Z_]*[A-Z])[\"']", path.read_text(encoding="utf-8")))
    assert used and used <= KNOWN_VARIABLES, sorted(used - KNOWN_VARIABLES)


def test_email_and_watch_settings_are_built_by_settings_from_env(tmp_path):
    """One parse of every variable (Settings.from_env): the mailer's settings and watch's retry
    delay are read from the Settings object, not from the environment again."""
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    settings = Settings.from_env({"MODELMEMO_SMTP_HOST": " smtp.example.com ", "MODELMEMO_SMTP_SECURITY": "SSL",
                                  "MODELMEMO_SMTP_PASSWORD_FILE": str(password), "MODELMEMO_SMTP_FROM": "m@example.com",
                                  "MODELMEMO_SMTP_FROM_NAME": "Memos", "MODELMEMO_WATCH_RETRY_SECONDS": "2.5"})
    smtp = settings.smtp
    assert (smtp.host, smtp.security, smtp.effective_port, smtp.password) == ("smtp.example.com", "ssl", 465, "s3cret")
    assert smtp.sender == "Memos <m@example.com>" and "s3cret" not in repr(settings)
    assert settings.watch_retry_seconds == 2.5 and settings.smtp_block is None
    default = Settings.from_env({})
    assert default.smtp.host is None and default.watch_retry_seconds == 60
    assert default.smtp.sender.endswith(" memos <modelmemo@localhost>")  # the brand's organisation names it
    block = Settings.from_env({"MODELMEMO_SMTP_BLOCK": "team-smtp", "MODELMEMO_SMTP_FROM": "m@example.com"})
    assert block.smtp_block == "team-smtp" and block.smtp.sender.endswith("<m@example.com>")
    for env, message in [({"MODELMEMO_SMTP_PASSWORD": "a", "MODELMEMO_SMTP_PASSWORD_FILE": str(password)}, "not both"),
                         ({"MODELMEMO_SMTP_PASSWORD_FILE": str(tmp_path / "none")}, "cannot read"),
                         ({"MODELMEMO_SMTP_HOST": "mail.example.com", "MODELMEMO_SMTP_SECURITY": "none"}, "plain"),
                         ({"MODELMEMO_SMTP_SECURITY": "tls"}, "SMTP security must be one of")]:
        with pytest.raises(SettingsError, match=message):
            Settings.from_env(env)


def _modelmemo_variables_read(source: str) -> list[str]:
    """MODELMEMO_* names looked up in a mapping (`env.get(...)`, `os.environ[...]`, `... in env`):
    as a literal, a module constant holding one, or an f-string starting with one."""
    import ast

    tree = ast.parse(source)
    constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}

    def name_of(key) -> str | None:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
        if isinstance(key, ast.Name):
            return constants.get(key.id)
        if isinstance(key, ast.JoinedStr) and key.values and isinstance(key.values[0], ast.Constant):
            return str(key.values[0].value) + "..."
        return None

    found = []
    for node in ast.walk(tree):
        keys = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("get", "getenv", "pop", "setdefault"):
            keys = node.args[:1]
        elif isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            keys = [node.left]
        found += [name for name in map(name_of, keys) if name and name.startswith("MODELMEMO_")]
    return found


def test_only_settings_py_reads_modelmemo_variables():
    """Every MODELMEMO_* variable is parsed in one place; the rest of the package takes a Settings
    object (the test-only MODELMEMO_FAILPOINT, read where the crash points are, aside)."""
    from .conftest import ROOT

    readers = {}
    for path in list((ROOT / "modelmemo").rglob("*.py")) + list((ROOT / "flows").rglob("*.py")):
        if path.relative_to(ROOT).as_posix() != "modelmemo/settings.py":
            names = [n for n in _modelmemo_variables_read(path.read_text(encoding="utf-8")) if n != "MODELMEMO_FAILPOINT"]
            if names:
                readers[str(path.relative_to(ROOT))] = names
    assert readers == {}, readers
    # what it finds: the forms the settings used to be read in outside settings.py
    assert _modelmemo_variables_read('RETRY_ENV = "MODELMEMO_WATCH_RETRY_SECONDS"\nenv.get(RETRY_ENV, "")')
    assert _modelmemo_variables_read('env.get(f"MODELMEMO_SMTP_{name}")')
    assert _modelmemo_variables_read('(env.get("MODELMEMO_SMTP_BLOCK") or "").strip()')


def test_readme_policy_table_is_rendered_from_the_one_policy_table():
    """README "Methodology" shows every number the scoring uses, exactly as decision/policy.py has it."""
    import re

    from modelmemo.decision.policy import policy_table

    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- policy -->\n(.*?)\n<!-- /policy -->", readme, re.S)
    assert found and found.group(1) == policy_table(), "README's policy table differs from decision/policy.py"


@pytest.mark.parametrize("name", ["MODELMEMO_SMTP_FROM", "MODELMEMO_SMTP_FROM_NAME"])
@pytest.mark.parametrize("value", ["memos@example.com\r\nBcc: x@example.net", "Memos\nBcc: x@example.net",
                                   "Memos\x00", "Memos\x1b[31m", "Memos\x85x"])
def test_sender_settings_with_a_line_break_or_control_character_are_refused(name, value):
    """A line break in the sender once passed the check and ended the From header early."""
    with pytest.raises(SettingsError) as caught:
        check_environment({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name} must be one line without control characters") and "\n" not in message


def test_sender_identity_never_spans_lines_whoever_calls_it():
    from email.utils import getaddresses

    from modelmemo.delivery.mailers import sender_identity

    for address, name in [("m@example.com", "Memos\r\nBcc: x@example.net"), ("m@example.com\r\nBcc: x@example.net", "M"),
                          ("m@example.com", "Me\x00mos\x7f")]:
        identity = sender_identity(address, name)
        assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in identity), repr(identity)
    assert getaddresses([sender_identity("m@example.com", "Memos\r\nTeam")]) == [("Memos Team", "m@example.com")]


def test_breaker_and_connect_timeout_settings_are_bounded():
    default = Settings.from_env({})
    assert default.smtp_breaker_failures == 3 and default.smtp.connect_timeout == 10
    settings = Settings.from_env({"MODELMEMO_SMTP_BREAKER_FAILURES": "100", "MODELMEMO_SMTP_CONNECT_TIMEOUT": "2.5"})
    assert settings.smtp_breaker_failures == 100 and settings.smtp.connect_timeout == 2.5
    for name, value, allowed in [("MODELMEMO_SMTP_BREAKER_FAILURES", "0", "whole number from 1 to 100"),
                                 ("MODELMEMO_SMTP_BREAKER_FAILURES", "101", "whole number from 1 to 100"),
                                 ("MODELMEMO_SMTP_CONNECT_TIMEOUT", "0", "above 0 and at most 300"),
                                 ("MODELMEMO_SMTP_CONNECT_TIMEOUT", "301", "above 0 and at most 300")]:
        with pytest.raises(SettingsError, match=f"^{name} must be a .*{allowed}"):
            Settings.from_env({name: value})
# --- issue 23: every numeric setting has documented bounds; file settings read only regular files --


def _numeric_variables():
    from modelmemo.settings import VARIABLES

    return [v for v in VARIABLES if v.bounds is not None]


def test_every_variable_read_as_a_number_has_bounds_in_the_settings_table():
    """A MODELMEMO_* variable parsed as a number (in Settings.from_env) without bounds in VARIABLES
    would accept 1e9; the parsers take their range from the table, and this finds any that has none."""
    import inspect
    import re

    from modelmemo import settings

    source = inspect.getsource(settings.Settings.from_env)
    numeric = set(re.findall(r'get\("(MODELMEMO_[A-Z_]+)",\s*parse\.(?:whole_number|seconds)\b', source))
    assert {"MODELMEMO_WORKERS", "MODELMEMO_SMTP_BACKOFF_SECONDS", "MODELMEMO_SMTP_TIMEOUT"} <= numeric
    assert numeric == {v.name for v in _numeric_variables()}


@pytest.mark.parametrize("variable", _numeric_variables(), ids=lambda v: v.name)
def test_issue23_a_numeric_setting_beyond_its_bounds_is_refused_naming_the_range(variable):
    bounds = variable.bounds
    assert Settings.from_env({variable.name: f"{bounds.high:g}"})  # the bound itself is allowed
    for raw in (f"{bounds.high * 2 + 1:g}", "1e9", "inf", "-1"):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({variable.name: raw})
        message = str(caught.value)
        assert message.startswith(variable.name) and bounds.phrase() in message and repr(raw) in message
        assert "\n" not in message


def test_issue23_smtp_backoff_of_1e9_is_refused_and_retries_cannot_add_up_to_hours():
    with pytest.raises(SettingsError, match=r"^MODELMEMO_SMTP_BACKOFF_SECONDS must be a number of seconds "
                                            r"from 0 to 60, not '1e9'$"):
        Settings.from_env({"MODELMEMO_SMTP_BACKOFF_SECONDS": "1e9"})
    # each within its range, together 60 + 120 + ... + 15,360 s for one memo
    with pytest.raises(SettingsError, match=r"^MODELMEMO_SMTP_BACKOFF_SECONDS=60 with MODELMEMO_SMTP_RETRIES=10 waits "
                                            r"30,660 s .* limit is 3,600 s"):
        Settings.from_env({"MODELMEMO_SMTP_BACKOFF_SECONDS": "60", "MODELMEMO_SMTP_RETRIES": "10"})
    assert Settings.from_env({"MODELMEMO_SMTP_BACKOFF_SECONDS": "60", "MODELMEMO_SMTP_RETRIES": "6"}).smtp_retries == 6


@pytest.mark.timeout(60)  # a bound on a hang: the old code blocked forever opening the FIFO
def test_issue23_a_password_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "password"
    os.mkfifo(fifo)  # no writer: opening it for reading would wait for one
    with pytest.raises(SettingsError, match=r"^MODELMEMO_SMTP_PASSWORD_FILE .* is a named pipe \(FIFO\), not a "
                                            r"regular file; point it at a file holding only the password"):
        Settings.from_env({"MODELMEMO_SMTP_PASSWORD_FILE": str(fifo)})


@pytest.mark.timeout(60)  # the old code read /dev/zero until memory ran out
@pytest.mark.parametrize("kind, make", [
    ("a device", lambda tmp: "/dev/zero"),
    ("a folder", lambda tmp: str(tmp)),
])
def test_issue23_a_password_file_that_is_a_device_or_folder_is_refused(tmp_path, kind, make):
    with pytest.raises(SettingsError, match=rf"^MODELMEMO_SMTP_PASSWORD_FILE .* is {kind}, not a regular file"):
        Settings.from_env({"MODELMEMO_SMTP_PASSWORD_FILE": make(tmp_path)})


def test_issue23_a_password_file_over_4_kib_is_not_a_password(tmp_path):
    big = tmp_path / "password"
    big.write_text("x" * 4097)
    with pytest.raises(SettingsError, match=r"^MODELMEMO_SMTP_PASSWORD_FILE .* has 4,097 bytes; a password file holds "
                                            r"at most 4,096"):
        Settings.from_env({"MODELMEMO_SMTP_PASSWORD_FILE": str(big)})
    big.write_text("s3cret" + " " * 4000 + "\n")  # at the limit, with its newline: still a password file
    assert Settings.from_env({"MODELMEMO_SMTP_PASSWORD_FILE": str(big)}).smtp.password.startswith("s3cret")


@pytest.mark.timeout(60)
def test_issue23_a_local_listing_that_is_a_fifo_or_device_is_refused_without_blocking(tmp_path):
    import os

    from modelmemo.catalog.fetch import SourceUnavailable, read_listing

    fifo = tmp_path / "api.json"
    os.mkfifo(fifo)
    for name, location in (("MODELMEMO_SOURCE_MODELS_DEV", str(fifo)), ("MODELMEMO_SOURCE_OPENROUTER", "/dev/zero")):
        with pytest.raises(SettingsError, match=rf"^{name}=.* not a regular file"):
            Settings.from_env({name: location})
    with pytest.raises(SourceUnavailable, match="not a regular file"):  # swapped in after the settings were read
        read_listing("models.dev", str(fifo))
