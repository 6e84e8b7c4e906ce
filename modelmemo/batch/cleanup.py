"""What a killed run or a dead render worker left in the output folder, and only that.

A memo is complete when its JSON (written last) exists. Two things can leave the parts of one
that is not (its PDF and HTML, a `.modelmemo-tmp` file):

* the whole run killed (SIGKILL, power loss): its run folder never gets a summary.json, and the
  next run removes those parts (`clean_up_after_crash`);
* one render worker killed (kill -9, the memory limit, the OOM killer) while the run goes on: the
  project fails, and its parts are removed before the run is declared finished, i.e. before its
  summary.json is written (`remove_failed_parts`). Run folders finished by an earlier version,
  which did not do that, are tidied by the next run (`tidy_finished_run`).

Everything removed here is provably modelmemo's: a temporary file by its marker, a memo part by
its folder (named like a run id), its name (a project id) and the missing JSON, plus, in a
finished run, that run's own summary listing the project as failed. Call with the run lock held.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

from modelmemo.batch import layout
from modelmemo.batch.atomic import TEMP_SUFFIX, remove_stale_temp_files
from modelmemo.batch.retention import is_run_folder
from modelmemo.batch.work_unit import ProjectOutcome, remove_incomplete_memo

# The schema's project id pattern, and the ids it reserves because they name the run's own files
# (index.html, summary.json): a memo can never overwrite them.
PROJECT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
RESERVED_PROJECT_IDS = frozenset({"index", "summary"})
PART_SUFFIXES = (".pdf", ".html")  # written before the JSON


def is_memo_id(stem: str) -> bool:
    return PROJECT_ID_PATTERN.match(stem) is not None and stem not in RESERVED_PROJECT_IDS


def clean_up_after_crash(output_dir: Path) -> None:
    """Temporary files and incomplete memos left by a killed run or a dead render worker.

    Touches only what modelmemo writes: its marked temporary files at the top and in state/, run
    folders (named like run ids) without a summary.json (a run that never finished), and the failed
    memos' parts in finished ones (`tidy_finished_run`). Anything else in the output folder,
    whatever its name, is left alone. A finished folder costs one listing of its top level; its
    summary.json is read only when that listing shows a PDF or HTML without its JSON.
    """
    if not output_dir.is_dir():
        return
    remove_stale_temp_files(output_dir, recursive=False)
    remove_stale_temp_files(layout.state_dir(output_dir), recursive=False)
    for run_dir in output_dir.iterdir():
        if not is_run_folder(run_dir):
            continue
        if layout.summary_file(run_dir).exists():
            tidy_finished_run(run_dir)
            continue
        remove_stale_temp_files(run_dir, recursive=True)
        for part in list(run_dir.glob("*.pdf")) + list(run_dir.glob("*.html")):
            if is_memo_id(part.stem):
                remove_incomplete_memo(run_dir, part.stem)
        try:
            run_dir.rmdir()  # nothing left (a run stopped before its first memo): no empty folder to puzzle over
        except OSError:
            pass  # complete memos (or anything else) are kept


def remove_failed_parts(run_dir: Path, outcomes: Iterable[ProjectOutcome]) -> None:
    """Before the run is declared finished: the parts of each memo that failed (a render worker
    killed between writing the PDF and the JSON leaves them, and its temporary file), so a finished
    run folder holds complete memos only. Call once rendering is over, when no worker is left
    that could still write into `run_dir`."""
    for outcome in outcomes:
        if outcome.status == "failed":
            remove_incomplete_memo(run_dir, outcome.project_id)
    remove_stale_temp_files(run_dir, recursive=False)


def tidy_finished_run(run_dir: Path) -> None:
    """A finished run folder from before `remove_failed_parts`: its temporary files, and the PDF and
    HTML of each project that run's summary.json lists as failed and whose JSON is missing. Only
    the top level: a `send` may be writing into its outbox/ without the run lock."""
    try:
        entries = list(os.scandir(run_dir))
    except OSError:
        return
    names = {entry.name for entry in entries}
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX) and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
    orphans = {stem for name in names for stem, suffix in [os.path.splitext(name)]
               if suffix in PART_SUFFIXES and is_memo_id(stem) and f"{stem}.json" not in names}
    if orphans:
        for project_id in orphans & failed_projects(run_dir):
            remove_incomplete_memo(run_dir, project_id)


def failed_projects(run_dir: Path) -> set[str]:
    """The ids a finished run's summary.json lists as failed (none when it cannot be read)."""
    try:
        summary = json.loads(layout.summary_file(run_dir).read_text(encoding="utf-8"))
        return {p["project_id"] for p in summary["projects"] if p.get("status") == "failed"}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
