"""`modelmemo watch`: run the batch whenever requirement files land in the drop folder.

Why it is built this way:
* `watchfiles` (maintained, inotify/FSEvents via Rust, polling fallback with
  WATCHFILES_FORCE_POLLING=1 for network shares) rather than a home-made polling loop;
* names the scan treats as "still being written" (see `discovery.py`) and the `rejected/` folder
  never trigger a run, and deletions alone do not either: there is nothing new to render;
* a burst of events is debounced, then each changed file waits on its own until it has settled
  (`_Settling`: not modified for `settle_seconds`, or, for a file dated ahead of the clock, size
  and time unchanged that long), so a file still being copied is never read half-written and one
  file never holds up another;
* events buffered while waiting or running (a second write chunk, say) are dropped when the file
  is exactly as it was handed to `on_change`, so one copy gives one run;
* `on_change` errors are logged and the watcher keeps going: one bad run must not end the service.
  The failed run is retried with backoff (1 min, doubling up to 1 h; the first delay can be set
  with MODELMEMO_WATCH_RETRY_SECONDS, meant for tests) without waiting for another change: a run
  that found the folder locked by the nightly run, or the disk full, must not leave the file that
  triggered it unprocessed until the next night;
* the catch-up run at start (`initial_run`: whatever arrived while nobody was watching) goes
  through the same loop, so it is retried the same way. It starts once the watch is set up, so
  a file that lands during it triggers a run of its own;
* nothing a run writes into the output folder (`output_dir`) triggers a run: not the output
  folder itself when it is inside the drop folder, nor, if it IS the drop folder, the run folders,
  state/ and LATEST (`modelmemo watch` refuses that arrangement outright: see ownership.py);
  otherwise each run's own output would start the next run, for ever.
* a drop folder deleted and made again (or moved away and replaced) is another folder, which the
  watch would never see: that is said in one line, the folder is waited for, watched again, and
  a run of the whole folder catches up. watchfiles ending on a name it cannot decode (not UTF-8)
  is handled the same way, so `watch` never ends but by a stop.
Stopping: `stop_event`, or an exception from a signal handler (KeyboardInterrupt, and
`modelmemo.process.shutdown.Stopped` for SIGTERM) which propagates out of the wait or out of the run.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Callable

from watchfiles import Change, watch
from watchfiles._rust_notify import WatchfilesRustInternalError  # not re-exported by watchfiles

from modelmemo.inputs.discovery import IN_PROGRESS_SUFFIXES, OWN_ENTRIES
from modelmemo.inputs.names import display_name
from modelmemo.settings import WATCH_RETRY_MAX_SECONDS, Settings
from modelmemo.batch.ownership import is_output_entry, real_path

log = logging.getLogger(__name__)
# The Rust side returns this often when nothing happens, so the catch-up run, stop_event and retries
# are seen (signals are seen every `step`, 50 ms).
RUST_TIMEOUT_MS = 1_000
RETRY_FIRST_SECONDS = Settings.watch_retry_seconds  # the default; MODELMEMO_WATCH_RETRY_SECONDS sets it
RETRY_MAX_SECONDS = WATCH_RETRY_MAX_SECONDS
FOLDER_POLL_SECONDS = 0.5  # how often a deleted drop folder is looked for


def is_watched(input_dir: Path, path: str, output_dir: Path | None = None) -> bool:
    """True for entries directly in the folder that a run would look at (same rules as the scan),
    but not what runs write to `output_dir` (resolved, like input_dir)."""
    candidate = Path(path)
    if candidate.parent != input_dir:  # rejected/ and anything else below the folder
        return False
    if output_dir is not None:
        if candidate == output_dir or candidate in output_dir.parents:  # the output folder is in here
            return False
        if output_dir == input_dir and is_output_entry(candidate.name):
            return False
    name = candidate.name
    return not (name in OWN_ENTRIES or name.startswith((".", "~")) or name.lower().endswith(IN_PROGRESS_SUFFIXES))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _folder_identity(folder: Path) -> tuple[int, int] | None:
    """Which folder is at this path (device, inode), or None when there is none: a folder deleted
    and made again, or moved away and replaced, is another folder, one the watcher does not see."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


