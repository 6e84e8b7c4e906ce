"""The batch as plain functions: plan (scan + validate), render each project, write the index.

Nothing here imports Prefect. `flows/batch.py` wires these functions into a flow; the benchmark
baseline and the unit tests call them directly.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from modelmemo.batch.atomic import atomic_write_text
from modelmemo.batch.cleanup import clean_up_after_crash, remove_failed_parts
from modelmemo.batch.failpoints import failpoint
from modelmemo.memo.limits import RENDER_SECONDS
from modelmemo.catalog.load import Catalog
from modelmemo.delivery.ledger import DeliveryJob
from modelmemo.inputs.discovery import scan_settled
from modelmemo.memo.pdf_renderer import WEASYPRINT, PdfRenderer
from modelmemo.memo.render import render_index_html
from modelmemo.batch.retention import prune_runs
from modelmemo.batch import layout
from modelmemo.batch.pilot_inputs import owned_entries, pilot_examples_of, with_pilot
from modelmemo.batch.state import MemoState
from modelmemo.batch.unchanged import (KnownInputs, current_fingerprint, input_rules_fingerprint, previous_memo_path,
                                       record_outcome, split_unchanged, templates_fingerprint)
from modelmemo.inputs.loading import InputError, load_document
from modelmemo.inputs.validation import Problem, validate_file
# The work unit every runner renders through; its types are re-exported as part of the batch's API.
from modelmemo.batch.work_unit import (BundlePaths, PlannedProject, ProjectOutcome, WorkUnit, cached_catalog, failed_outcome,
                        input_format, read_input, read_previous_memo, remove_incomplete_memo,
                        render_unit, write_unit_result)

if TYPE_CHECKING:
    from modelmemo.settings import Settings

SUMMARY_VERSION = 1


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC timestamp plus a short random suffix."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


@dataclass(frozen=True)
class Rejection:
    file: str
    problems: tuple[Problem, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "problems": [p.as_dict() for p in self.problems]}


@dataclass(frozen=True)
class Notice:
    """A folder entry that is not an input (yet): reported, never silently dropped."""

    file: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Note:
    """Something the sender of a file that WAS read should know (its time is ahead of the clock)."""

    file: str
    note: str


@dataclass(frozen=True)
class BatchPlan:
    projects: tuple[PlannedProject, ...]
    rejected: tuple[Rejection, ...]
    notices: tuple[Notice, ...]
    notes: tuple[Note, ...] = ()


@dataclass
class BatchSummary:
    run_id: str
    generated_at: str
    catalog_as_of: str
    projects: list[ProjectOutcome] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        statuses = [p.status for p in self.projects]
        return {
            "files": len(self.projects) + len(self.rejected),
            "memos": statuses.count("memo"),
            "skipped": statuses.count("skipped"),
            "failed": statuses.count("failed"),
            "rejected": len(self.rejected),
            "not_processed": len(self.notices),
        }

    @property
    def delivery_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.deliveries:
            counts[record["status"]] = counts.get(record["status"], 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        counts = self.counts
        undelivered = sum(n for status, n in self.delivery_counts.items()
                          if status not in ("accepted", "already-sent"))
        return counts["failed"] == 0 and counts["rejected"] == 0 and undelivered == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary_version": SUMMARY_VERSION,
            "run_id": self.run_id,
            "generated_at": self.generated_at,
            "catalog_as_of": self.catalog_as_of,
            "counts": self.counts,
            "projects": [p.as_dict() for p in self.projects],
            "rejected": [r.as_dict() for r in self.rejected],
            "not_processed": [asdict(n) for n in self.notices],
            "notes": [asdict(n) for n in self.notes],
            "delivery_counts": self.delivery_counts,
            "deliveries": self.deliveries,
        }


# --- planning --------------------------------------------------------------------------------


def plan_batch(input_dir: Path, settle_seconds: float = 0.0, known: KnownInputs | None = None) -> BatchPlan:
    """Scan the drop folder and validate every input. Duplicate project ids reject all copies.

    Files are reported by their escaped display name (`file`, see names.py) and read by their real
    path (`path`). A duplicate's rejection names at most 3 of the others ("and N more"), so 2,000
    copies of one id cost 2,000 short lines, not 2,000 lists of 1,999 names. A file `known` as the
    unchanged input of a kept memo (same bytes, same input rules: unchanged.KnownInputs) is planned
    from that record, not parsed and validated again; every other file is validated.
    """
    entries = scan_settled(input_dir, settle_seconds)  # a file dated ahead of the clock: one short wait
    valid: list[PlannedProject] = []
    # rejected unread: a name that is not UTF-8 (discovery.py says why)
    rejected: list[Rejection] = [Rejection(e.name, (Problem(e.name, e.reason),)) for e in entries if e.kind == "rejected"]
    for entry in (e for e in entries if e.kind == "input"):
        planned = known.match(entry.name, entry.path) if known else None
        if planned is not None:
            valid.append(planned)
            continue
        document, problems = validate_file(entry.path, entry.name)
        failpoint("after-validate")
        if problems or document is None:
            rejected.append(Rejection(entry.name, tuple(problems)))
            continue
        project = document.data["project"]
        valid.append(PlannedProject(entry.name, str(entry.path), project["id"], project["name"], document.sha256,
                                    pilot_examples_of(document.data)))
    owned = owned_entries(valid)  # a pilot file belongs to the requirement file naming it: not "not processed"
    notices = tuple(Notice(e.name, e.kind, e.reason) for e in entries
                    if e.kind not in ("input", "rejected") and e.path.name not in owned)
    by_id: dict[str, list[PlannedProject]] = defaultdict(list)
    for planned in valid:
        by_id[planned.project_id].append(planned)
    projects: list[PlannedProject] = []
    for planned in valid:
        twins = by_id[planned.project_id]
        if len(twins) == 1:
            projects.append(planned)
            continue
        others = [t.file for t in twins if t is not planned]
        named = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        problem = Problem(planned.file, f"project id '{planned.project_id}' is also used by {named}; "
                                        "each project needs its own id", "project.id", *_id_position(planned))
        rejected.append(Rejection(planned.file, (problem,)))
    rejected.sort(key=lambda r: r.file)
    notes = tuple(Note(e.name, e.note) for e in entries if e.kind == "input" and e.note)
    return BatchPlan(tuple(projects), tuple(rejected), notices, notes)


def _id_position(planned: PlannedProject) -> tuple[int | None, int | None]:
    """Line and column of a duplicate's `id:` value, so its rejection points where the fix goes
    like every other one. The file is parsed again (it was valid, or kept unparsed from the state
    file): duplicates are rare, and nothing needs validating twice."""
    try:
        document = load_document(Path(planned.path), follow_symlinks=False)
    except (InputError, OSError):
        return None, None
    return document.position_of(("project", "id")) or (None, None)


# --- rendering one project -------------------------------------------------------------------


@dataclass(frozen=True)
class RenderJob:
    """Everything a worker process needs to render one project (picklable)."""

    project: PlannedProject
    run_dir: str
    run_id: str
    generated_at: str
    catalog_files: tuple[str, ...]
    templates_dir: str
    fingerprint: str = ""
    templates_sha256: str = ""
    previous_memo: str | None = None  # path of this project's previous memo JSON, if any
    forced: bool = False
    time_limit_seconds: float = RENDER_SECONDS
    renderer: PdfRenderer = WEASYPRINT  # the memo's PDF (memo/pdf_renderer.py); pickled with the job


def unit_from_job(job: RenderJob) -> WorkUnit | ProjectOutcome:
    """The job as a self-contained work unit (input bytes, previous memo as data), or the failed
    outcome when the input is gone or changed since planning. Reads the coordinator's files."""
    raw, problem = read_input(job.project)
    if raw is None:
        return failed_outcome(job.project, job.run_id, job.fingerprint, problem)
    return WorkUnit(job.project, raw, input_format(job.project.path), job.run_id, job.generated_at, job.fingerprint,
                    job.templates_sha256, read_previous_memo(job.previous_memo), job.forced, job.time_limit_seconds)


