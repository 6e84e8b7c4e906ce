"""The Prefect flow: wiring only. All work happens in `modelmemo.batch.pipeline` (pure functions).

Design: one task per batch stage, not one task per memo. Rendering is CPU-bound (WeasyPrint),
so it runs on a bounded process pool inside the `render-memos` task; a Prefect task per memo
would add scheduling and API traffic to every memo and, on threads, fight over the GIL.
On a Dask cluster (runner "dask") the unit is a chunk of memos: one Prefect task per chunk, run in
this process (so every task run reports to this flow's API), each sending self-contained work
units to a Dask worker and writing what comes back (see modelmemo/batch/scaleout.py).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Cancelled, Failed
from prefect.utilities.annotations import quote
from pydantic import Field

from modelmemo.batch import pipeline, unchanged
from modelmemo.batch.atomic import remove_stale_temp_files
from modelmemo.memo.brand import BrandError
from modelmemo.catalog.load import Catalog, CatalogError
from modelmemo.catalog.synced import SyncFailed, sync_catalog, with_synced
from modelmemo.delivery.ledger import not_attempted_line
from modelmemo.batch.layout import index_file, run_dir
from modelmemo.inputs.names import display_name
from modelmemo.batch.ownership import check_folders
from modelmemo.batch.pipeline import ProgressCallback
from modelmemo.settings import MEMOS_PER_WORKER_PER_POOL, Settings
from modelmemo.process.shutdown import critical, init_render_worker, start_forkserver_shielded
from modelmemo.batch.state import BatchLocked, MemoState, batch_lock
from modelmemo.batch.work_unit import (ClusterError, RenderBundle, UnitResult, WorkUnit, cached_catalog,
                                      failed_outcome)
from modelmemo.flows.reporting import (DELIVERED, ProgressReporter, artifact_key, final_state, flow_run_name,
                                       index_artifact, log_lines, outcome_line, result_table_artifact,
                                       run_id_from_flow_run_name)


def _heartbeats_without_join(engine: Any, join_on_exit: bool = True) -> Any:
    """Prefect's flow-run heartbeats, without waiting for the heartbeat thread when a run ends.

    Prefect's sync engine joins that thread as the run's context closes, after the final state is
    reported, and the thread sleeps in 1 s steps: every flow run ended 0-1 s later than it had to
    (0.5 s on average: a fifth of a nightly rerun with nothing to do). Prefect's async engine does
    not join (`join_on_exit=False`); the flows here do the same. Heartbeats are sent as ever, every
    `flows.heartbeat_frequency` seconds while the run lasts, and the thread (a daemon) ends by
    itself within a second of the run's end."""
    return _prefect_send_heartbeats(engine, join_on_exit=False)


def _end_flow_runs_promptly() -> None:
    """Install `_heartbeats_without_join` in Prefect's flow engine (once), if its heartbeat helper
    still takes `join_on_exit`; otherwise Prefect's own stays (tests/test_flow.py notices)."""
    global _prefect_send_heartbeats
    import inspect

    from prefect import flow_engine

    current = getattr(flow_engine, "_send_heartbeats", None)
    # By name, not identity: Prefect loads a deployment's entrypoint (flows/batch.py) as a module
    # copy of its own, whose copy of this function must not wrap the one installed already.
    if current is None or getattr(current, "__qualname__", "") == _heartbeats_without_join.__qualname__ \
            or "join_on_exit" not in inspect.signature(current).parameters:
        return
    _prefect_send_heartbeats = current
    flow_engine._send_heartbeats = _heartbeats_without_join


_prefect_send_heartbeats: Any = None
_end_flow_runs_promptly()


@task(name="sync-catalog", cache_policy=NO_CACHE)
def sync_catalog_task(catalog_files: tuple[str, ...], output_dir: str, models_dev: str, openrouter: str) -> int:
    """`catalog sync` before the nightly run: the diff goes to the log; a listing that cannot be
    read is one warning and the last good sync is used. Returns how many facts changed."""
    logger = get_run_logger()
    try:
        outcome = sync_catalog(tuple(Path(p) for p in catalog_files), Path(output_dir), models_dev, openrouter)
    except (SyncFailed, CatalogError) as exc:
        logger.warning("catalog sync: %s; the last good sync is used", exc)
        return 0
    plan = outcome.plan
    log_lines(logger.info, [f"catalog sync: {row.line()}" for row in plan.applied])
    log_lines(logger.warning, [f"catalog sync: {row.line()}" for row in plan.held]
              + [f"catalog sync: {line}" for line in plan.passed])
    logger.info("catalog sync: %d change(s), %d held for review", len(plan.applied), len(plan.held))
    return len(plan.applied)


