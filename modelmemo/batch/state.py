"""What earlier runs produced, so a nightly run only renders what is new or changed.

`output/state/memos.json` maps each project id to the input hash and the rendering fingerprint
(catalog + templates + memo format) of its latest memo. A project whose input and fingerprint
are unchanged, and whose memo files still exist, is skipped; `--force` renders everything.
The lock file in the same folder keeps two runs from working on the same output at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from modelmemo import __version__
from modelmemo.batch.atomic import atomic_write_text
from modelmemo.batch.layout import lock_file, memo_file, memo_state_file, run_dir as run_folder, state_dir


class StateError(Exception):
    """The state file is unreadable; the run stops rather than re-send or lose track of memos."""


class BatchLocked(Exception):
    """Another run holds the lock on this output folder."""


def render_fingerprint(catalog_sha256: str, templates_sha256: str, memo_version: int) -> str:
    """Changes whenever anything but the input could change a memo."""
    text = f"{catalog_sha256}|{templates_sha256}|memo-v{memo_version}|modelmemo-{__version__}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class MemoState:
    path: Path
    entries: dict[str, dict[str, Any]]
    input_rules: str = ""  # what this run validates inputs under (unchanged.input_rules_fingerprint)

    @classmethod
    def load(cls, output_dir: Path) -> "MemoState":
        path = memo_state_file(output_dir)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            entries = {}
        except (OSError, ValueError) as exc:
            raise StateError(f"{path} is unreadable ({exc}); fix or remove it (memos re-render, "
                             "emails stay deduplicated by the delivery ledger)") from None
        if not isinstance(entries, dict):
            raise StateError(f"{path} does not contain a mapping")
        return cls(path, entries)

    def unchanged(self, project_id: str, input_sha256: str, fingerprint: str, output_dir: Path) -> dict | None:
        """The previous entry if the memo can be reused as it is, else None."""
        entry = self.entries.get(project_id)
        if not entry or entry.get("input_sha256") != input_sha256 or entry.get("fingerprint") != fingerprint:
            return None
        folder = run_folder(output_dir, entry["run_id"])
        if not all(memo_file(folder, project_id, kind).is_file() for kind in ("json", "pdf", "html")):
            return None
        return entry

    def record(self, project_id: str, **entry: Any) -> None:
        self.entries[project_id] = entry

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.entries, indent=2, sort_keys=True) + "\n")


def locked_message(output_dir: Path, holder: str) -> str:
    return f"another modelmemo run is using {output_dir} ({holder}); try again when it ends"


def lock_holder(output_dir: Path) -> str | None:
    """Who holds the output folder's lock right now (None if nobody), without creating anything:
    a quick early check; the run still takes the lock for real with `batch_lock`."""
    path = lock_file(output_dir)
    try:
        handle = open(path, "r", encoding="utf-8")
    except OSError:
        return None  # no lock file yet (or unreadable: the run itself reports that)
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        return None


@contextmanager
def batch_lock(output_dir: Path) -> Iterator[None]:
    """Exclusive, non-blocking lock on the output folder for the duration of a run."""
    state_dir(output_dir).mkdir(parents=True, exist_ok=True)
    path = lock_file(output_dir)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BatchLocked(locked_message(output_dir, holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now(timezone.utc).isoformat(timespec='seconds')}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
