"""Retention: delete old run folders, never one that holds a current memo.

Every run writes a folder `output/<run id>/`, so a nightly schedule adds one a day forever. A run
folder can still matter after newer runs exist: an unchanged memo is skipped, not re-rendered, so
`state/memos.json` keeps pointing at the run that rendered it, and `LATEST` names the newest
complete run. Pruning keeps those, keeps the newest `keep` runs, and deletes the rest.

Only folders named like the run ids modelmemo makes are candidates: anything else a person put in
the output folder is left alone. Call while holding the batch lock, so no run is writing.

A run folder is deleted under a hidden name (`.pruning-<run id>-<token>`), so a prune killed
mid-delete leaves nothing that looks like a run. Those names are recorded in `state/pruning.json`
before the first rename, and a later prune deletes a leftover only when that record names it: a
name alone proves nothing (a person's `.pruning-notes`, or anything else, is never deleted).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from modelmemo.batch.atomic import atomic_write_text
from modelmemo.batch.failpoints import failpoint
from modelmemo.batch.layout import latest_file, pruning_file
from modelmemo.batch.state import MemoState

RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")  # see pipeline.new_run_id
TRASH_PREFIX = ".pruning-"
# A run folder being deleted: the prefix, its run id and a random token of the prune that renamed it
# (the token keeps the rename from landing on anything already there).
TRASH_PATTERN = re.compile(r"^\.pruning-\d{8}T\d{6}Z-[0-9a-f]{4}-[0-9a-f]{8}$")


def is_run_folder(path: Path) -> bool:
    """A folder named like a run id: the only kind of folder in the output folder modelmemo owns
    (besides state/), so the only kind it may clean up or delete."""
    return RUN_ID_PATTERN.match(path.name) is not None and path.is_dir() and not path.is_symlink()


@dataclass(frozen=True)
class PruneReport:
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    # kept only because a current memo (or LATEST) still lives there
    kept_for_memos: tuple[str, ...]


def plan_prune(output_dir: Path, keep: int) -> PruneReport:
    """Which run folders pruning to the newest `keep` runs would remove (nothing is touched)."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest run is always kept")
    folders = [p for p in output_dir.iterdir() if is_run_folder(p)] if output_dir.is_dir() else []
    # Newest first: run ids start with their UTC second; two runs in one second are told apart by age.
    runs = [p.name for p in sorted(folders, key=lambda p: (p.name[:16], p.stat().st_mtime_ns), reverse=True)]
    newest = set(runs[:keep])
    still_used = {entry.get("run_id") for entry in MemoState.load(output_dir).entries.values()}
    latest = latest_file(output_dir)
    if latest.is_file():
        still_used.add(latest.read_text(encoding="utf-8").strip())
    kept_for_memos = tuple(r for r in runs if r not in newest and r in still_used)
    removed = tuple(r for r in runs if r not in newest and r not in still_used)
    return PruneReport(removed=removed, kept=tuple(r for r in runs if r not in removed),
                       kept_for_memos=kept_for_memos)


def prune_runs(output_dir: Path, keep: int, dry_run: bool = False) -> PruneReport:
    """Delete the run folders `plan_prune` lists, and what an earlier prune killed midway left.

    Each folder is recorded (state/pruning.json), then renamed to its hidden name (atomic), then
    deleted; the record goes last. Killed at any point, the next prune finds every leftover in the
    record: recorded but never renamed is a name with nothing behind it, renamed is a hidden folder
    it finishes deleting, and a run folder not yet renamed is still a run folder it plans again."""
    report = plan_prune(output_dir, keep)
    if dry_run:
        return report
    record = pruning_file(output_dir)
    for name in recorded_trash(record):
        trash = output_dir / name
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash)
    trash_names = free_trash_names(output_dir, report.removed)
    if trash_names:
        atomic_write_text(record, json.dumps({"trash": sorted(trash_names.values())}, indent=1) + "\n")
    for name, trash_name in trash_names.items():
        trash = output_dir / trash_name
        (output_dir / name).rename(trash)
        failpoint("prune-before-delete")
        shutil.rmtree(trash)
    record.unlink(missing_ok=True)
    return report


def free_trash_names(output_dir: Path, runs: tuple[str, ...]) -> dict[str, str]:
    """Run id -> its hidden name, none of them taken: a rename onto an empty folder would replace
    it, and a recorded name that was someone else's would be deleted by the next prune."""
    while True:
        token = secrets.token_hex(4)
        names = {run: f"{TRASH_PREFIX}{run}-{token}" for run in runs}
        if not any(os.path.lexists(output_dir / name) for name in names.values()):
            return names


def recorded_trash(record: Path) -> list[str]:
    """The hidden folders an earlier prune recorded and may have left (only names it makes)."""
    try:
        names = json.loads(record.read_text(encoding="utf-8")).get("trash", [])
    except (OSError, ValueError, AttributeError):
        return []  # no record (the usual case), or not one this code wrote: nothing to finish
    return [name for name in names if isinstance(name, str) and TRASH_PATTERN.match(name)]
