"""Which Prefect API a command uses (the user's own setup wins; otherwise a temporary local server
with a private home), Prefect's quiet defaults, and what happens when the API is lost mid-run.

Prefect's settings for a command are given through Prefect's own settings API
(`prefect_settings`, entered through `PrefectScope` for the command's duration), never by writing
os.environ: the process environment stays the user's."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping

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


# Prefect settings a command sets for itself unless the user set them (environment, profile or
# prefect.toml): its analytics off, the level the Prefect UI shows for each run, and time for a
# temporary server to start on a slow machine.
PREFECT_DEFAULTS: dict[str, object] = {
    "server.analytics_enabled": False,
    "logging.level": "INFO",
    "server.ephemeral.startup_timeout_seconds": 90,
}
# The command reports progress, results and errors itself, in one line each; Prefect's own console
# lines (with tracebacks) are for --verbose, and they still reach the Prefect UI. --verbose means
# what the Prefect UI shows (INFO): DEBUG adds every event payload and HTTP call, which buries the
# lines a user is looking for. Prefect's internal services (events, log shipping) print their own
# errors when the API is unreachable; the command says that in one line itself (api_watch.py).
CONSOLE_LEVEL = {False: "CRITICAL", True: "INFO"}
INTERNAL_LEVEL = {False: "CRITICAL", True: "WARNING"}


def prefect_setting_changes(verbose: bool, env: Mapping[str, str] | None = None
                            ) -> tuple[dict[str, object], dict[str, object]]:
    """(updates, defaults) for `prefect.settings.temporary_settings`: the private home when the
    user has no Prefect setup (no PREFECT_HOME, no API URL in the environment or the active
    profile), and the quiet defaults, which lose to anything the user set."""
    env = os.environ if env is None else env
    updates: dict[str, object] = {}
    if "PREFECT_HOME" not in env and not user_prefect_api_url(env):
        updates["home"] = private_prefect_home(env)
    return updates, {**PREFECT_DEFAULTS, "internal.logging_level": INTERNAL_LEVEL[verbose]}


@contextmanager
def prefect_settings(verbose: bool = False, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Prefect's settings for one command, through Prefect's own settings API (nothing is written
    to os.environ): entered once Prefect is needed, left when the command ends.

    A user's own Prefect setup (PREFECT_HOME, PREFECT_API_URL, the active profile, PREFECT_* set
    anywhere Prefect reads them) is used as it is: only the embedded default (no server configured)
    gets a private home for its temporary server. The settings are also made the process-wide
    settings (as prefect_test_harness does), so Prefect's own threads (log and event shipping, the
    temporary server's start) see them, and Prefect passes them on to the processes it starts
    (the temporary server, `serve`'s flow runs) as PREFECT_* variables of their environment."""
    env = os.environ if env is None else env
    updates, defaults = prefect_setting_changes(verbose, env)
    home: Path | None = updates.get("home")  # type: ignore[assignment]
    if home is not None:
        try:
            home.mkdir(parents=True, exist_ok=True)  # Prefect creates the last level only
        except OSError:
            pass  # Prefect says so itself; its temporary server then fails with a one-line error
    _import_prefect()
    import prefect.context
    from prefect.logging.configuration import setup_logging
    from prefect.settings import get_current_settings, temporary_settings

    outer = get_current_settings()
    # The user's own logging file (PREFECT_LOGGING_SETTINGS_PATH, or logging.yml in the Prefect
    # home) and console level (PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL) win.
    own_config = "config_path" in outer.logging.model_fields_set or ((home or outer.home) / "logging.yml").exists()
    console_level = None if env.get("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL") else CONSOLE_LEVEL[verbose]
    if console_level and not own_config:
        config = console_logging_config(console_level, private_prefect_home(env).parent)
        if config is not None:
            updates["logging.config_path"] = config
    logging_state = _logging_state()
    raise_exceptions = logging.raiseExceptions
    with ExitStack() as stack:
        stack.callback(_restore_logging_state, logging_state)
        stack.enter_context(temporary_settings(updates=updates, set_defaults=defaults))
        stack.enter_context(prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()))
        setup_logging(incremental=True)  # the levels of this command's settings, in this process
        if console_level:  # also with the user's own logging file, as PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL would
            for handler in _handlers_named("console"):
                handler.setLevel(console_level)
        if not verbose:
            logging.raiseExceptions = False  # the standard production setting: no "--- Error logging to API ---"
            stack.callback(setattr, logging, "raiseExceptions", raise_exceptions)
        if get_current_settings().api.url is None and not verbose:
            stack.callback(_forget_if_unstarted, _quiet_temporary_server())
        yield