@task(name="load-catalog", cache_policy=NO_CACHE)
def load_catalog_task(catalog_files: list[str]) -> Catalog:
    """Fail fast, before any input is touched, if the catalog is broken. Parsed once per process:
    `modelmemo run` has checked it already, before Prefect started (work_unit.cached_catalog)."""
    return cached_catalog(tuple(catalog_files))


@task(name="plan-batch", cache_policy=NO_CACHE)
def plan_task(input_dir: Path, settle_seconds: float, known: unchanged.KnownInputs | None = None) -> pipeline.BatchPlan:
    plan = pipeline.plan_batch(input_dir, settle_seconds, known)
    logger = get_run_logger()
    logger.info("%d valid requirement files, %d rejected, %d not processed in %s", len(plan.projects),
                len(plan.rejected), len(plan.notices), display_name(str(input_dir)))
    for rejection in plan.rejected:  # a user error, not a failure of the run: a warning
        logger.warning("%s", display_name(f"rejected {rejection.file}: "
                                          + "; ".join(str(problem) for problem in rejection.problems)[:1000]))
    for notice in plan.notices:
        logger.info("%s", display_name(f"not processed {notice.file}: {notice.reason}"))
    for note in plan.notes:  # read, but its sender should know (its time is ahead of the clock)
        logger.warning("%s", display_name(f"note {note.file}: {note.note}"))
    return plan


# A render worker's memory grows by about 0.3 MB per memo (WeasyPrint and Pango caches), so a long
# batch renders in chunks, each on a fresh pool of MEMOS_PER_WORKER_PER_POOL memos per worker
# (settings.py): a 1,000-memo batch stays as small as a 100-memo one. (Not max_tasks_per_child: on
# Python 3.11 a pool replacing workers under forkserver hung here.)

def _process_pool(workers: int) -> ProcessPoolExecutor:
    # forkserver, not fork: forking a process that runs Prefect's client threads can deadlock.
    # Preloading the renderer makes each worker start in milliseconds. The initializer caps each
    # worker's memory, leaves Ctrl-C to this process, and ends the worker as soon as this process
    # has ended, however it ended: see modelmemo/process/shutdown.py.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["modelmemo.batch.pipeline", "weasyprint"])
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
                with critical():  # a hard stop (modelmemo/process/shutdown.py) waits for this
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



class TransientDeliveryFailures(Exception):
    """Some emails could not be sent for a reason that may pass (connection refused, 4xx): the
    only kind of failure a later attempt can fix. Raised so that Prefect retries the task."""


class MailServerUnreachable(TransientDeliveryFailures):
    """The mail server did not answer several sends in a row, so the circuit breaker skipped the
    rest (modelmemo.delivery.ledger). Not retried by Prefect: each task attempt would wait for a
    dead server again while the run holds the output folder's lock; the next run retries."""


def _retry_transient_in_deployments(task, task_run, state) -> bool:
    """Retry the email task only for transient failures the server answered (4xx, a short outage),
    and only in deployment runs: nobody waits for those, while `modelmemo run` has already retried
    with backoff inside the task (MODELMEMO_SMTP_RETRIES) and reports at once; the next run retries
    again either way."""
    from prefect.runtime import deployment

    try:
        state.result()
    except MailServerUnreachable:
        return False  # the mail phase stays bounded: breaker × connect timeout, once
    except TransientDeliveryFailures:
        return deployment.id is not None
    except Exception:
        return False
    return False


# Minutes, not seconds: a mail server that refuses connections is usually restarting or throttling.
EMAIL_RETRY_DELAYS = [60, 300]


@task(name="email-memos", cache_policy=NO_CACHE, retries=len(EMAIL_RETRY_DELAYS),
      retry_delay_seconds=EMAIL_RETRY_DELAYS, retry_condition_fn=_retry_transient_in_deployments)