def render_project(job: RenderJob) -> ProjectOutcome:
    """Score and render one project to <run_dir>/<id>.{pdf,html,json}. Never raises for bad data.

    The local runner's in-place path: the same work unit a Dask worker renders (`render_unit`),
    with the catalog and templates where they are, written from this process. Files are written
    atomically, the JSON last: a memo whose JSON exists is complete.
    """
    unit = unit_from_job(job)
    if isinstance(unit, ProjectOutcome):
        return unit
    result = render_unit(unit, BundlePaths(job.catalog_files, job.templates_dir), job.renderer)
    return write_unit_result(unit, result, Path(job.run_dir))


def render_all(jobs: Iterable[RenderJob], executor: Executor | None = None) -> Iterator[ProjectOutcome]:
    """Render jobs serially, or on an executor (results in completion order, streamed)."""
    if executor is None:
        for job in jobs:
            yield render_project(job)
        return
    from concurrent.futures import as_completed

    futures = {executor.submit(render_project, job): job for job in jobs}
    broken = False
    for future in as_completed(futures):
        try:
            outcome = future.result()
        except Exception as exc:  # e.g. BrokenProcessPool: a worker was killed (OOM killer, time limit)
            broken = broken or isinstance(exc, BrokenExecutor)
            job = futures[future]
            outcome = ProjectOutcome(job.project.project_id, job.project.name, job.project.file, "failed",
                                     error=f"render process died ({type(exc).__name__}); retried on the next run",
                                     input_sha256=job.project.input_sha256, memo_run_id=job.run_id)
        yield outcome
    if broken:  # a broken pool renders nothing more; its workers must be gone before the run's
        executor.shutdown(wait=True)  # clean-up (remove_failed_parts), or one might still be writing


