"""What is in the drop folder, and what becomes of each entry.

Rules (README "Drop folder"):
* inputs are regular files ending in .yaml, .yml or .json directly inside the folder;
* names starting with "." or "~", or ending in .part/.tmp/.crdownload/.swp/.partial, are files still
  being written: reported as "in progress" and picked up by a later run;
* files modified less than `settle_seconds` ago are also treated as still being copied;
* a file whose modification time is ahead of this machine's clock (`cp -p`, `rsync -t` or `tar x`
  from a machine whose clock is ahead, or a file server's skewed clock) can never be "settle_seconds
  old" until the clock catches up, possibly in years. Its age says nothing, so it is settled by
  being watched instead: `scan_settled` looks at it twice, settle_seconds apart (one wait, only when
  such a file is there), and reads it when its size and time did not change, with a note (not a
  "not processed" notice) saying its time is ahead and how to fix it. One that changed meanwhile
  is still being copied: a later run takes it. It never holds up any other file;
* symlinks are never followed (reported), directories and other extensions are reported,
  so nothing in the folder is silently ignored;
* the `rejected/` sub-folder and README files are modelmemo's own and not reported.

Names (see names.py): every Entry's `name` is the escaped display name, the only form that is ever
reported; `path` is the real path, the only form that is ever opened.
* a requirement file (.yaml, .yml, .json) whose name is not valid UTF-8 (say Latin-1
  "r\\xe9sum\\xe9.yaml") is not read: it is "rejected", naming the file and the fix (rename it), and
  counts as a rejection in the run's result and exit code. Its memo would have to record a name
  that cannot be written as text, guessing the intended name (Latin-1? Windows-1252?) could
  name the wrong project, and a rename is all it takes to fix it. Any other entry with such a
  name follows the rules above (a .txt is "ignored", a ".x\\xe9.yaml" is "in-progress").
* a valid UTF-8 name that contains control or bidi characters (ESC, U+202E...) IS processed: the
  name is the sender's, the content may be fine, and once escaped the name is harmless in the
  console, the index, summary.json and the memo. Refusing it would only add a round trip.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping

from modelmemo.inputs.names import display_name, is_valid_utf8_name
from modelmemo.settings import INPUT_SUFFIXES

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".swp", ".partial")
OWN_ENTRIES = {"README.md", "README.txt", "rejected"}
NOT_UTF8_NAME = ("the file name is not valid UTF-8 (shown here with \\xNN for the bytes that are not; it was "
                 "probably written in Latin-1 or Windows-1252), so the file is not read; rename it, e.g. "
                 "with only a-z, 0-9 and '-' in its name")


Stamp = tuple[int, int]  # (st_mtime_ns, st_size): what a copy in progress changes


@dataclass(frozen=True)
class Entry:
    name: str  # escaped display name (names.display_name): for reports only
    path: Path  # the real path: for reading only
    # "input" | "in-progress" | "ignored" | "rejected" (a name that is not UTF-8: never read) |
    # "ahead" (its time is ahead of the clock and it was seen once: `scan_settled` looks again)
    kind: str
    reason: str = ""
    note: str = ""  # for an input, what its sender should know (its time is ahead of the clock)
    stamp: Stamp | None = None  # of a regular file with an input's extension, as scanned


def scan_drop_folder(folder: Path, settle_seconds: float = 0.0, now: float | None = None,
                     earlier: Mapping[Path, Stamp] | None = None) -> list[Entry]:
    """Classify every entry of the folder, sorted by name (so runs are deterministic).

    `earlier`: stamps of files ahead of the clock seen settle_seconds ago (`scan_settled`); such a
    file still the same is an input, one that changed is in progress, one not seen then is "ahead".
    """
    fixed_now = now
    entries: list[Entry] = []
    with os.scandir(folder) as listing:
        names = sorted(listing, key=lambda e: e.name)
    for item in names:
        raw = item.name
        name = display_name(raw)
        path = Path(item.path)
        if raw in OWN_ENTRIES:
            continue
        if raw.startswith((".", "~")) or raw.lower().endswith(IN_PROGRESS_SUFFIXES):
            entries.append(Entry(name, path, "in-progress", "temporary or hidden name: still being written"))
            continue
        try:
            info = os.lstat(path)
        except OSError as exc:
            entries.append(Entry(name, path, "ignored", f"cannot be read: {exc.strerror}"))
            continue
        if stat.S_ISLNK(info.st_mode):
            entries.append(Entry(name, path, "ignored", "symbolic link: not followed; copy the file in instead"))
            continue
        if stat.S_ISDIR(info.st_mode):
            entries.append(Entry(name, path, "ignored", "a folder: only files directly in the drop folder are read"))
            continue
        if not stat.S_ISREG(info.st_mode):
            entries.append(Entry(name, path, "ignored", "not a regular file"))
            continue
        if path.suffix.lower() not in INPUT_SUFFIXES:
            entries.append(Entry(name, path, "ignored",
                                 f"extension '{display_name(path.suffix) or '(none)'}' is not one of "
                                 f"{', '.join(INPUT_SUFFIXES)}"))
            continue
        if not is_valid_utf8_name(raw):
            entries.append(Entry(name, path, "rejected", NOT_UTF8_NAME))
            continue
        stamp = (info.st_mtime_ns, info.st_size)
        # the clock read after the file's stat: a file written while the scan runs is not "ahead"
        now = time.time() if fixed_now is None else fixed_now
        if settle_seconds and info.st_mtime > now:
            entries.append(_ahead(name, path, stamp, info.st_mtime - now, settle_seconds, (earlier or {}).get(path)))
            continue
        if settle_seconds and now - info.st_mtime < settle_seconds:
            entries.append(Entry(name, path, "in-progress",
                                 f"modified less than {settle_seconds:g} s ago: may still be copying", stamp=stamp))
            continue
        entries.append(Entry(name, path, "input", stamp=stamp))
    return entries


def _ahead(name: str, path: Path, stamp: Stamp, ahead: float, settle_seconds: float, seen: Stamp | None) -> Entry:
    """A file whose time is `ahead` seconds ahead of the clock, seen before as `seen` (or not)."""
    time_ahead = f"its modification time is {time_span(ahead)} ahead of this machine's clock (clock skew?)"
    if seen is None:
        return Entry(name, path, "ahead", f"{time_ahead}; it is read once its size and time stay unchanged "
                                          f"for {settle_seconds:g} s", stamp=stamp)
    if seen != stamp:
        return Entry(name, path, "in-progress", f"{time_ahead}, and it changed in the last {settle_seconds:g} s: "
                                                "may still be copying", stamp=stamp)
    return Entry(name, path, "input", note=f"{time_ahead}; processed once its size and time stayed unchanged for "
                                           f"{settle_seconds:g} s (`touch` the file to set its time to now, or "
                                           "fix the clock of the machine it came from)", stamp=stamp)


def scan_settled(folder: Path, settle_seconds: float = 0.0,
                 wait: Callable[[float], object] = time.sleep) -> list[Entry]:
    """`scan_drop_folder` for a run: a file whose time is ahead of the clock is looked at again after
    `wait(settle_seconds)` (only when there is such a file) and read if its size and time did not
    change meanwhile. A run is one look at the folder, so it cannot wait for the clock; one wait of
    the settle time is what `watch` gives every file. Nothing is left "ahead": a file that
    appeared during the wait is taken by a later run."""
    entries = scan_drop_folder(folder, settle_seconds)
    seen = {entry.path: entry.stamp for entry in entries if entry.kind == "ahead" and entry.stamp}
    if not seen:
        return entries
    wait(settle_seconds)
    entries = scan_drop_folder(folder, settle_seconds, earlier=seen)
    return [replace(entry, kind="in-progress") if entry.kind == "ahead" else entry for entry in entries]


def time_span(seconds: float) -> str:
    """A duration in words a person reads at a glance: "40 s", "12 min", "3 h", "9 days", "10 years"."""
    for unit, size, limit in (("s", 1, 120), ("min", 60, 7200), ("h", 3600, 48 * 3600), ("days", 86400, 730 * 86400)):
        if seconds < limit:
            return f"{max(1, round(seconds / size))} {unit}"
    return f"{round(seconds / (365.25 * 86400))} years"