def console_logging_config(level: str, folder: Path) -> Path | None:
    """Prefect's own logging configuration with its console handler at `level`, as a file for the
    setting PREFECT_LOGGING_SETTINGS_PATH: the only setting that reaches the console level of the
    processes Prefect starts (Prefect reads PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL from the
    environment only). Written once into modelmemo's state folder (again when Prefect's own file
    changes); None if that folder cannot be written (the command's own process is quiet anyway)."""
    import yaml
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH

    config = yaml.safe_load(DEFAULT_LOGGING_SETTINGS_PATH.read_text(encoding="utf-8"))
    config["handlers"]["console"]["level"] = level
    text = ("# Prefect's logging.yml with the console handler at " + level + "; written by modelmemo\n"
            + yaml.safe_dump(config, sort_keys=False))
    path = folder / f"prefect-logging-console-{level.lower()}.yml"
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return path
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{path.name}.{os.getpid()}.modelmemo-tmp"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)  # atomic: a command starting at the same time reads one or the other
    except OSError:
        return None
    return path


def _import_prefect() -> None:
    """Import Prefect (which configures its logging) without its first-import telemetry: on a
    terminal, a new user's first `import prefect` prints a notice and queues an event. Prefect
    takes its client-side opt-out only from the environment (DO_NOT_TRACK), which a command does
    not write; it shows the notice only on a terminal, so the import sees streams that are not
    one. The settings then turn analytics off for everything after it."""
    if "prefect" not in sys.modules:
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _NotATerminal(sys.stdout), _NotATerminal(sys.stderr)
        try:
            import prefect  # noqa: F401
        finally:
            sys.stdout, sys.stderr = streams
    import prefect.main  # noqa: F401  (Prefect's logging is set up when this is first imported)


class _NotATerminal:
    """A stream that writes where `stream` writes but says it is not a terminal."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _quiet_temporary_server():
    """Prefect's temporary server, when this command needs one, starts with its output on
    /dev/null (unless --verbose): its own logs reach the Prefect UI, and on a terminal a new user's
    first server would print Prefect's telemetry notice (DO_NOT_TRACK, the only opt-out, is read
    from the environment). Registered where Prefect looks for its temporary server, so Prefect
    starts this one when it first needs the API; one registered already (a test harness's) stays."""
    from prefect.server.api.server import SubprocessASGIServer

    class QuietTemporaryServer(SubprocessASGIServer):
        def _run_uvicorn_command(self):  # type: ignore[override]
            with _output_to_devnull():
                return super()._run_uvicorn_command()

    return None if None in SubprocessASGIServer._instances else QuietTemporaryServer()


def _forget_if_unstarted(server) -> None:
    """In-process callers get Prefect's own lookup back when the command never started the server
    (a started one is stopped by Prefect at exit, like any temporary server)."""
    if server is not None and server.server_process is None and server._instances.get(None) is server:
        del server._instances[None]


@contextmanager
def _output_to_devnull() -> Iterator[None]:
    """File descriptors 1 and 2 on /dev/null while a child process is started (it inherits them)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _handlers_named(name: str) -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    return list({id(h): h for logger in loggers for h in logger.handlers if h.get_name() == name}.values())


def _logging_state() -> list[tuple[logging.Logger, int, list[logging.Handler], bool, list[tuple[logging.Handler, int]]]]:
    """Every logger's level, handlers and propagation, and its handlers' levels: what a command's
    settings change (Prefect re-applies its logging configuration), to give an in-process caller
    its logging back."""
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    return [(logger, logger.level, list(logger.handlers), logger.propagate, [(h, h.level) for h in logger.handlers])
            for logger in loggers]


def _restore_logging_state(state) -> None:
    for logger, level, handlers, propagate, handler_levels in state:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        for handler, handler_level in handler_levels:
            handler.setLevel(handler_level)


class PrefectScope:
    """Prefect's settings for the duration of one command: entered when the command first needs
    Prefect (`run` after its checks, each `watch` run, `serve`), closed by `main` when the command
    ends. The command's own process keeps them until it exits, so Prefect's exit flush (log and
    event shipping, stopping the temporary server) runs under them too."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self.entered = False

    def enter(self, verbose: bool = False) -> None:
        if not self.entered:
            self._stack.enter_context(prefect_settings(verbose))
            self.entered = True

    def close(self) -> None:
        self._stack.close()
        self.entered = False

    def keep_until_exit(self) -> None:
        """Leave the settings in place until the process exits (a scope that is garbage-collected
        closes its settings: the generator behind them is finalised)."""
        _KEPT_UNTIL_EXIT.append(self)


_KEPT_UNTIL_EXIT: list[PrefectScope] = []


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
