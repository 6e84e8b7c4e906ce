"""The Prefect flow: wiring only. All work happens in `modelmemo.pipeline` (pure functions).

Design: one task per batch stage, not one task per memo. Rendering is CPU-bound (WeasyPrint),
so it runs on a bounded process pool inside the `render-memos` task; a Prefect task per memo
would add scheduling and API traffic to every memo and, on threads, fight over the GIL.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.artifacts import create_table_artifact
from prefect.states import Cancelled, Completed, Failed

from modelmemo import pipeline
from modelmemo.catalog import Catalog, load_catalog
from modelmemo.limits import limit_worker_memory
from modelmemo.settings import Settings
from modelmemo.state import BatchLocked, MemoState, batch_lock

ProgressCallback = Callable[[int, int, pipeline.ProjectOutcome], None]


@task(name="load-catalog", cache_policy=NO_CACHE)
def load_catalog_task(catalog_files: list[str]) -> Catalog:
    """Fail fast, before any input is touched, if the catalog is broken."""
    return load_catalog([Path(p) for p in catalog_files])


@task(name="plan-batch", cache_policy=NO_CACHE)
def plan_task(input_dir: str, settle_seconds: float) -> pipeline.BatchPlan:
    return pipeline.plan_batch(Path(input_dir), settle_seconds)


# A render worker's memory grows by about 0.3 MB per memo (WeasyPrint and Pango caches), so a long
# batch renders in chunks, each on a fresh pool: a 1,000-memo batch stays as small as a 100-memo one.
# (Not max_tasks_per_child: on Python 3.11 a pool replacing workers under forkserver hung here.)
MEMOS_PER_WORKER_PER_POOL = 50


def _process_pool(workers: int) -> ProcessPoolExecutor:
    # forkserver, not fork: forking a process that runs Prefect's client threads can deadlock.
    # Preloading the renderer makes each worker start in milliseconds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["modelmemo.pipeline", "weasyprint"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=limit_worker_memory)


@task(name="render-memos", cache_policy=NO_CACHE)
def render_task(jobs: list[pipeline.RenderJob], workers: int, output_dir: str,
                progress: ProgressCallback | None = None) -> list[pipeline.ProjectOutcome]:
    outcomes: list[pipeline.ProjectOutcome] = []
    if not jobs:
        return outcomes
    state = MemoState.load(Path(output_dir))
    workers = max(1, min(workers, len(jobs)))
    chunk = workers * MEMOS_PER_WORKER_PER_POOL
    done = 0
    for start in range(0, len(jobs), chunk):
        executor = _process_pool(workers) if workers > 1 else None
        try:
            for outcome in pipeline.render_all(jobs[start:start + chunk], executor):
                done += 1
                pipeline.record_outcome(state, outcome)
                outcomes.append(outcome)
                if progress:
                    progress(done, len(jobs), outcome)
        finally:
            if executor:
                executor.shutdown(wait=True, cancel_futures=True)
    return outcomes


@task(name="email-memos", cache_policy=NO_CACHE)
def deliver_task(summary: pipeline.BatchSummary, run_dir: str, output_dir: str, templates_dir: str) -> None:
    """Sends are recorded in the ledger one by one, so a retry of this task never re-sends."""
    settings = Settings.from_env()
    pipeline.deliver_summary(summary, Path(run_dir), Path(output_dir), Path(templates_dir),
                             retries=settings.smtp_retries, backoff_seconds=settings.smtp_backoff_seconds)


@task(name="render-memo", cache_policy=NO_CACHE)
def render_one_task(job: pipeline.RenderJob) -> pipeline.ProjectOutcome:
    return pipeline.render_project(job)


@flow(name="modelmemo-render-on-dask")
def render_on_dask(jobs: list[pipeline.RenderJob]) -> list[pipeline.ProjectOutcome]:
    """Scale-out path: one Prefect task per memo on a Dask cluster (prefect-dask's DaskTaskRunner).
    Per-task overhead is worth paying only when the cluster has more cores than this machine."""
    return [future.result() for future in render_one_task.map(jobs)]


def dask_task_runner(address: str | None, workers: int):
    """A DaskTaskRunner for an existing cluster (`tcp://host:8786`) or, without one, a local cluster."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


@task(name="write-index", cache_policy=NO_CACHE)
def index_task(summary: pipeline.BatchSummary, run_dir: str, templates_dir: str, output_dir: str) -> None:
    pipeline.write_index(summary, Path(run_dir), Path(templates_dir))
    pipeline.point_latest(Path(output_dir), summary.run_id)


def _artifact(summary: pipeline.BatchSummary) -> None:
    rows: list[dict[str, Any]] = []
    for p in summary.projects:
        rows.append({"file": p.file, "project": p.project_id, "status": p.status, "verdict": p.verdict_label or "",
                     "top model": p.top_model_name or "", "score": p.top_score, "error": p.error or ""})
    for r in summary.rejected:
        rows.append({"file": r.file, "project": "", "status": "rejected", "verdict": "", "top model": "",
                     "score": None, "error": "; ".join(str(problem) for problem in r.problems)[:500]})
    counts = summary.counts
    create_table_artifact(
        key="modelmemo-batch",
        table=rows,
        description=(f"modelmemo run {summary.run_id}: {counts['memos']} memos, {counts['skipped']} unchanged, "
                     f"{counts['rejected']} rejected, {counts['failed']} failed, "
                     f"{counts['not_processed']} not processed"),
    )


def _locked_batch(settings: Settings, catalog: Catalog, input_dir: str, output_path: Path, run_id: str | None,
                  workers: int, force: bool, send_email: bool,
                  progress: ProgressCallback | None, runner: str = "local",
                  dask_address: str | None = None) -> pipeline.BatchSummary:
    """The batch body; the caller holds the output folder's lock."""
    catalog_files = [str(p) for p in settings.catalog_files]
    templates_dir = settings.templates_dir
    pipeline.clean_up_after_crash(output_path)
    plan = plan_task(input_dir, settings.settle_seconds)
    state = MemoState.load(output_path)
    templates_sha = pipeline.templates_fingerprint(templates_dir)
    fingerprint = pipeline.current_fingerprint(catalog, templates_sha)
    to_render, skipped = pipeline.split_unchanged(plan.projects, state, fingerprint, output_path, force)
    run_id = run_id or pipeline.new_run_id()
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_dir = output_path / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    jobs = pipeline.make_jobs(to_render, run_dir, run_id, generated_at, catalog_files, templates_dir, fingerprint,
                              state, force, templates_sha)
    if runner == "dask":
        rendered = render_on_dask.with_options(task_runner=dask_task_runner(dask_address, workers))(jobs) if jobs else []
        for done, outcome in enumerate(rendered, start=1):
            pipeline.record_outcome(state, outcome)
            if progress:
                progress(done, len(jobs), outcome)
    else:
        rendered = render_task(jobs, workers, str(output_path), progress)
    projects = sorted(skipped + rendered, key=lambda o: o.project_id)
    summary = pipeline.BatchSummary(run_id, generated_at, catalog.as_of.isoformat(), projects=projects,
                                    rejected=list(plan.rejected), notices=list(plan.notices))
    if send_email:
        deliver_task(summary, str(run_dir), str(output_path), str(templates_dir))
    index_task(summary, str(run_dir), str(templates_dir), str(output_path))
    return summary


@flow(name="modelmemo-batch", description="Requirement files in, decision memos (HTML, PDF, JSON) out.")
def memo_batch(
    input_dir: str | None = None,
    output_dir: str | None = None,
    run_id: str | None = None,
    workers: int | None = None,
    force: bool = False,
    send_email: bool = True,
    runner: str = "local",
    dask_address: str | None = None,
    progress: ProgressCallback | None = None,
):
    """runner: "local" (a process pool on this machine, the default) or "dask" (a Dask cluster at
    dask_address, or a local Dask cluster when no address is given)."""
    if runner not in ("local", "dask"):
        raise ValueError(f"unknown runner {runner!r}: use 'local' or 'dask'")
    settings = Settings.from_env()
    output_path = Path(output_dir or settings.output_dir)
    catalog = load_catalog_task([str(p) for p in settings.catalog_files])
    try:
        with batch_lock(output_path):
            summary = _locked_batch(settings, catalog, input_dir or str(settings.input_dir), output_path, run_id,
                                    workers or settings.workers, force, send_email, progress, runner,
                                    dask_address)
    except BatchLocked as exc:
        # Not an error of this run: another one is doing the work. No traceback, no partial output.
        return Cancelled(message=str(exc), data=exc)
    _artifact(summary)
    counts = summary.counts
    message = (f"{counts['memos']} memos, {counts['skipped']} unchanged, {counts['rejected']} rejected, "
               f"{counts['failed']} failed")
    undelivered = {k: v for k, v in summary.delivery_counts.items() if k not in ("accepted", "already-sent")}
    if undelivered:
        message += ", emails not delivered: " + ", ".join(f"{n} {k}" for k, n in sorted(undelivered.items()))
    if counts["failed"]:
        return Failed(message=message, data=summary)
    return Completed(message=message, data=summary)