# --- delivery --------------------------------------------------------------------------------


def delivery_jobs(summary: "BatchSummary", run_dir: Path) -> list[DeliveryJob]:
    """Every memo of the run, fresh or unchanged: the ledger decides what still needs sending,
    so an unchanged memo whose earlier send failed transiently is retried on this run."""
    return [DeliveryJob(o.project_id, run_dir / o.json, run_dir / o.pdf, o.recipients)
            for o in summary.projects if o.status in ("memo", "skipped") and o.json and o.pdf]


def deliver_summary(summary: "BatchSummary", run_dir: Path, output_dir: Path, templates_dir: Path,
                    resend: bool = False, *, settings: "Settings") -> None:
    """Email the run's memos (SMTP if configured, else .eml files in <run_dir>/outbox) with the
    entry point's settings (SMTP, retries, the public base URL the email links to). The ledger
    sends each decision once; resend=True sends every memo again (`run --resend`)."""
    from modelmemo.delivery.ledger import deliver
    from modelmemo.delivery.mailers import configured_smtp, make_mailer

    failpoint("before-email")
    smtp = configured_smtp(settings)
    mailer = make_mailer(smtp, layout.outbox_dir(run_dir))
    records = deliver(delivery_jobs(summary, run_dir), mailer, layout.ledger_file(output_dir),
                      sender=smtp.sender, templates_dir=templates_dir, retries=settings.smtp_retries,
                      backoff_seconds=settings.smtp_backoff_seconds, force=resend,
                      public_base_url=settings.public_base_url, breaker_failures=settings.smtp_breaker_failures)
    summary.deliveries = [r.as_dict() for r in records]


# --- the batch index -------------------------------------------------------------------------