def deliver_task(summary: pipeline.BatchSummary, run_dir: Path, output_dir: Path, templates_dir: Path,
                 resend: bool, settings: Settings) -> None:
    """Sends are recorded in the ledger one by one, so a retry of this task never re-sends: only
    the first attempt honours `resend`; a retry sends what the ledger still lacks."""
    from prefect.runtime import task_run

    earlier = {(r["project_id"], r["recipient"]): r for r in summary.deliveries}
    first_attempt = (task_run.run_count or 1) <= 1
    pipeline.deliver_summary(summary, run_dir, output_dir, templates_dir, resend and first_attempt, settings=settings)
    # What an earlier attempt of this task sent shows as sent in this run, not as "already-sent".
    summary.deliveries = [earlier[key] if r["status"] == "already-sent" and earlier.get(key, {}).get("status")
                          == "accepted" else r for r in summary.deliveries
                          for key in [(r["project_id"], r["recipient"])]]
    logger = get_run_logger()
    earlier_sends: list[str] = []  # nothing sent now: logged in groups (reporting.log_lines)
    for record in summary.deliveries:
        line = display_name(f"email to {record['recipient']} for {record['project_id']}: {record['status']}"
                            + (f": {record['detail']}" if record.get("detail") else ""))
        if record["status"] == "already-sent":
            earlier_sends.append(line)
        elif not record.get("not_attempted"):  # those are one line below, not one per memo
            (logger.info if record["status"] in DELIVERED else logger.warning)("%s", line)
    log_lines(logger.info, earlier_sends)
    skipped = not_attempted_line(summary.deliveries)
    if skipped:
        logger.warning("%s", display_name(skipped))
    failed = [r for r in summary.deliveries if r["status"] not in DELIVERED]
    if skipped and all(r["status"] == "transient" for r in failed):
        raise MailServerUnreachable(f"{len(failed)} emails could not be sent yet: " + display_name(skipped)[:200])
    if failed and all(r["status"] == "transient" for r in failed):
        raise TransientDeliveryFailures(f"{len(failed)} emails could not be sent yet (transient): "
                                        + display_name(failed[0]["detail"] or "")[:200])


# --- the Dask runner: chunks of self-contained work units (modelmemo/batch/work_unit.py, scaleout.py) ----


@task(name="render-chunk", task_run_name="render-chunk-{number}-of-{count}", cache_policy=NO_CACHE)
def render_chunk_task(number: int, count: int, jobs: list[pipeline.RenderJob], client: Any, digest: str,
                      submitted: list) -> list[pipeline.ProjectOutcome]:
    """One chunk of memos: read its inputs here, render them on a Dask worker, check and write the
    results here (atomically, JSON last), and log each project. This task runs in the flow's
    process, so it reports to the flow's Prefect API; the Dask worker only renders."""
    from modelmemo.batch.scaleout import render_chunk

    units: list[WorkUnit] = []
    outcomes: dict[str, pipeline.ProjectOutcome] = {}
    for job in jobs:
        unit = pipeline.unit_from_job(job)
        if isinstance(unit, WorkUnit):
            units.append(unit)
        else:
            outcomes[job.project.project_id] = unit
    if units:
        future = client.submit(render_chunk, units, digest, pure=False)
        submitted.append(future)  # so that a stop can cancel it
        try:
            results = future.result()
        except (Exception, asyncio.CancelledError) as exc:  # a worker died or left, or the run is stopping
            error = f"render worker failed ({type(exc).__name__}: {exc}"[:300] + "); retried on the next run"
            results = [UnitResult(failed_outcome(unit.project, unit.run_id, unit.fingerprint, error))
                       for unit in units]
        for unit, result in zip(units, results):
            outcomes[unit.project.project_id] = pipeline.write_unit_result(unit, result, Path(jobs[0].run_dir))
    ordered = [outcomes[job.project.project_id] for job in jobs]
    logger = get_run_logger()
    for outcome in ordered:
        (logger.warning if outcome.status == "failed" else logger.info)(
            "[chunk %d/%d] %s", number, count, outcome_line(outcome))
    return ordered


