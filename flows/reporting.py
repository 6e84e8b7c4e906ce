"""What a Prefect user sees of a run: the flow run's name (it carries the run id), the log line per
project, the progress, result-table and index artifacts (keyed by output folder), and the final
state's name ("Completed with rejected files"). Wiring only, like flows/batch.py."""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from prefect import get_run_logger

from prefect.artifacts import (create_markdown_artifact, create_progress_artifact, create_table_artifact,
                               update_progress_artifact)
from prefect.states import Completed, Failed

from modelmemo.batch import pipeline
from modelmemo.batch.layout import index_file
from modelmemo.batch.pipeline import ProgressCallback
from modelmemo.batch.retention import RUN_ID_PATTERN
from modelmemo.batch.work_unit import describe_outcome
from modelmemo.inputs.names import display_name
from modelmemo.settings import Settings

# Delivery statuses that mean the recipient has the memo (this run, or an earlier one).
DELIVERED = ("accepted", "already-sent")


# The command's console progress (a bar or plain lines): set by `reporting_progress`, never a flow
# parameter, because a deployment's parameters must be data a Prefect user can type into the UI.
_console_progress: ProgressCallback | None = None


@contextlib.contextmanager
def reporting_progress(callback: ProgressCallback | None) -> Iterator[None]:
    """Call `callback(done, total, outcome)` for each memo rendered by flow runs in this process."""
    global _console_progress
    previous, _console_progress = _console_progress, callback
    try:
        yield
    finally:
        _console_progress = previous


def artifact_key(output_dir: Path | str) -> str:
    """`modelmemo-<folder name>-<8 hex of the absolute path>`: runs on different output folders
    (the nightly's, a colleague's test folder) keep separate artifact histories on one server.
    Prefect keys allow lowercase letters, digits and dashes only."""
    path = Path(output_dir).absolute()
    slug = re.sub(r"[^a-z0-9]+", "-", path.name.lower()).strip("-")[:40] or "output"
    return f"modelmemo-{slug}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def flow_run_name() -> str:
    """`<run id> <output folder>`: the run id names the run folder, so a flow run in the UI and
    `output/<run id>/` match at a glance. A run id is made here when the caller gave none (a
    deployment run); the flow reads it back from the name, so a retried run keeps its folder."""
    from prefect.runtime import flow_run

    parameters = flow_run.parameters or {}
    run_id = parameters.get("run_id") or pipeline.new_run_id()
    output = Path(parameters.get("output_dir") or Settings().output_dir)
    return f"{run_id} {display_name(output.absolute().name or str(output))}"


def run_id_from_flow_run_name() -> str | None:
    from prefect.runtime import flow_run

    first = (flow_run.name or "").split(" ", 1)[0]
    return first if RUN_ID_PATTERN.match(first) else None


def outcome_line(outcome: pipeline.ProjectOutcome) -> str:
    return display_name(f"{outcome.project_id} ({outcome.file}): {describe_outcome(outcome)}")


LINES_PER_RECORD = 100


def log_lines(log: Callable[..., None], lines: list[str], per_record: int = LINES_PER_RECORD) -> None:
    """Lines that carry no news (an unchanged memo, an email sent on an earlier run), one line each
    as ever but up to `per_record` of them in one log record: a nightly rerun of 1,000 unchanged
    files ships 20 records to the Prefect API, not 2,000, and the UI shows the same lines."""
    for start in range(0, len(lines), per_record):
        log("%s", "\n".join(lines[start:start + per_record]))


