"""`modelmemo watch`: run the batch whenever requirement files land in the drop folder.

Why it is built this way:
* `watchfiles` (maintained, inotify/FSEvents via Rust, polling fallback with
  WATCHFILES_FORCE_POLLING=1 for network shares) rather than a home-made polling loop;
* names the scan treats as "still being written" (see `discovery.py`) and the `rejected/` folder
  never trigger a run, and deletions alone do not either: there is nothing new to render;
* a burst of events is debounced, then we wait until the changed files have not been modified
  for `settle_seconds`, so a file still being copied is never read half-written;
* events buffered while waiting or running (a second write chunk, say) are dropped when the file
  is exactly as it was handed to `on_change`, so one copy gives one run;
* `on_change` errors are logged and the watcher keeps going: one bad run must not end the service.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from watchfiles import Change, watch

from .discovery import IN_PROGRESS_SUFFIXES, OWN_ENTRIES

log = logging.getLogger(__name__)
RUST_TIMEOUT_MS = 5_000  # the Rust side returns this often, so Ctrl+C and stop_event are seen


def is_watched(input_dir: Path, path: str) -> bool:
    """True for entries directly in the folder that a run would look at (same rules as the scan)."""
    candidate = Path(path)
    if candidate.parent != input_dir:  # rejected/ and anything else below the folder
        return False
    name = candidate.name
    return not (name in OWN_ENTRIES or name.startswith((".", "~")) or name.lower().endswith(IN_PROGRESS_SUFFIXES))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _wait_settled(input_dir: Path, names: list[str], settle_seconds: float, stop: threading.Event) -> bool:
    """Sleep until no named file was modified in the last settle_seconds; False if stopped."""
    while True:
        stamps = [s for s in (_stamp(input_dir / n) for n in names) if s]
        newest = max((mtime_ns / 1e9 for mtime_ns, _ in stamps), default=0.0)
        remaining = settle_seconds - (time.time() - newest)
        if remaining <= 0:
            return True
        if stop.wait(remaining):
            return False


def watch_folder(input_dir: Path, on_change: Callable[[list[str]], None], debounce_seconds: float = 5.0,
                 stop_event: threading.Event | None = None, settle_seconds: float = 5.0) -> None:
    """Call on_change(sorted changed names) once per settled burst of changes, until stop_event is set."""
    input_dir = Path(input_dir).resolve()
    stop = stop_event or threading.Event()
    handed: dict[str, tuple[int, int] | None] = {}  # name -> (mtime_ns, size) last given to on_change
    debounce_ms = max(1, int(debounce_seconds * 1000))
    for changes in watch(input_dir, watch_filter=lambda _change, path: is_watched(input_dir, path),
                         debounce=debounce_ms, step=min(50, debounce_ms), rust_timeout=RUST_TIMEOUT_MS,
                         stop_event=stop, recursive=False):
        names = sorted({Path(path).name for change, path in changes if change != Change.deleted})
        if not names or not _wait_settled(input_dir, names, settle_seconds, stop):
            continue  # deletions only, or stopping (the loop then ends)
        current = {name: _stamp(input_dir / name) for name in names}
        names = [n for n, stamp in current.items() if stamp is not None and handed.get(n) != stamp]
        if not names:
            continue  # already handled (events buffered during the previous wait or run), or gone
        handed.update((n, current[n]) for n in names)
        try:
            on_change(names)
        except Exception:  # keep watching: the next change may well succeed
            log.exception("modelmemo watch: the run for %s failed", ", ".join(names))