def render_on_dask(jobs: list[pipeline.RenderJob], state: MemoState, progress: ProgressCallback,
                   address: str | None, workers: int) -> list[pipeline.ProjectOutcome]:
    """Render on the Dask cluster at `address` (or a local one of `workers` processes): the
    catalog and templates go to each worker once, as a bundle; memos go in chunks, at most a few
    per worker thread in flight; each finished chunk's memos are recorded and counted at once."""
    from prefect.futures import as_completed
    from prefect.task_runners import ThreadPoolTaskRunner

    from modelmemo.batch import scaleout

    bundle = RenderBundle.from_paths(jobs[0].catalog_files, jobs[0].templates_dir)
    outcomes: list[pipeline.ProjectOutcome] = []
    with scaleout.connect(address, workers) as client:
        threads = scaleout.worker_threads(client)
        scaleout.install_bundle(client, bundle)
        chunks = scaleout.chunk(jobs, threads)
        get_run_logger().info("rendering %d memos on Dask (%s, %d worker threads) in %d chunks",
                              len(jobs), display_name(address or "a local cluster"), threads, len(chunks))
        submitted: list = []
        with ThreadPoolTaskRunner(max_workers=min(len(chunks), scaleout.chunks_in_flight(threads))) as runner:
            try:
                futures = [runner.submit(render_chunk_task, {
                    "number": number, "count": len(chunks), "jobs": quote(chunk), "client": quote(client),
                    "digest": bundle.digest, "submitted": quote(submitted)}) for number, chunk in enumerate(chunks, 1)]
                for future in as_completed(futures):
                    for outcome in future.result():
                        unchanged.record_outcome(state, outcome)
                        outcomes.append(outcome)
                        progress(len(outcomes), len(jobs), outcome)
            except BaseException as exc:
                if not isinstance(exc, Exception):  # stopping: render nothing more, leave no partial memo
                    with critical():
                        client.cancel(list(submitted), force=True)
                        for job in jobs:
                            pipeline.remove_incomplete_memo(Path(job.run_dir), job.project.project_id)
                        remove_stale_temp_files(Path(jobs[0].run_dir))
                raise
    return outcomes


@task(name="write-index", cache_policy=NO_CACHE)
def index_task(summary: pipeline.BatchSummary, run_dir: Path, output_dir: Path, templates_dir: Path) -> None:
    pipeline.publish_run(summary, run_dir, output_dir, templates_dir)


def _stages(workers: int, runner: str, dask_address: str | None, key: str, run_id: str,
            settings: Settings) -> pipeline.BatchStages:
    """The batch's stages as Prefect tasks (the order and data flow live in `pipeline.run_locked_batch`)."""

    def render(jobs: list[pipeline.RenderJob], state: MemoState,
               progress: ProgressCallback | None) -> list[pipeline.ProjectOutcome]:
        reporter = ProgressReporter(key, run_id, len(jobs))
        if runner == "local":
            return render_task(jobs, workers, state, reporter)
        reporter.log_each = False  # each chunk task logs its own projects
        return render_on_dask(jobs, state, reporter, dask_address, workers)

    # The summary (and the plan's known inputs) go in quoted: Prefect would otherwise walk every
    # outcome of a large batch looking for futures, for each task (quote: passed as it is).
    def plan(input_dir: Path, settle_seconds: float, known: unchanged.KnownInputs) -> pipeline.BatchPlan:
        return plan_task(input_dir, settle_seconds, quote(known))

    def deliver(summary: pipeline.BatchSummary, run_dir: Path, output_dir: Path, templates_dir: Path,
                resend: bool) -> None:
        try:
            deliver_task(quote(summary), run_dir, output_dir, templates_dir, resend, settings)
        except TransientDeliveryFailures:
            pass  # reported in the summary, the final state and the exit code; the next run retries

    def publish(summary: pipeline.BatchSummary, run_dir: Path, output_dir: Path, templates_dir: Path) -> None:
        index_task(quote(summary), run_dir, output_dir, templates_dir)

    return pipeline.BatchStages(plan=plan, render=render, deliver=deliver, publish=publish)


@flow(name="modelmemo-batch", description="Requirement files in, decision memos (HTML, PDF, JSON) out.",
      flow_run_name=flow_run_name)
