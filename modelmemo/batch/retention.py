"""Retention: delete old run folders, never one that holds a current memo.

Every run writes a folder `output/<run id>/`, so a nightly schedule adds one a day forever. A run
folder can still matter after newer runs exist: an unchanged memo is skipped, not re-rendered, so
`state/memos.json` keeps pointing at the run that rendered it, and `LATEST` names the newest
complete run. Pruning keeps those, keeps the newest `keep` runs, and deletes the rest.

Only folders named like the run ids modelmemo makes are candidates: anything else a person put in
the output folder is left alone. Call while holding the batch lock, so no run is writing.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from modelmemo.batch.layout import latest_file
from modelmemo.batch.state import MemoState

RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")  # see pipeline.new_run_id
TRASH_PREFIX = ".pruning-"


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
    """Delete the run folders `plan_prune` lists. Each one is first renamed to a hidden name
    (atomic), so a crash mid-delete leaves no half-deleted run that looks like a real one; such
    leftovers are deleted by the next prune."""
    report = plan_prune(output_dir, keep)
    if dry_run:
        return report
    for leftover in output_dir.glob(TRASH_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for name in report.removed:
        trash = output_dir / (TRASH_PREFIX + name)
        (output_dir / name).rename(trash)
        shutil.rmtree(trash)
    return report
