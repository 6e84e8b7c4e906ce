"""Prefect's settings for a command (modelmemo/cli/prefect_setup.py): given through Prefect's own
settings API for the command's duration, never written to os.environ; the user's own settings win."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from modelmemo.cli.prefect_setup import PrefectScope, prefect_setting_changes, prefect_settings

from .conftest import ROOT


def _console_levels() -> list[int]:
    return [h.level for h in logging.getLogger().handlers if h.get_name() == "console"]


def _in_a_new_thread(read):
    """What Prefect's own threads (log and event shipping, the temporary server's start) see."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(read()))
    thread.start()
    thread.join()
    return seen[0]


def test_a_command_is_quiet_without_writing_the_environment(prefect_api):
    import prefect.main  # noqa: F401  (Prefect's own logging set-up at import is not the command's)
    from prefect.settings import get_current_settings

    environment, console, internal = dict(os.environ), _console_levels(), logging.getLogger("prefect._internal").level
    with prefect_settings(verbose=False):
        settings = get_current_settings()
        assert settings.server.analytics_enabled is False
        assert settings.internal.logging_level == "CRITICAL"
        assert settings.server.ephemeral.startup_timeout_seconds == 90
        assert settings.logging.level == "WARNING"  # the user's (tests/conftest.py sets it), not our INFO
        assert _console_levels() == [logging.CRITICAL] and logging.getLogger("prefect._internal").level == logging.CRITICAL
        assert _in_a_new_thread(lambda: get_current_settings().server.analytics_enabled) is False
        assert settings.logging.config_path.name == "prefect-logging-console-critical.yml"
        assert "level: CRITICAL" in settings.logging.config_path.read_text()
        exported = settings.to_environment_variables(exclude_unset=True)  # what Prefect's child processes get
        assert exported["PREFECT_SERVER_ANALYTICS_ENABLED"] == "False"
        assert exported["PREFECT_LOGGING_CONFIG_PATH"] == str(settings.logging.config_path)
    assert dict(os.environ) == environment
    assert _console_levels() == console and logging.getLogger("prefect._internal").level == internal
    assert get_current_settings().logging.config_path.name != "prefect-logging-console-critical.yml"


def test_verbose_shows_what_the_prefect_ui_shows_not_debug(prefect_api):
    from prefect.settings import get_current_settings

    with prefect_settings(verbose=True):
        assert _console_levels() == [logging.INFO]  # was DEBUG once: every event payload
        assert get_current_settings().internal.logging_level == "WARNING"


def test_the_users_own_prefect_settings_win(prefect_api, tmp_path):
    """Set in the environment, a profile or prefect.toml, a PREFECT_* setting is in the settings
    Prefect read: the command's defaults do not replace it."""
    from prefect.settings import get_current_settings, temporary_settings

    with temporary_settings(updates={"internal.logging_level": "ERROR", "server.analytics_enabled": True}):
        with prefect_settings(verbose=False):
            assert get_current_settings().internal.logging_level == "ERROR"
            assert get_current_settings().server.analytics_enabled is True
    env = {**os.environ, "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO"}
    with prefect_settings(verbose=False, env=env):  # Prefect applied it at import; it stays
        assert logging.CRITICAL not in _console_levels()
        assert get_current_settings().logging.config_path.name != "prefect-logging-console-critical.yml"


def test_without_a_prefect_setup_the_temporary_server_gets_a_private_home(prefect_api, tmp_path):
    from prefect.settings import get_current_settings, temporary_settings

    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_HOME", "PREFECT_API_URL")}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), HOME=str(tmp_path / "home"))
    private = tmp_path / "state" / "modelmemo" / "prefect"
    assert prefect_setting_changes(False, env)[0] == {"home": private}
    assert prefect_setting_changes(False, {**env, "PREFECT_HOME": str(tmp_path)})[0] == {}
    assert prefect_setting_changes(False, {**env, "PREFECT_API_URL": "http://prefect:4200/api"})[0] == {}
    # the test harness's own database aside: the one a temporary server would use
    with temporary_settings(restore_defaults={"server.database.connection_url"}), prefect_settings(env=env):
        settings = get_current_settings()
        assert settings.home == private and private.is_dir()
        assert str(private / "prefect.db") in settings.server.database.connection_url.get_secret_value()
        assert settings.to_environment_variables(exclude_unset=True)["PREFECT_HOME"] == str(private)
        assert _in_a_new_thread(lambda: get_current_settings().home) == private
    assert get_current_settings().home != private


def test_a_scope_lasts_until_closed_and_is_entered_once(prefect_api):
    from prefect.settings import get_current_settings

    scope = PrefectScope()
    scope.enter(verbose=False)
    scope.enter(verbose=True)  # a second `watch` run: the command's settings are in place already
    assert get_current_settings().internal.logging_level == "CRITICAL"
    scope.close()
    assert get_current_settings().internal.logging_level != "CRITICAL"


@pytest.mark.slow  # two processes import Prefect on a terminal (about 10 s here)
def test_no_telemetry_notice_on_a_terminal(tmp_path):
    """Prefect's client-side opt-out is the DO_NOT_TRACK environment variable only; on a terminal,
    a new user's first `import prefect` prints a telemetry notice and queues an event. The command
    imports Prefect without either (the control shows the terminal would get the notice)."""
    from prefect._internal.analytics.ci_detection import CI_ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in CI_ENV_VARS | {"DO_NOT_TRACK", "PREFECT_HOME"}}

    def on_a_terminal(code: str, home: Path) -> str:
        home.mkdir()
        primary, secondary = os.openpty()
        process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=secondary, stderr=secondary,
                                   env={**env, "HOME": str(home), "XDG_STATE_HOME": str(home / "state")})
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        process.wait(timeout=60)
        os.close(primary)
        return output.decode(errors="replace")

    control = on_a_terminal("import prefect", tmp_path / "control")
    assert "anonymous usage data" in control  # a terminal, a new user: Prefect would show it
    ours = on_a_terminal("from modelmemo.cli.prefect_setup import prefect_settings\n"
                         "with prefect_settings():\n    import prefect\nprint('done')", tmp_path / "ours")
    assert "done" in ours and "anonymous usage data" not in ours, ours
    assert not list((tmp_path / "ours").rglob(".sdk_telemetry"))
