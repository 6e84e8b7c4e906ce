"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Temporary files carry modelmemo's own marker (TEMP_SUFFIX), so the clean-up after a crash can
tell them from a user's `.notes.tmp` and never deletes anything it did not write.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from modelmemo.batch.failpoints import failpoint


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; outputs get the usual permissions instead.
FILE_MODE = 0o666 & ~_current_umask()

TEMP_SUFFIX = ".modelmemo-tmp"


def atomic_write_bytes(path: Path, data: bytes, sync_folder: bool = False) -> None:
    """Write to a temporary file in the same folder, fsync it, then rename it over `path`.

    sync_folder: also fsync the folder after the rename, so that the rename itself survives a
    power loss (the send ledger's write-ahead must be on disk before a send starts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        failpoint(f"before-rename {path.name}")
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if sync_folder:
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # a file system that cannot sync a folder (some network ones)
            raise
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str, sync_folder: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), sync_folder)


def remove_stale_temp_files(folder: Path, recursive: bool = False) -> int:
    """Delete temporary files a killed run left behind: only names with modelmemo's marker (call
    only while holding the run lock, when no other writer can be mid-write)."""
    if not folder.is_dir():
        return 0
    removed = 0
    pattern = ".*" + TEMP_SUFFIX
    for tmp in (folder.rglob(pattern) if recursive else folder.glob(pattern)):
        if tmp.is_file() and not tmp.is_symlink():
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed
