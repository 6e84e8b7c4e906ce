"""What is in the drop folder, and what becomes of each entry.

Rules (README "Drop folder"):
* inputs are regular files ending in .yaml, .yml or .json directly inside the folder;
* names starting with "." or "~", or ending in .part/.tmp/.crdownload/.swp/.partial, are files still
  being written: reported as "in progress" and picked up by a later run;
* files modified less than `settle_seconds` ago are also treated as still being copied;
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
from dataclasses import dataclass
from pathlib import Path

from modelmemo.inputs.names import display_name, is_valid_utf8_name
from modelmemo.settings import INPUT_SUFFIXES

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".swp", ".partial")
OWN_ENTRIES = {"README.md", "README.txt", "rejected"}
NOT_UTF8_NAME = ("the file name is not valid UTF-8 (shown here with \\xNN for the bytes that are not; it was "
                 "probably written in Latin-1 or Windows-1252), so the file is not read; rename it, e.g. "
                 "with only a-z, 0-9 and '-' in its name")


@dataclass(frozen=True)
class Entry:
    name: str  # escaped display name (names.display_name): for reports only
    path: Path  # the real path: for reading only
    kind: str  # "input" | "in-progress" | "ignored" | "rejected" (a name that is not UTF-8: never read)
    reason: str = ""


def scan_drop_folder(folder: Path, settle_seconds: float = 0.0, now: float | None = None) -> list[Entry]:
    """Classify every entry of the folder, sorted by name (so runs are deterministic)."""
    now = time.time() if now is None else now
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
        if settle_seconds and now - info.st_mtime < settle_seconds:
            entries.append(Entry(name, path, "in-progress",
                                 f"modified less than {settle_seconds:g} s ago: may still be copying"))
            continue
        entries.append(Entry(name, path, "input"))
    return entries