class _Settling:
    """Changed files waiting to settle, each on its own clock, so one file never holds up another.

    A file is settled when its modification time is settle_seconds in the past (a copy in progress
    keeps it recent). A file whose time is ahead of this machine's clock (`cp -p` from a machine
    whose clock is ahead, a skewed file server) would not be "settle_seconds old" until the clock
    catches up, possibly years later: it is settled once its size and time have stayed the same
    for settle_seconds, as this watcher saw them (time.monotonic, which no clock change moves).

    Files of one burst (a folder copied in) are handed over together, in one run rather than one
    run per file: a settled file waits for the others still being written, but at most another
    settle_seconds, so a file written without end delays no other file for long. A file dated
    ahead of the clock never holds up another."""

    def __init__(self, folder: Path, settle_seconds: float) -> None:
        self.folder = folder
        self.settle_seconds = settle_seconds
        # name -> (stamp, unchanged since, settled since or None), times from time.monotonic
        self.pending: dict[str, tuple[tuple[int, int], float, float | None] | None] = {}

    def add(self, names: set[str]) -> None:
        for name in names:
            self.pending.setdefault(name, None)

    def settled(self) -> dict[str, tuple[int, int]]:
        """The files to hand over now (name -> stamp), no longer pending; files gone are dropped."""
        steady = time.monotonic()
        writing = False  # a file not dated ahead is still being written
        for name, seen in list(self.pending.items()):
            stamp = _stamp(self.folder / name)
            if stamp is None:
                del self.pending[name]
                continue
            wall = time.time()  # read after the stat: a file written meanwhile is not "ahead"
            if seen is None or seen[0] != stamp:
                seen = (stamp, steady, None)
            mtime = stamp[0] / 1e9
            ahead = mtime > wall
            age = steady - seen[1] if ahead else wall - mtime
            if age >= self.settle_seconds:
                seen = (stamp, seen[1], seen[2] if seen[2] is not None else steady)
            else:
                writing = writing or not ahead
            self.pending[name] = seen
        ready = {name: seen for name, seen in self.pending.items() if seen and seen[2] is not None}
        if not ready or (writing and steady - min(seen[2] for seen in ready.values()) < self.settle_seconds):
            return {}
        for name in ready:
            del self.pending[name]
        return {name: seen[0] for name, seen in ready.items()}


