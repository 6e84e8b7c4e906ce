"""Which Prefect API a command uses (the user's own setup wins; otherwise a temporary local server
with a private home), Prefect's quiet defaults, and what happens when the API is lost mid-run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Mapping

from modelmemo.cli.exits import EXIT_CANNOT_RUN


def user_prefect_api_url(env: Mapping[str, str] | None = None) -> str | None:
    """The Prefect API the user configured, without importing Prefect: PREFECT_API_URL, or the
    active profile's (`prefect config set PREFECT_API_URL=...` writes it to profiles.toml)."""
    import tomllib

    env = os.environ if env is None else env
    if (env.get("PREFECT_API_URL") or "").strip():
        return env["PREFECT_API_URL"].strip()
    home = Path(env.get("PREFECT_HOME") or "~/.prefect").expanduser()
    profiles = Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no profiles file, or one Prefect itself would reject
        return None
    active = env.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = (data.get("profiles") or {}).get(active) or {}
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return url.strip() if isinstance(url, str) and url.strip() else None


def api_unreachable_hint(env: Mapping[str, str] | None = None) -> str:
    """How to stop using a configured server that does not answer: the environment variable, or the
    profile setting that `prefect config set` wrote (unsetting an environment variable that is not
    set would not help the user whose URL comes from the profile)."""
    env = os.environ if env is None else env
    if (env.get("PREFECT_API_URL") or "").strip():
        return "unset PREFECT_API_URL"
    return "run `prefect config unset PREFECT_API_URL` (or switch Prefect profiles)"


def private_prefect_home(env: Mapping[str, str] | None = None) -> Path:
    """Where Prefect's temporary server keeps its database when the user has no Prefect setup:
    modelmemo's own state folder, so a throwaway server never writes into the user's ~/.prefect."""
    env = os.environ if env is None else env
    state = Path(env.get("XDG_STATE_HOME") or "~/.local/state").expanduser()
    return state / "modelmemo" / "prefect"


def prefect_environment(verbose: bool = False) -> None:
    """Quiet Prefect defaults; set before Prefect is imported. Explicit settings win, and a user's
    own Prefect setup (PREFECT_HOME, PREFECT_API_URL, the active profile) is used as it is: only
    the embedded default (no server configured) gets a private home for its temporary server."""
    if "PREFECT_HOME" not in os.environ and not user_prefect_api_url():
        home = private_prefect_home()
        try:
            home.mkdir(parents=True, exist_ok=True)  # Prefect creates the last level only
        except OSError:
            pass  # Prefect says so itself; its temporary server then fails with a one-line error
        os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")  # what the Prefect UI shows for each run
    # The command reports progress, results and errors itself, in one line each; Prefect's own
    # console lines (with tracebacks) are for --verbose. They still reach the Prefect UI. --verbose
    # means what the Prefect UI shows (INFO): DEBUG adds every event payload and HTTP call, which
    # buries the lines a user is looking for (PREFECT_LOGGING_* set by the user still win).
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else "CRITICAL")
    # Prefect's internal services (events, log shipping) print their own errors when the API is
    # unreachable; the command says that in one line itself (api_watch.py).
    os.environ.setdefault("PREFECT_LOGGING_INTERNAL_LEVEL", "WARNING" if verbose else "CRITICAL")
    if not verbose:
        import logging

        logging.raiseExceptions = False  # the standard production setting: no "--- Error logging to API ---"
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def temporary_server_url_or_none(lookup: Callable[[], str | None]) -> str | None:
    """The watchdog polls while the flow's thread may still be importing Prefect's server module
    (a partially initialised module has no SubprocessASGIServer yet): "not started yet"."""
    try:
        return lookup()
    except (AttributeError, ImportError):
        return None


def stop_when_api_lost(api_url: str, problem: str) -> None:
    """Called by the API watchdog's thread: the run cannot report to Prefect any more, and Prefect's
    client would retry for minutes. Every memo file is written atomically, so stopping now loses
    nothing that was complete; the next run renders and sends the rest."""
    from modelmemo.process import shutdown

    if shutdown.received() is not None:
        return  # a stop signal is already ending the command (shutdown.py bounds how long that takes)
    from modelmemo.cli.console import emit_json_for_exit, error

    error(f"lost the Prefect API at {api_url} ({problem}); stopped. Memos already written are "
          "complete; run again when the server is back")
    emit_json_for_exit(EXIT_CANNOT_RUN)  # os._exit below skips main, which would print it
    shutdown.stop_temporary_server()  # if it is the one that stopped answering, it must not linger
    os._exit(EXIT_CANNOT_RUN)  # render workers end with this process (shutdown.init_render_worker)


def require_server() -> str | None:
    """Schedules need a real Prefect server: the URL from the environment or the active Prefect
    profile, or None after printing how to configure one."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        print("error: no Prefect server configured; start one (`prefect server start`) and point Prefect at it "
              "(`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`)", file=sys.stderr)
        return None
    return url
