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

HEALTH_TIMEOUT_SECONDS = 3.0
POLL_SECONDS = 2.0
# Down for this long in a row means gone (a restart of a busy server takes less). With the poll
# and the request timeout, a dead API ends the command in about 15 s.
GIVE_UP_SECONDS = 10.0


def api_problem(api_url: str, timeout: float = HEALTH_TIMEOUT_SECONDS) -> str | None:
    """None if `<api_url>/health` answers 200 within `timeout`, else what went wrong in a few words."""
    import httpx

    try:
        response = httpx.get(api_url.rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}{': ' + detail if detail else ''}"
    if response.status_code != 200:
        return f"HTTP {response.status_code} from {api_url.rstrip('/')}/health"
    return None


def temporary_server_url() -> str | None:
    """The API URL of the temporary server Prefect started in this process, if one is running."""
    from modelmemo.process.shutdown import temporary_servers

    return next((server.api_url for server in temporary_servers() if server.running), None)


class ApiWatchdog:
    """A daemon thread that calls `on_lost(url, problem)` once the API has failed its health check
    for GIVE_UP_SECONDS in a row. `url_source` is asked on every poll (the temporary server's URL
    is known only once it has started); None means "nothing to watch yet"."""

    def __init__(self, url_source: Callable[[], str | None], on_lost: Callable[[str, str], None],
                 poll_seconds: float = POLL_SECONDS, give_up_seconds: float = GIVE_UP_SECONDS,
                 known_up: bool = False) -> None:
        """known_up: the API already answered (checked before the run). Otherwise the countdown
        starts only after a first good answer: a temporary server still starting is not lost."""
        self._known_up = known_up
        self._url_source = url_source
        self._on_lost = on_lost
        self._poll = poll_seconds
        self._give_up = give_up_seconds
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
        down_since: float | None = None
        seen_up = self._known_up
        while not self._stop.wait(self._poll):
            url = self._url_source()
            if not url:
                continue
            problem = api_problem(url)
            if problem is None:
                seen_up, down_since = True, None
                continue
            if not seen_up:
                continue  # still starting (Prefect itself gives up on a server that never starts)
            now = time.monotonic()
            down_since = now if down_since is None else down_since
            if now - down_since >= self._give_up and not self._stop.is_set():
                self._on_lost(url, problem)
                return