def write_index(summary: BatchSummary, run_dir: Path, templates_dir: Path) -> None:
    """index.html and summary.json for the run (atomically; summary.json last)."""
    data = summary.as_dict()
    html = render_index_html(data, run_dir, templates_dir)
    atomic_write_text(layout.index_file(run_dir), html)
    atomic_write_text(layout.summary_file(run_dir), json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def point_latest(output_dir: Path, run_id: str) -> None:
    """output/LATEST names the most recent complete run (a file, so it works everywhere)."""
    atomic_write_text(layout.latest_file(output_dir), run_id + "\n")


ProgressCallback = Callable[[int, int, ProjectOutcome], None]


def record_each(outcomes: Iterable[ProjectOutcome], state: MemoState, total: int,
                progress: ProgressCallback | None = None) -> list[ProjectOutcome]:
    """Remember each fresh memo as its outcome arrives, and report progress (done of total)."""
    recorded: list[ProjectOutcome] = []
    for done, outcome in enumerate(outcomes, start=1):
        record_outcome(state, outcome)
        recorded.append(outcome)
        if progress:
            progress(done, total, outcome)
    return recorded


def render_and_record(jobs: list[RenderJob], state: MemoState, executor: Executor | None = None,
                      progress: ProgressCallback | None = None) -> list[ProjectOutcome]:
    """Render the jobs, remembering each fresh memo as soon as it is complete."""
    return record_each(render_all(jobs, executor), state, len(jobs), progress)


def publish_run(summary: BatchSummary, run_dir: Path, output_dir: Path, templates_dir: Path) -> None:
    """The run's index and summary, then LATEST: the run is complete once LATEST names it."""
    write_index(summary, run_dir, templates_dir)
    point_latest(output_dir, summary.run_id)


@dataclass(frozen=True)
class BatchStages:
    """The stages of a batch an orchestrator may wrap (the Prefect flow makes each one a task).

    `run_locked_batch` is the one place that says in which order they run and what flows between them.
    """

    plan: Callable[[Path, float, KnownInputs], BatchPlan]
    render: Callable[[list[RenderJob], MemoState, ProgressCallback | None], list[ProjectOutcome]]
    deliver: Callable[[BatchSummary, Path, Path, Path, bool], None]
    publish: Callable[[BatchSummary, Path, Path, Path], None]


def run_locked_batch(stages: BatchStages, catalog: Catalog, catalog_files: Iterable[Path | str], input_dir: Path,
                     output_dir: Path, templates_dir: Path, *, run_id: str | None = None, force: bool = False,
                     settle_seconds: float = 0.0, deliver: bool = True, resend: bool = False, keep_runs: int = 0,
                     progress: ProgressCallback | None = None, renderer: PdfRenderer = WEASYPRINT) -> BatchSummary:
    """The batch, start to end; the caller holds the output folder's lock.
    force re-renders every memo; only resend emails a decision that was already sent.
    keep_runs > 0 prunes older run folders once this run is complete (see retention.py).
    renderer makes each memo's PDF (every job carries it): WeasyPrint unless a test passes a fake."""
    clean_up_after_crash(output_dir)
    state = MemoState.load(output_dir)
    state.input_rules = input_rules_fingerprint()  # what this run's planning validates under
    templates_sha = templates_fingerprint(templates_dir)
    fingerprint = current_fingerprint(catalog, templates_sha, renderer)
    known = KnownInputs() if force else KnownInputs.from_state(state, fingerprint, output_dir)
    plan = stages.plan(input_dir, settle_seconds, known)
    projects, said = with_pilot(plan.projects, output_dir)  # the pilot results each is decided with
    plan = replace(plan, projects=tuple(projects), notes=plan.notes + tuple(Note(*n) for n in said))
    to_render, skipped = split_unchanged(plan.projects, state, fingerprint, output_dir, force,
                                         catalog.overlay_sha256, lambda planned: project_decision_fingerprint(planned, catalog))
    run_id = run_id or new_run_id()
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_dir = layout.run_dir(output_dir, run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    jobs = make_jobs(to_render, run_dir, run_id, generated_at, catalog_files, templates_dir, fingerprint,
                     state, force, templates_sha, renderer)
    rendered = stages.render(jobs, state, progress) if jobs else []
    remove_failed_parts(run_dir, rendered)  # rendering is over: the run folder gets complete memos only
    summary = BatchSummary(run_id, generated_at, catalog.as_of.isoformat(),
                           projects=sorted(skipped + rendered, key=lambda p: p.project_id),
                           rejected=list(plan.rejected), notices=list(plan.notices), notes=list(plan.notes))
    if deliver:
        stages.deliver(summary, run_dir, output_dir, templates_dir, resend)
    stages.publish(summary, run_dir, output_dir, templates_dir)
    if keep_runs:
        prune_runs(output_dir, keep_runs)
    return summary


def project_decision_fingerprint(planned: PlannedProject, catalog: Catalog) -> str | None:
    """What the project's decision says under `catalog` (decision.fingerprint), or None
    when its file cannot be read as it was (then it is rendered, and reported, as ever)."""
    from modelmemo.decision.decide import decide
    from modelmemo.decision.fingerprint import decision_fingerprint
    from modelmemo.inputs.loading import InputError, load_document
    from modelmemo.inputs.requirements import Requirements
    from modelmemo.inputs.validation import schema_problems

    try:
        document = load_document(Path(planned.path))
        if schema_problems(document, planned.file):
            return None
        return decision_fingerprint(decide(Requirements.from_data(document.data), catalog, planned.pilot))
    except (InputError, OSError):
        return None


def run_batch(input_dir: Path, output_dir: Path, catalog_files: tuple[Path, ...], templates_dir: Path,
              run_id: str | None = None, executor: Executor | None = None, progress: ProgressCallback | None = None,
              force: bool = False, settle_seconds: float = 0.0, deliver: bool = True, resend: bool = False,
              renderer: PdfRenderer = WEASYPRINT) -> BatchSummary:
    """The whole batch without Prefect, in this process (or on `executor`): what tests drive directly
    (with a fake `renderer` when they are not about the PDFs themselves)."""
    from modelmemo.settings import Settings
    from modelmemo.batch.state import batch_lock

    catalog = cached_catalog(tuple(str(p) for p in catalog_files))  # parsed once per process, as workers do
    settings = Settings.from_env()
    stages = BatchStages(
        plan=plan_batch,
        render=lambda jobs, state, report: render_and_record(jobs, state, executor, report),
        deliver=partial(deliver_summary, settings=settings),
        publish=publish_run,
    )
    with batch_lock(output_dir):
        return run_locked_batch(stages, catalog, catalog_files, input_dir, output_dir, templates_dir, run_id=run_id,
                                force=force, settle_seconds=settle_seconds, deliver=deliver, resend=resend,
                                keep_runs=settings.keep_runs, progress=progress, renderer=renderer)


def make_jobs(projects: Iterable[PlannedProject], run_dir: Path, run_id: str, generated_at: str,
              catalog_files: Iterable[Path | str], templates_dir: Path | str, fingerprint: str,
              state: MemoState | None = None, forced: bool = False, templates_sha: str | None = None,
              renderer: PdfRenderer = WEASYPRINT) -> list[RenderJob]:
    catalog_paths = tuple(str(c) for c in catalog_files)
    templates_sha = templates_sha or templates_fingerprint(Path(templates_dir))
    output_dir = run_dir.parent
    return [RenderJob(p, str(run_dir), run_id, generated_at, catalog_paths, str(templates_dir), fingerprint,
                      templates_sha, previous_memo_path(state, p.project_id, output_dir) if state else None, forced,
                      renderer=renderer)
            for p in projects]