def memo_batch(
    input_dir: str | None = None,
    output_dir: str | None = None,
    run_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")] = None,
    workers: Annotated[int | None, Field(ge=1)] = None,
    force: bool = False,
    send_email: bool = True,
    resend: bool = False,
    runner: Annotated[str, Field(json_schema_extra={"enum": ["local", "dask"]})] = "local",
    dask_address: str | None = None,
    catalog_extra: list[str] | None = None,
    sync_catalog: bool = False,
):
    """Process the drop folder: one decision memo (HTML, PDF, JSON) per valid requirement file, a
    batch index, and email to each project's owner.

    No flow-level retries: Prefect also retries a flow that *returns* a Failed state (a failed memo),
    which would re-render a batch for a memo that fails deterministically. The email task retries
    transient failures in deployment runs; the next run picks up anything unfinished.

    Args:
        input_dir: The drop folder to read (absolute path on the machine that runs the flow;
            default MODELMEMO_INPUT_DIR, else ./inputs).
        output_dir: Where run folders, state and the outbox go (default MODELMEMO_OUTPUT_DIR, else ./output).
        run_id: Name of this run's folder (default: a new UTC timestamp id, also in the flow run's name).
        workers: Render processes (default MODELMEMO_WORKERS, else the CPU count).
        force: Re-render every memo, even unchanged ones (emails only decisions not yet sent).
        send_email: Email each memo's PDF to its owner and notify list.
        resend: Email every memo of the run again, even to recipients who already have it.
        runner: Where memos render: "local" (a process pool on this machine) or "dask" (a Dask cluster).
        dask_address: Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786
            (runner "dask" only; default: a local Dask cluster).
        catalog_extra: Extension catalogs merged over the shipped one, after any in
            MODELMEMO_CATALOG_EXTRA (absolute paths on the machine that runs the flow).
        sync_catalog: Run `catalog sync` first (the nightly deployment does, unless
            MODELMEMO_NIGHTLY_SYNC=false); a listing that cannot be read keeps the last good sync.
    """
    if runner not in ("local", "dask"):
        return Failed(message=f"unknown runner {runner!r}: use 'local' or 'dask'",
                      data=ValueError(f"unknown runner {runner!r}: use 'local' or 'dask'"))
    logger = get_run_logger()
    settings = Settings.from_env()  # a flow run is an entry point too (deployments have no CLI)
    if catalog_extra:
        settings = replace(settings, catalog_files=settings.catalog_files + tuple(Path(p) for p in catalog_extra))
    input_path = Path(input_dir or settings.input_dir)
    output_path = Path(output_dir or settings.output_dir)
    overlap = check_folders(input_path, output_path)
    if overlap:  # the deployment path has no CLI in front of it: refuse here too, before writing anything
        logger.error("%s", overlap)
        return Failed(message=overlap)
    run_id = run_id or run_id_from_flow_run_name() or pipeline.new_run_id()
    key = artifact_key(output_path)
    logger.info("run %s: %s -> %s", run_id, display_name(str(input_path)), display_name(str(run_dir(output_path, run_id))))
    if sync_catalog and settings.nightly_sync:
        sync_catalog_task(tuple(str(p) for p in settings.catalog_files), str(output_path),
                          settings.source_models_dev, settings.source_openrouter)
    settings = replace(settings, catalog_files=with_synced(settings.catalog_files, output_path))
    try:
        catalog = load_catalog_task([str(p) for p in settings.catalog_files])
        with batch_lock(output_path):
            summary = pipeline.run_locked_batch(
                _stages(workers or settings.workers, runner, dask_address, key, run_id, settings), catalog,
                settings.catalog_files, input_path, output_path, settings.templates_dir, run_id=run_id,
                force=force, settle_seconds=settings.settle_seconds, deliver=send_email, resend=resend,
                keep_runs=settings.keep_runs)
    except BatchLocked as exc:
        # Not an error of this run: another one is doing the work. No traceback, no partial output.
        logger.warning("%s", exc)
        return Cancelled(message=str(exc), data=exc)
    except (CatalogError, BrandError, ClusterError) as exc:  # a file or cluster to fix: failed, not retried
        logger.error("%s", display_name(str(exc)))
        return Failed(message=str(exc), data=exc)
    # rendered memos were logged as they completed; unchanged ones are logged in groups
    log_lines(logger.info, [outcome_line(outcome) for outcome in summary.projects if outcome.status == "skipped"])
    result_table_artifact(summary, key)
    index_artifact(summary, run_dir(output_path, summary.run_id), key, settings.public_base_url)
    state = final_state(summary)
    logger.info("run %s: %s; index %s", summary.run_id, state.message,
                display_name(str(index_file(run_dir(output_path, summary.run_id)))))
    return state
