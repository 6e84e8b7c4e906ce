"""What is in the drop folder, and what becomes of each entry.

Rules (README "Drop folder"):
* inputs are regular files ending in .yaml, .yml or .json directly inside the folder;
* names starting with "." or "~", or ending in .part/.tmp/.crdownload/.swp/.partial, are files still
  being written: reported as "in progress" and picked up by a later run;
* files modified less than `settle_seconds` ago are also treated as still being copied;
* symlinks are never followed (reported), directories and other extensions are reported,
  so nothing in the folder is silently ignored;
* the `rejected/` sub-folder and README files are modelmemo's own and not reported.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .settings import INPUT_SUFFIXES

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".swp", ".partial")
OWN_ENTRIES = {"README.md", "README.txt", "rejected"}


@dataclass(frozen=True)
class Entry:
    name: str
    path: Path
    kind: str  # "input" | "in-progress" | "ignored"
    reason: str = ""


def scan_drop_folder(folder: Path, settle_seconds: float = 0.0, now: float | None = None) -> list[Entry]:
    """Classify every entry of the folder, sorted by name (so runs are deterministic)."""
    now = time.time() if now is None else now
    entries: list[Entry] = []
    with os.scandir(folder) as listing:
        names = sorted(listing, key=lambda e: e.name)
    for item in names:
        name = item.name
        path = Path(item.path)
        if name in OWN_ENTRIES:
            continue
        if name.startswith((".", "~")) or name.lower().endswith(IN_PROGRESS_SUFFIXES):
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
                                 f"extension '{path.suffix or '(none)'}' is not one of {', '.join(INPUT_SUFFIXES)}"))
            continue
        if settle_seconds and now - info.st_mtime < settle_seconds:
            entries.append(Entry(name, path, "in-progress",
                                 f"modified less than {settle_seconds:g} s ago: may still be copying"))
            continue
        entries.append(Entry(name, path, "input"))
    return entries
