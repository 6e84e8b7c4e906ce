"""The `modelmemo` command as a newcomer runs it: clean output and documented exit codes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import ROOT, copy_examples
from .helpers import requirements, run_modelmemo, write_yaml

NOISE = re.compile(r"Traceback|Exception|Error:|WARNING|DeprecationWarning|telemetry|ERROR", re.IGNORECASE)


def modelmemo(*args: str, env: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    return run_modelmemo(*args, extra_env=env, timeout=timeout)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The real command, with its own temporary Prefect server, on one good and one bad file."""
    root = tmp_path_factory.mktemp("cli")
    inputs = root / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    write_yaml(inputs / "bad.yaml", requirements(**{"needs.customization": "retrain"}))
    result = modelmemo("run", str(inputs), "--output", str(root / "output"))
    return root, result


def test_run_reports_progress_and_rejections_without_noise(first_run):
    root, result = first_run
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # one file rejected
    assert "[1/1] ticket-triage: Closed source" in output
    assert re.search(r"bad\.yaml:\d+:\d+: needs\.customization: \"retrain\" is not an accepted value", output)
    lines_without_our_messages = [l for l in output.splitlines() if "is not an accepted value" not in l]
    noisy = [l for l in lines_without_our_messages if NOISE.search(l)]
    assert noisy == [], output
    assert "emails: 1 accepted (one per recipient of 1 memo; written to " in output
    assert re.search(r"run \S+: 1 memo, 0 unchanged, 1 rejected", result.stdout), result.stdout  # not "1 memos"


def harness_env() -> dict[str, str]:
    """Point the command at the session's Prefect API (saves starting a temporary server)."""
    from prefect.settings import PREFECT_API_URL

    return {"PREFECT_API_URL": PREFECT_API_URL.value()}


def test_second_run_skips_the_unchanged_memo(first_run, prefect_api):
    root, _ = first_run
    result = modelmemo("run", str(root / "inputs"), "--output", str(root / "output"), env=harness_env())
    assert "0 memos, 1 unchanged, 1 rejected" in result.stdout
    assert "emails: 1 already-sent" in result.stdout
    assert result.returncode == 1  # the rejected file is still there, still reported


def test_unchanged_rerun_runs_the_flow_without_importing_the_renderer(first_run, prefect_api):
    """Nothing to render: the command is a Prefect flow run all the same, but it starts no render
    pool and never imports WeasyPrint or Dask (what `python -X importtime` lists)."""
    root, _ = first_run
    result = modelmemo("run", str(root / "inputs"), "--output", str(root / "output"),
                       env={**harness_env(), "PYTHONPROFILEIMPORTTIME": "1"})
    assert "0 memos, 1 unchanged, 1 rejected" in result.stdout and result.returncode == 1
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert {"prefect.task_engine", "modelmemo.flows.batch"} <= imported
    assert not {name for name in imported if name.split(".")[0] in ("weasyprint", "dask", "distributed")}


def test_broken_catalog_stops_before_touching_inputs(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    broken = tmp_path / "extra.yaml"
    broken.write_text("catalog_version: 1\nsources: {}\nmodels:\n  x: {name: 1}\n")
    result = modelmemo("run", str(inputs), "--output", str(tmp_path / "output"),
                       env={"MODELMEMO_CATALOG_EXTRA": str(broken)})
    assert result.returncode == 2
    assert "extra.yaml" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "output").exists()


