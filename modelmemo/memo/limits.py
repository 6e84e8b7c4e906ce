"""Time and memory bounds for rendering one memo, so a pathological document cannot hang or
exhaust the batch. The schema already caps sizes (8 tasks, 2,000-character summary, ...); these
bounds are the second line of defence.
"""

from __future__ import annotations

import resource
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

# Defined in the settings table; used here and by callers.
from modelmemo.settings import RENDER_SECONDS, WORKER_MEMORY_BYTES  # noqa: F401


class RenderTimeout(Exception):
    """Rendering one memo took longer than its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise RenderTimeout after `seconds` of wall time. Signals only work in the main thread; in
    another thread (never the case for render workers) the block runs unbounded."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise RenderTimeout(f"rendering took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def limit_worker_memory(limit_bytes: int = WORKER_MEMORY_BYTES) -> None:
    """Process-pool initializer: cap the worker's address space so a runaway render fails with
    MemoryError in that worker instead of pushing the machine into swap or the OOM killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))
