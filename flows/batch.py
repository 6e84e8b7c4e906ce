"""The Prefect flow: wiring only. All work happens in `modelmemo.pipeline` (pure functions).

Design: one task per batch stage, not one task per memo. Rendering is CPU-bound (WeasyPrint),
so it runs on a bounded process pool inside the `render-memos` task; a Prefect task per memo
would add scheduling and API traffic to every memo and, on threads, fight over the GIL.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.artifacts import create_table_artifact
from prefect.states import Cancelled, Completed, Failed

from modelmemo import pipeline
from modelmemo.atomic import remove_stale_temp_files
from modelmemo.catalog import Catalog, load_catalog
from modelmemo.ownership import check_folders
from modelmemo.pipeline import ProgressCallback
from modelmemo.settings import Settings
from modelmemo.shutdown import critical, init_render_worker, start_forkserver_shielded
from modelmemo.state import BatchLocked, MemoState, batch_lock


@task(name="load-catalog", cache_policy=NO_CACHE)
def load_catalog_task(catalog_files: list[str]) -> Catalog:
    """Fail fast, before any input is touched, if the catalog is broken."""
    return load_catalog([Path(p) for p in catalog_files])


@task(name="plan-batch", cache_policy=NO_CACHE)
def plan_task(input_dir: Path, settle_seconds: float) -> pipeline.BatchPlan:
    return pipeline.plan_batch(input_dir, settle_seconds)


# A render worker's memory grows by about 0.3 MB per memo (WeasyPrint and Pango caches), so a long
# batch renders in chunks, each on a fresh pool: a 1,000-memo batch stays as small as a 100-memo one.
# (Not max_tasks_per_child: on Python 3.11 a pool replacing workers under forkserver hung here.)
MEMOS_PER_WORKER_PER_POOL = 50


def _process_pool(workers: int) -> ProcessPoolExecutor:
    # forkserver, not fork: forking a process that runs Prefect's client threads can deadlock.
    # Preloading the renderer makes each worker start in milliseconds. The initializer caps each
    # worker's memory, leaves Ctrl-C to this process, and ends the worker as soon as this process
    # has ended, however it ended: see modelmemo/shutdown.py.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["modelmemo.pipeline", "weasyprint"])
    start_forkserver_shielded()
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_render_worker,
                               initargs=(os.getpid(),))


WORKER_EXIT_SECONDS = 5.0  # after SIGTERM, then SIGKILL


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """Stop the pool's workers now, mid-memo (Python 3.11 has no public way: `_processes` it is)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(WORKER_EXIT_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


@task(name="render-memos", cache_policy=NO_CACHE)
def render_task(jobs: list[pipeline.RenderJob], workers: int, state: MemoState,
                progress: ProgressCallback | None = None) -> list[pipeline.ProjectOutcome]:
    """Render on a process pool (chunk by chunk). Interrupted (Ctrl-C, SIGTERM: anything that is
    not an Exception), it kills the workers at once instead of letting them finish their memos,
    and removes the parts of the memos they were writing: memos already complete stay."""
    outcomes: list[pipeline.ProjectOutcome] = []
    workers = max(1, min(workers, len(jobs)))
    chunk = workers * MEMOS_PER_WORKER_PER_POOL
    for start in range(0, len(jobs), chunk):
        report = (lambda done, _total, outcome, start=start: progress(start + done, len(jobs), outcome)) \
            if progress else None
        executor = _process_pool(workers) if workers > 1 else None
        try:
            outcomes += pipeline.render_and_record(jobs[start:start + chunk], state, executor, report)
        except BaseException as exc:
            if not isinstance(exc, Exception):  # stopping: no worker may outlive this process
                with critical():  # a hard stop (modelmemo/shutdown.py) waits for this
                    if executor:
                        _kill_workers(executor)
                    for job in jobs[start:start + chunk]:
                        pipeline.remove_incomplete_memo(Path(job.run_dir), job.project.project_id)
                    remove_stale_temp_files(Path(jobs[start].run_dir))
            raise
        finally:
            if executor:
                executor.shutdown(wait=True, cancel_futures=True)
    return outcomes


@task(name="email-memos", cache_policy=NO_CACHE)
def deliver_task(summary: pipeline.BatchSummary, run_dir: Path, output_dir: Path, templates_dir: Path,
                 resend: bool = False) -> None:
    """Sends are recorded in the ledger one by one, so a retry of this task never re-sends."""
    pipeline.deliver_summary(summary, run_dir, output_dir, templates_dir, resend)


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
def index_task(summary: pipeline.BatchSummary, run_dir: Path, output_dir: Path, templates_dir: Path) -> None:
    pipeline.publish_run(summary, run_dir, output_dir, templates_dir)


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


def _stages(workers: int, runner: str, dask_address: str | None) -> pipeline.BatchStages:
    """The batch's stages as Prefect tasks (the order and data flow live in `pipeline.run_locked_batch`)."""

    def render(jobs: list[pipeline.RenderJob], state: MemoState,
               progress: ProgressCallback | None) -> list[pipeline.ProjectOutcome]:
        if runner == "local":
            return render_task(jobs, workers, state, progress)
        rendered = render_on_dask.with_options(task_runner=dask_task_runner(dask_address, workers))(jobs)
        return pipeline.record_each(rendered, state, len(jobs), progress)

    return pipeline.BatchStages(plan=plan_task, render=render, deliver=deliver_task, publish=index_task)


@flow(name="modelmemo-batch", description="Requirement files in, decision memos (HTML, PDF, JSON) out.")
def memo_batch(
    input_dir: str | None = None,
    output_dir: str | None = None,
    run_id: str | None = None,
    workers: int | None = None,
    force: bool = False,
    send_email: bool = True,
    resend: bool = False,
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
    overlap = check_folders(input_dir or settings.input_dir, output_path)
    if overlap:  # the deployment path has no CLI in front of it: refuse here too, before writing anything
        return Failed(message=overlap)
    catalog = load_catalog_task([str(p) for p in settings.catalog_files])
    try:
        with batch_lock(output_path):
            summary = pipeline.run_locked_batch(
                _stages(workers or settings.workers, runner, dask_address), catalog, settings.catalog_files,
                Path(input_dir or settings.input_dir), output_path, settings.templates_dir, run_id=run_id,
                force=force, settle_seconds=settings.settle_seconds, deliver=send_email, resend=resend,
                keep_runs=settings.keep_runs, progress=progress)
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