def test_missing_input_folder_exit_code(tmp_path):
    result = modelmemo("run", str(tmp_path / "nope"), "--output", str(tmp_path / "out"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_locked_output_folder_exit_code(tmp_path, prefect_api):
    from modelmemo.batch.state import batch_lock

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    with batch_lock(tmp_path / "output"):
        result = modelmemo("run", str(inputs), "--output", str(tmp_path / "output"), env=harness_env())
    assert result.returncode == 3, result.stdout + result.stderr
    assert "another modelmemo run" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in (tmp_path / "output").iterdir()] == ["state"]


def test_catalog_command_lists_the_ten_models():
    result = modelmemo("catalog", env={"COLUMNS": "1000"})  # the table fits the terminal; names whole here
    assert result.returncode == 0
    for name in ("Llama 2", "Stable Diffusion", "Mistral", "GPT-J", "OpenNMT", "ChatGPT", "Claude", "Gemini", "Bard",
                 "Cohere"):
        assert name in result.stdout


def test_watch_run_raises_when_the_run_could_not_process_the_folder(tmp_path, capsys):
    """Watch mode retries a run that ended with exit code 2 or 3 (see watch_folder's retry test);
    here the drop folder vanished, so the run cannot start and the callback must say so."""
    import argparse

    from modelmemo.cli.run import WatchRunNotDone, watch_run
    from modelmemo.settings import Settings

    run_args = argparse.Namespace(input_dir=str(tmp_path / "gone"), output=str(tmp_path / "out"), workers=None,
                                  force=False, no_email=True, verbose=False, catalog_extra=None, runner="local",
                                  dask_address=None, settings=Settings.from_env())
    with pytest.raises(WatchRunNotDone, match="exit code 2"):
        watch_run(run_args)(["a.yaml"])
    assert "does not exist" in capsys.readouterr().err


def test_version_and_exit_codes_in_help():
    version = modelmemo("--version")
    assert version.returncode == 0 and re.match(r"modelmemo \d+\.\d+\.\d+ \(Prefect 3\.9\.\d+, Python 3\.1[1-3]", version.stdout)
    help_text = modelmemo("run", "--help").stdout
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130, 143, 129"):
        assert f"\n  {code}" in help_text, help_text


def test_empty_drop_folder_says_nothing_to_do_with_exit_4_and_no_run_folder(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    result = modelmemo("run", "--input-dir", str(inputs), "--output", str(tmp_path / "output"), timeout=60)
    assert result.returncode == 4, result.stderr
    assert result.stdout == "" and result.stderr.startswith("nothing to do: the drop folder") and \
        len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "output").exists()


def test_catalog_fits_100_columns_and_shows_one_model_on_demand():
    table = modelmemo("catalog")
    assert table.returncode == 0
    assert max(len(line) for line in table.stdout.splitlines()) <= 100, table.stdout
    details = modelmemo("catalog", "claude")
    assert details.returncode == 0 and "deployment " in details.stdout and "tasks:" in details.stdout
    unknown = modelmemo("catalog", "nope")
    assert unknown.returncode == 2 and "no model nope" in unknown.stderr


def test_json_outputs_are_machine_readable(tmp_path):
    import json

    catalog = json.loads(modelmemo("catalog", "--json").stdout)
    assert len(catalog["models"]) >= 10 and {"id", "tasks", "deployments", "details"} <= set(catalog["models"][0])
    bad = tmp_path / "bad.yaml"
    write_yaml(bad, requirements(**{"needs.customization": "retrain"}))
    result = modelmemo("validate", "--json", str(bad), str(ROOT / "inputs" / "ticket-triage.yaml"))
    data = json.loads(result.stdout)
    assert result.returncode == 1 and data["exit_code"] == 1 and not data["valid"]
    [invalid, valid] = data["files"]
    assert valid["valid"] and not invalid["valid"]
    assert invalid["problems"][0]["path"] == "needs.customization" and "fine-tuning" in invalid["problems"][0]["allowed"]


def test_old_option_spellings_still_work(tmp_path):
    old = modelmemo("catalog", "--extra", str(ROOT / "examples" / "catalog-extension.yaml"))
    new = modelmemo("catalog", "--catalog-extra", str(ROOT / "examples" / "catalog-extension.yaml"))
    assert old.returncode == new.returncode == 0 and old.stdout == new.stdout
    clash = modelmemo("run", str(tmp_path / "a"), "--input-dir", str(tmp_path / "b"), timeout=60)
    assert clash.returncode == 2 and "differ" in clash.stderr and len(clash.stderr.splitlines()) == 1


def test_init_lays_out_a_working_folder_without_overwriting(tmp_path):
    first = subprocess.run([sys.executable, "-m", "modelmemo.cli", "init", str(tmp_path / "w")], capture_output=True,
                           text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "w" / "inputs" / "support-chatbot.yaml").is_file()
    assert (tmp_path / "w" / "templates" / "brand.yaml").is_file()
    (tmp_path / "w" / "templates" / "brand.yaml").write_text("organisation: Mine\n")
    again = subprocess.run([sys.executable, "-m", "modelmemo.cli", "init", str(tmp_path / "w")], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and "kept" in again.stdout
    assert (tmp_path / "w" / "templates" / "brand.yaml").read_text() == "organisation: Mine\n"
    from modelmemo.settings import default_templates_dir

    assert default_templates_dir(tmp_path / "w") == tmp_path / "w" / "templates"
    assert default_templates_dir(tmp_path).name == "templates" and default_templates_dir(tmp_path) != tmp_path / "templates"


def test_the_users_prefect_profile_is_respected(tmp_path):
    """`prefect config set PREFECT_API_URL=...` writes the active profile; modelmemo must use it and
    keep the user's PREFECT_HOME. Without any configured server, a private home for the temporary one."""
    from modelmemo.cli.prefect_setup import user_prefect_api_url

    home = tmp_path / ".prefect"
    home.mkdir()
    (home / "profiles.toml").write_text('active = "work"\n[profiles.work]\nPREFECT_API_URL = "http://prefect:4200/api"\n'
                                        '[profiles.other]\n')
    assert user_prefect_api_url({"PREFECT_HOME": str(home)}) == "http://prefect:4200/api"
    assert user_prefect_api_url({"PREFECT_HOME": str(home), "PREFECT_PROFILE": "other"}) is None
    assert user_prefect_api_url({"PREFECT_HOME": str(home), "PREFECT_API_URL": "http://x/api"}) == "http://x/api"
    assert user_prefect_api_url({"PREFECT_HOME": str(tmp_path / "none")}) is None


def test_a_missing_glyph_is_a_warning_on_the_console_and_in_the_summary(tmp_path, prefect_api):
    """A project name with a character no installed font has (U+E000, private use): the memo is
    written, and the run says so on its progress line, in summary.json and in the index, never silently."""
    import json

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_yaml(inputs / "glyph.yaml", requirements(**{"project.id": "glyph", "project.name": "Private \ue000 glyph"}))
    result = modelmemo("run", str(inputs), "--output", str(tmp_path / "output"), "--no-email", env=harness_env())
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("[1/1] glyph:"))
    assert "warning:" in line and "U+E000" in line
    run_dir = next(p for p in (tmp_path / "output").iterdir() if (p / "summary.json").exists())
    summary = json.loads((run_dir / "summary.json").read_text())
    row = next(r for r in summary["projects"] if r["project_id"] == "glyph")
    assert any("U+E000" in w for w in row["warnings"])
    assert "U+E000" in (run_dir / "index.html").read_text()


def test_each_command_help_lists_only_the_exit_codes_it_can_return():
    init = modelmemo("init", "--help").stdout
    assert "\n  0    the folder is laid out" in init and "\n  2 " in init
    assert "input file produced a memo" not in init and "\n  3 " not in init and "\n  4 " not in init
    validate = modelmemo("validate", "--help").stdout
    assert "\n  1    some file has a problem" in validate and "\n  3 " not in validate
    serve = modelmemo("serve", "--help").stdout
    assert "\n  0 " not in serve and "\n  130, 143, 129" in serve and "schedule is paused" in serve
    assert "\n  3    a run holds the output folder's lock" in modelmemo("prune", "--help").stdout


def _json_run(*args: str, timeout: int = 60) -> tuple[subprocess.CompletedProcess, dict]:
    import json

    result = modelmemo("run", "--json", *args, timeout=timeout)
    return result, json.loads(result.stdout)  # stdout is one JSON document, whatever the exit code


def test_run_json_prints_one_document_on_every_exit(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    empty, data = _json_run(str(inputs), "--output", str(tmp_path / "output"))
    assert empty.returncode == data["exit_code"] == 4 and data["error"].startswith("nothing to do")
    assert empty.stderr.startswith("nothing to do") and len(empty.stderr.splitlines()) == 1
    missing, data = _json_run(str(tmp_path / "nope"))
    assert missing.returncode == data["exit_code"] == 2 and "does not exist" in data["error"]
    bad_setting, data = _json_run(str(inputs), "--workers", "0")
    assert bad_setting.returncode == data["exit_code"] == 2 and "--workers" in data["error"]
    assert not (tmp_path / "output").exists()


def test_a_drop_folder_without_requirement_files_is_nothing_to_do(tmp_path):
    """notes.txt and a subfolder: exit 4 like an empty folder, naming what was left, and neither
    Prefect nor a run folder (it used to exit 0 with a run of "0 memos")."""
    inputs = tmp_path / "inputs"
    (inputs / "drafts").mkdir(parents=True)
    (inputs / "notes.txt").write_text("ideas\n")
    result, data = _json_run(str(inputs), "--output", str(tmp_path / "output"))
    assert result.returncode == data["exit_code"] == 4, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("nothing to do: no requirement file") and "notes.txt (extension '.txt'" in line
    assert "drafts (a folder" in line and "starting Prefect" not in result.stderr
    assert [item["file"] for item in data["not_processed"]] == ["drafts", "notes.txt"]
    assert not (tmp_path / "output").exists()
    (inputs / "support.yaml.part").write_text("schema_version: 1\n")  # still being copied
    waiting = modelmemo("run", str(inputs), "--output", str(tmp_path / "output"), timeout=60)
    assert waiting.returncode == 4 and waiting.stderr.startswith("nothing to do yet: no requirement file")
    assert "support.yaml.part (temporary or hidden name" in waiting.stderr


def test_catalog_check_prints_only_the_report_in_plain_words():
    stale = modelmemo("catalog", "--check")
    assert stale.returncode == 1
    assert re.match(r"\d+ facts older than 180 days", stale.stdout), stale.stdout[:300]
    assert "open/closed" not in stale.stdout and "Llama" not in stale.stdout.split("\n\n")[0]  # no table first
    assert "cannot be refreshed from the stored sources" not in stale.stdout
    assert "no newer source found: " in stale.stdout
    fresh = modelmemo("catalog", "--check", "--max-age-days", "100000")
    assert fresh.returncode == 0 and re.fullmatch(r"All \d+ facts were checked within the last 100000 days\.\n",
                                                  fresh.stdout), fresh.stdout


def test_catalog_table_follows_columns_and_model_details_say_tasks_once():
    def widest(columns: str) -> int:
        result = modelmemo("catalog", env={"COLUMNS": columns})  # stdout is a pipe here
        return max(len(line) for line in result.stdout.split("\n\n")[0].splitlines())

    assert widest("80") == 80 and widest("100") == 100 and widest("160") > 100
    details = modelmemo("catalog", "llama-2").stdout
    assert details.count("tasks:") == 1, details


def test_init_examples_and_the_schema_path_for_a_wheel_user(tmp_path):
    from modelmemo.cli.init_folder import shipped_examples
    from modelmemo.inputs.validation import REQUIREMENTS_SCHEMA

    result = modelmemo("init", "--examples", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    copied = sorted(p.name for p in (tmp_path / "w" / "inputs").iterdir())
    assert copied == [p.name for p in shipped_examples()] and len(copied) >= 8
    schema = modelmemo("validate", "--schema")
    assert schema.returncode == 0 and schema.stdout == f"{REQUIREMENTS_SCHEMA}\n"
    assert '"$schema"' in REQUIREMENTS_SCHEMA.read_text()
    nothing = modelmemo("validate")
    assert nothing.returncode == 2 and len(nothing.stderr.splitlines()) == 1 and "--schema" in nothing.stderr


def test_an_unreachable_server_hint_names_where_its_url_came_from(tmp_path):
    """A URL from the profile (`prefect config set`) is undone with `prefect config unset`, one
    from the environment by unsetting the variable."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    home = tmp_path / ".prefect"
    home.mkdir()
    (home / "profiles.toml").write_text('active = "local"\n[profiles.local]\n'
                                        'PREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    import os

    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    profile = run_modelmemo("run", str(inputs), "--output", str(tmp_path / "out"), env=env,
                            extra_env={"PREFECT_HOME": str(home), "MODELMEMO_SETTLE_SECONDS": "0"}, timeout=120)
    assert profile.returncode == 2 and "`prefect config unset PREFECT_API_URL`" in profile.stderr, profile.stderr
    environment = modelmemo("run", str(inputs), "--output", str(tmp_path / "out"), timeout=120,
                            env={"PREFECT_API_URL": "http://127.0.0.1:9/api", "MODELMEMO_SETTLE_SECONDS": "0"})
    assert environment.returncode == 2 and "or unset PREFECT_API_URL" in environment.stderr
    assert "config unset" not in environment.stderr and len(environment.stderr.splitlines()) == 1