class ProgressReporter:
    """One log line per memo, a progress artifact updated as memos complete (at most about once a
    second, so a 1,000-memo batch does not make 1,000 API calls), and the command's console."""

    UPDATE_SECONDS = 1.0

    def __init__(self, key: str, run_id: str, total: int) -> None:
        self.total = total
        self.last_update = 0.0
        self.log_each = True
        self.artifact_id = create_progress_artifact(
            progress=0.0 if total else 100.0, key=f"{key}-progress",
            description=f"modelmemo run {run_id}: memos rendered of {total}")

    def __call__(self, done: int, total: int, outcome: pipeline.ProjectOutcome) -> None:
        if self.log_each:
            logger = get_run_logger()  # called in the render task: its lines are filed under that task
            log = logger.warning if outcome.status == "failed" else logger.info
            log("[%d/%d] %s", done, total, outcome_line(outcome))
        now = time.monotonic()
        if done == total or now - self.last_update >= self.UPDATE_SECONDS:
            self.last_update = now
            update_progress_artifact(self.artifact_id, progress=round(100.0 * done / max(total, 1), 1))
        if _console_progress:
            _console_progress(done, total, outcome)


def result_table_artifact(summary: pipeline.BatchSummary, key: str = "modelmemo-batch") -> None:
    rows: list[dict[str, Any]] = []
    for p in summary.projects:
        rows.append({"file": p.file, "project": p.project_id, "status": p.status, "verdict": p.verdict_label or "",
                     "top model": p.top_model_name or "", "score": p.top_score, "error": p.error or ""})
    for r in summary.rejected:
        rows.append({"file": r.file, "project": "", "status": "rejected", "verdict": "", "top model": "",
                     "score": None, "error": "; ".join(str(problem) for problem in r.problems)[:500]})
    counts = summary.counts
    create_table_artifact(
        key=key,
        table=rows,
        description=(f"modelmemo run {summary.run_id}: {counts['memos']} memos, {counts['skipped']} unchanged, "
                     f"{counts['rejected']} rejected, {counts['failed']} failed, "
                     f"{counts['not_processed']} not processed"),
    )


def index_artifact(summary: pipeline.BatchSummary, run_dir: Path, key: str, public_base_url: str | None) -> None:
    """Where the run's index is: a link when the run folders are published on the web
    (MODELMEMO_PUBLIC_BASE_URL), else its path on the machine that ran the flow."""
    index = index_file(run_dir)
    where = (f"[{summary.run_id}/index.html]({public_base_url}{summary.run_id}/index.html)" if public_base_url
             else f"`{display_name(str(index))}`")
    counts = summary.counts
    undelivered = sum(n for status, n in summary.delivery_counts.items() if status not in DELIVERED)
    lines = [f"# modelmemo run {summary.run_id}", "", f"**Index:** {where}", "",
             "| memos | unchanged | rejected | failed | not processed | emails not delivered |",
             "|---|---|---|---|---|---|",
             f"| {counts['memos']} | {counts['skipped']} | {counts['rejected']} | {counts['failed']} | "
             f"{counts['not_processed']} | {undelivered} |"]
    create_markdown_artifact(key=f"{key}-index", markdown="\n".join(lines),
                             description=f"modelmemo run {summary.run_id}: index and counts")


def final_state(summary: pipeline.BatchSummary):
    """Failed only when a memo failed (a fault of modelmemo or its machine). Rejected files and
    undelivered emails are the users' or the mail server's business: the run is Completed, and
    the state's *name* says what needs attention, so the UI's run list shows it."""
    counts = summary.counts
    message = (f"{counts['memos']} memos, {counts['skipped']} unchanged, {counts['rejected']} rejected, "
               f"{counts['failed']} failed")
    undelivered = {k: v for k, v in summary.delivery_counts.items() if k not in DELIVERED}
    if undelivered:
        message += ", emails not delivered: " + ", ".join(f"{n} {k}" for k, n in sorted(undelivered.items()))
    if counts["failed"]:
        return Failed(message=message, data=summary)
    attention = [label for label, present in (("rejected files", counts["rejected"]),
                                              ("undelivered email", undelivered)) if present]
    name = "Completed with " + " and ".join(attention) if attention else "Completed"
    return Completed(name=name, message=message, data=summary)
