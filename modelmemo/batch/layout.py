"""Where everything lives in an output folder: the one home of its paths.

    <output>/
      LATEST                     the newest finished run's id
      state/                     memos.json (each project's current memo), deliveries.json (the
                                 email ledger), run.lock, pruning.json (only while `prune` runs)
      <run-id>/                  one run: <project-id>.pdf/.html/.json, index.html, summary.json
                                 (written last: a run folder without it never finished), outbox/

Everything that reads or writes these names goes through this module, so a layout change is made
in one place (ownership.py decides which of them modelmemo may delete).
"""

from __future__ import annotations

from pathlib import Path

STATE_DIRNAME = "state"
LATEST_NAME = "LATEST"
OUTBOX_DIRNAME = "outbox"
SUMMARY_NAME = "summary.json"
INDEX_NAME = "index.html"
MEMO_KINDS = ("json", "pdf", "html")  # a memo is complete when its JSON (written last) exists


def state_dir(output_dir: Path) -> Path:
    return output_dir / STATE_DIRNAME


def memo_state_file(output_dir: Path) -> Path:
    return state_dir(output_dir) / "memos.json"


def ledger_file(output_dir: Path) -> Path:
    return state_dir(output_dir) / "deliveries.json"


def lock_file(output_dir: Path) -> Path:
    return state_dir(output_dir) / "run.lock"


def pruning_file(output_dir: Path) -> Path:
    """The names of the folders `prune` is deleting (retention.py): its record of what it made."""
    return state_dir(output_dir) / "pruning.json"


def latest_file(output_dir: Path) -> Path:
    return output_dir / LATEST_NAME


def run_dir(output_dir: Path, run_id: str) -> Path:
    return output_dir / run_id


def memo_name(project_id: str, kind: str) -> str:
    """A memo file's name inside its run folder: "<project-id>.<kind>" (kind: json, pdf or html)."""
    if kind not in MEMO_KINDS:
        raise ValueError(f"unknown memo file kind {kind!r}")
    return f"{project_id}.{kind}"


def memo_file(run_folder: Path, project_id: str, kind: str) -> Path:
    return run_folder / memo_name(project_id, kind)


def summary_file(run_folder: Path) -> Path:
    return run_folder / SUMMARY_NAME


def index_file(run_folder: Path) -> Path:
    return run_folder / INDEX_NAME


def outbox_dir(run_folder: Path) -> Path:
    return run_folder / OUTBOX_DIRNAME
