"""Is the Prefect API there? Checked once before a run, and watched while the run goes on.

Why: when the API dies mid-run, Prefect's client retries every call with backoff and its event
and log services keep reconnecting, so the command used to hang ~3.5 min and then print ~110
lines of tracebacks. The memos do not need the API (they are written atomically by our own code),
so the command should notice within seconds, say so in one line, and stop: memos already written
are complete, and the next run picks up the rest.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable

# A busy server (a nightly batch of many flows, a slow database) answers its health check in
# seconds; up to this long is slow, not gone. Also the check before a run.
HEALTH_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 2.0
# Nothing listening (connection refused, host unreachable) for this long in a row means gone: a
# restart of a server takes less. With the poll, a dead API ends the command in about 15 s.
GIVE_UP_REFUSED_SECONDS = 10.0
# Any other failure (no answer within HEALTH_TIMEOUT_SECONDS, a dropped connection, an HTTP error)
# for this long in a row means gone: a server that is alive but loaded answers again well within
# it. A hung API ends the command in about 45 s (the window, then the check that ends it).
GIVE_UP_SECONDS = 30.0


def api_problem(api_url: str, timeout: float = HEALTH_TIMEOUT_SECONDS) -> str | None:
    """None if `<api_url>/health` answers 200 within `timeout`, else what went wrong in a few words."""
    return _check(api_url, timeout)[0]


def _check(api_url: str, timeout: float = HEALTH_TIMEOUT_SECONDS) -> tuple[str | None, bool]:
    """(api_problem's answer, whether nothing answered at all: connection refused or unreachable)."""
    import httpx

    try:
        response = httpx.get(api_url.rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}{': ' + detail if detail else ''}", isinstance(exc, httpx.ConnectError)
    if response.status_code != 200:
        return f"HTTP {response.status_code} from {api_url.rstrip('/')}/health", False
    return None, False


def temporary_server_url() -> str | None:
    """The API URL of the temporary server Prefect started in this process, if one is running."""
    from modelmemo.process.shutdown import temporary_servers

    return next((server.api_url for server in temporary_servers() if server.running), None)


class ApiWatchdog:
    """A daemon thread that calls `on_lost(url, problem)` once the API has failed its health check
    in a row for GIVE_UP_REFUSED_SECONDS while nothing answers at all (connection refused), or for
    GIVE_UP_SECONDS whatever the failure (a slow or hung server: a check that takes up to
    HEALTH_TIMEOUT_SECONDS and answers is not a failure). `url_source` is asked on every poll (the
    temporary server's URL is known only once it has started); None means "nothing to watch yet"."""

    def __init__(self, url_source: Callable[[], str | None], on_lost: Callable[[str, str], None],
                 poll_seconds: float = POLL_SECONDS, give_up_seconds: float = GIVE_UP_SECONDS,
                 known_up: bool = False, give_up_refused_seconds: float = GIVE_UP_REFUSED_SECONDS,
                 health_timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
        """known_up: the API already answered (checked before the run). Otherwise the countdown
        starts only after a first good answer: a temporary server still starting is not lost."""
        self._known_up = known_up
        self._url_source = url_source
        self._on_lost = on_lost
        self._poll = poll_seconds
        self._give_up = give_up_seconds
        self._give_up_refused = min(give_up_refused_seconds, give_up_seconds)
        self._timeout = health_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="modelmemo-api-watchdog", daemon=True)

    def __enter__(self) -> "ApiWatchdog":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()

    def start(self) -> "ApiWatchdog":
        return self.__enter__()

    def stop(self) -> None:
        self._stop.set()

    def until_exit(self, exit_code: int) -> None:
        """The run is over and reported, and the process exits next. Prefect still ships its last
        logs and events to the API at exit, and retries for minutes if the API has just died: keep
        watching, and if it is lost now, end the process quietly with the run's own exit code."""
        def exit_quietly(url: str, problem: str) -> None:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit_code)

        self._on_lost = exit_quietly

    def _watch(self) -> None:
        down_since: float | None = None  # the first failed check of the current run of failures
        refused_since: float | None = None  # ... of the current run of refused connections
        seen_up = self._known_up
        while not self._stop.wait(self._poll):
            url = self._url_source()
            if not url:
                continue
            problem, refused = _check(url, self._timeout)
            if problem is None:
                seen_up, down_since, refused_since = True, None, None
                continue
            if not seen_up:
                continue  # still starting (Prefect itself gives up on a server that never starts)
            now = time.monotonic()
            down_since = now if down_since is None else down_since
            refused_since = (now if refused_since is None else refused_since) if refused else None
            lost = now - down_since >= self._give_up or (
                refused_since is not None and now - refused_since >= self._give_up_refused)
            if lost and not self._stop.is_set():
                self._on_lost(url, problem)
                return