def watch_folder(input_dir: Path, on_change: Callable[[list[str]], None], debounce_seconds: float = 5.0,
                 stop_event: threading.Event | None = None, settle_seconds: float = 5.0,
                 retry_seconds: float = RETRY_FIRST_SECONDS, initial_run: bool = False,
                 output_dir: Path | str | None = None, report: Callable[[str], None] | None = None) -> None:
    """Call on_change(sorted changed names) once per settled burst of changes, until stop_event is set.
    With initial_run, first call on_change([]) (a run of whatever is already there) once watching.
    When on_change raises, call it again for the same names after retry_seconds, then twice as long
    each time (at most RETRY_MAX_SECONDS), until a run succeeds. What runs write to output_dir
    never calls it. A drop folder deleted (or replaced) is waited for and watched again, with a
    run of the whole folder (files may have landed before the watch was set up again).
    `report(line)` says what went wrong and what the watcher does about it, one line each (the
    command prints them; the default logs them as warnings)."""
    say = report or _log_line
    input_dir = real_path(input_dir)
    output = real_path(output_dir) if output_dir is not None else None
    stop = stop_event or threading.Event()
    settling = _Settling(input_dir, settle_seconds)
    handed: dict[str, tuple[int, int] | None] = {}  # name -> (mtime_ns, size) last given to on_change
    failed: set[str] = set()  # names of the last failed run, waiting for their retry
    catch_up = initial_run  # a run of the whole folder is owed: the one at start, or its retry
    retry_delay = retry_seconds
    retry_due = float("-inf") if initial_run else float("inf")
    debounce_ms = max(1, int(debounce_seconds * 1000))
    # Woken at least this often, so retries, stop_event, files settling and a vanished folder are seen;
    # a short settle time is checked more often, so a file is not kept much past it.
    rust_timeout_ms = max(1, int(min(RUST_TIMEOUT_MS, retry_seconds * 1000, settle_seconds * 500 or RUST_TIMEOUT_MS)))
    while not stop.is_set():
        identity = _wait_for_folder(input_dir, stop, say)
        if identity is None:
            return  # stopped while waiting
        try:
            for changes in watch(input_dir, watch_filter=lambda _change, path: is_watched(input_dir, path, output),
                                 debounce=debounce_ms, step=min(50, debounce_ms), rust_timeout=rust_timeout_ms,
                                 yield_on_timeout=True, stop_event=stop, recursive=False):
                if _folder_identity(input_dir) != identity:
                    say(f"modelmemo watch: the drop folder {display_name(str(input_dir))} was deleted or replaced; "
                        "watching it again once it exists, with a run of whatever it holds then")
                    break
                settling.add({Path(path).name for change, path in changes if change != Change.deleted})
                current = settling.settled()
                names = sorted(n for n, stamp in current.items() if handed.get(n) != stamp)
                if names:  # (a name handed as it is now: events buffered during the previous run)
                    handed.update((n, current[n]) for n in names)
                elif (failed or catch_up) and time.monotonic() >= retry_due:
                    names = sorted(n for n in failed if _stamp(input_dir / n) is not None)
                    failed.clear()
                    if not names and not catch_up:
                        continue  # the files that failed are gone: nothing left to retry
                    if retry_due != float("-inf"):  # a retry (not the first attempt of the catch-up run)
                        say(f"modelmemo watch: retrying the run for {_describe(names)}")
                else:
                    continue  # deletions only, files still settling, or a quiet interval
                try:
                    on_change(names)
                except Exception as exc:  # keep watching: the retry or the next change may well succeed
                    failed.update(names)
                    retry_due = time.monotonic() + retry_delay
                    say(f"modelmemo watch: the run for {_describe(names)} failed ({exc or type(exc).__name__}); "
                        f"retrying in {retry_delay:.0f} s")
                    log.debug("the failed run", exc_info=True)
                    retry_delay = min(retry_delay * 2, RETRY_MAX_SECONDS)
                else:  # a run covers the whole folder, so earlier failed files (and the catch-up) were processed too
                    failed.clear()
                    catch_up = False
                    retry_delay, retry_due = retry_seconds, float("inf")
            else:
                return  # the watch ended: stop_event is set
        except WatchfilesRustInternalError as exc:
            # watchfiles gives up on a whole batch of changes when one name is not UTF-8 ("Unable to
            # decode path"), and its watch ends. The names are lost, so the whole folder is run (the
            # run rejects such a file, naming it) and watched again.
            say(f"modelmemo watch: a change in {display_name(str(input_dir))} could not be read "
                f"({display_name(str(exc))}); watching again, with a run of the whole folder")
        except FileNotFoundError:
            pass  # the folder went between the look for it and the start of the watch: look again
        catch_up, retry_due = True, float("-inf")  # watching again: whatever landed meanwhile is caught up


def _log_line(line: str) -> None:
    log.warning("%s", line)


def _wait_for_folder(folder: Path, stop: threading.Event, say: Callable[[str], None]) -> tuple[int, int] | None:
    """The folder's identity once it exists (at once, normally), or None when stopped first."""
    identity = _folder_identity(folder)
    while identity is None:
        if stop.wait(FOLDER_POLL_SECONDS):
            return None
        identity = _folder_identity(folder)
        if identity is not None:
            say(f"modelmemo watch: the drop folder {display_name(str(folder))} is back; watching it again")
    return identity


def _describe(names: list[str]) -> str:
    return ", ".join(names) if names else "the files already in the folder"
