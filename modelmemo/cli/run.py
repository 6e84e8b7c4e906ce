"""`run` (one batch over the drop folder) and `watch` (a batch shortly after files arrive)."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Callable

from modelmemo.cli.console import ProgressDisplay, error, print_json_report, print_report
from modelmemo.cli.exits import EXIT_CANNOT_RUN, EXIT_LOCKED, EXIT_NOTHING_TO_DO, EXIT_OK
from modelmemo.cli.prefect_setup import (PrefectScope, api_unreachable_hint, stop_when_api_lost,
                                         temporary_server_url_or_none)

IGNORED_NAMED = 5  # the "nothing to do" line names this many ignored entries, then "and N more"


def nothing_to_do(input_dir: Path, settle_seconds: float) -> tuple[str, list[dict[str, str]]] | None:
    """None when a run has something to read; otherwise the one-line message and what was left.

    "Nothing to do" is: no requirement file a run would read (or reject) now. An empty folder, a folder with only
    `notes.txt` and a subfolder, or one whose only YAML file is still being copied all end the same
    way (exit 4, no Prefect, no run folder), and the line names what was left and why, so nothing is
    silently ignored. A later run (or `watch`) takes a file once it has settled."""
    from modelmemo.inputs.discovery import scan_drop_folder
    from modelmemo.inputs.names import display_name

    entries = scan_drop_folder(input_dir, settle_seconds)
    # A rejection is news: a run reports it. A file dated ahead of the clock ("ahead") is looked at
    # again by the run (discovery.scan_settled), which reads it if it stayed unchanged.
    if any(entry.kind in ("input", "rejected", "ahead") for entry in entries):
        return None
    folder = display_name(str(input_dir))
    left = [{"file": entry.name, "reason": entry.reason} for entry in entries]
    if not entries:
        return (f"nothing to do: the drop folder {folder} is empty (copy requirement files into it; "
                "`modelmemo init` adds an example)"), left
    named = "; ".join(f"{item['file']} ({item['reason']})" for item in left[:IGNORED_NAMED])
    if len(left) > IGNORED_NAMED:
        named += f"; and {len(left) - IGNORED_NAMED} more"
    waiting = any(entry.kind == "in-progress" for entry in entries)
    return (f"nothing to do{' yet' if waiting else ''}: no requirement file (.yaml, .yml, .json) "
            f"{'ready ' if waiting else ''}in {folder}; not processed: {named}"), left


def folders_problem(input_dir: Path, output_dir: Path, hint: str = "") -> str | None:
    """Why `run`/`watch` cannot use these folders (no drop folder; folders that overlap), or None."""
    from modelmemo.batch.ownership import check_folders

    if not input_dir.is_dir():
        return f"input folder {input_dir} does not exist{hint}"
    return check_folders(input_dir, output_dir)


def cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from modelmemo.batch.work_unit import cached_catalog
    from modelmemo.catalog.load import CatalogError
    from modelmemo.memo.brand import BrandError, load_brand

    settings = args.settings
    extra = [str(Path(p).resolve()) for p in getattr(args, "catalog_extra", None) or []]
    if extra:  # checked here (one line, exit 2) and passed to the flow as a parameter
        settings = replace(settings, catalog_files=settings.catalog_files + tuple(Path(p) for p in extra))
    input_dir = Path(args.input_dir or settings.input_dir).absolute()
    output_dir = Path(args.output or settings.output_dir).absolute()
    json_output = getattr(args, "json", False)
    hint = " (run `modelmemo init` to lay out a working folder)" if not args.input_dir else ""
    problem = folders_problem(input_dir, output_dir, hint)
    if problem:
        error(problem)
        return EXIT_CANNOT_RUN
    from modelmemo.batch.state import lock_holder, locked_message

    holder = lock_holder(output_dir)  # said now, not after Prefect's temporary server has started
    if holder:
        error(locked_message(output_dir, holder))
        return EXIT_LOCKED
    idle = nothing_to_do(input_dir, settings.settle_seconds)
    if idle:  # said before Prefect starts; no empty run folder either
        message, left = idle
        error(message, prefix="", not_processed=left)
        return EXIT_NOTHING_TO_DO
    from modelmemo.catalog.synced import with_synced

    try:
        # parsed once: the flow reuses it (with the last `catalog sync` of this output folder, as the flow merges it)
        cached_catalog(tuple(str(p) for p in with_synced(settings.catalog_files, output_dir)))
        load_brand(settings.templates_dir)
    except (CatalogError, BrandError) as exc:
        error(str(exc))
        return EXIT_CANNOT_RUN
    own_scope = getattr(args, "prefect", None) is None  # main's scope lasts the whole command
    scope = PrefectScope() if own_scope else args.prefect
    try:
        scope.enter(args.verbose)  # Prefect's settings for this command (prefect_setup.prefect_settings)
        return _run_flow(args, input_dir, output_dir, extra, json_output)
    finally:
        if own_scope:  # a caller without main (tests): this run's settings end with it
            scope.close()


def _run_flow(args: argparse.Namespace, input_dir: Path, output_dir: Path, extra: list[str], json_output: bool) -> int:
    """The flow run, its progress on the console and its result; Prefect's settings are in place."""
    from prefect.settings import PREFECT_API_URL

    from modelmemo.process.api_watch import ApiWatchdog, api_problem, temporary_server_url

    api_url = PREFECT_API_URL.value()  # the environment's, or the active profile's
    if api_url:
        problem = api_problem(api_url)
        if problem:
            error(f"cannot reach the Prefect API at {api_url} ({problem}); start that server "
                  f"(`prefect server start`), or {api_unreachable_hint()} to use a temporary one")
            return EXIT_CANNOT_RUN
    else:
        print("starting Prefect's temporary local server (set PREFECT_API_URL to use a running one)...",
              file=sys.stderr if json_output else sys.stdout, flush=True)
    from modelmemo.flows.batch import memo_batch
    from modelmemo.flows.reporting import reporting_progress
    from modelmemo.batch.pipeline import new_run_id

    freeze_imports()
    display = ProgressDisplay.for_stdout(json_output)
    watchdog = ApiWatchdog(lambda: api_url or temporary_server_url_or_none(temporary_server_url), stop_when_api_lost,
                           known_up=bool(api_url)).start()
    state = None
    try:
        # No flow retries here: the person at the terminal gets the result now (exit code 2) and
        # runs again; deployment runs retry by themselves (flows/batch.py).
        with reporting_progress(display):
            state = memo_batch.with_options(retries=0)(
                input_dir=str(input_dir), output_dir=str(output_dir), run_id=new_run_id(), workers=args.workers,
                force=args.force, send_email=not args.no_email, resend=getattr(args, "resend", False),
                runner=args.runner, dask_address=args.dask_address, catalog_extra=extra or None, return_state=True,
            )
        summary = state.result(raise_on_failure=False)
    except Exception as exc:  # Prefect could not run the flow at all (API refused it, ...): one line, no traceback
        summary = exc
    finally:
        display.close()
    code = _report_result(summary, state, output_dir, json_output)
    if getattr(args, "is_process", False):  # the process exits next: Prefect's exit flush stays bounded
        watchdog.until_exit(code)
    else:  # in-process callers (watch mode, tests) go on: nothing may end their process later
        watchdog.stop()
    return code


_frozen = False


def freeze_imports() -> None:
    """Move what is alive once Prefect and the flow are imported (modules, classes, Prefect's
    settings: about 120,000 objects, alive until the process ends) out of the garbage collector's
    reach, once per process: a full collection during the run then scans only the run's own
    objects (each one scanned all of them, about 0.06 s; a nightly rerun ran four). Done once, so
    a watch process never freezes what a finished run left behind. The render workers do the same
    (memo/render.settle_render_process)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def _report_result(summary, state, output_dir: Path, json_output: bool) -> int:
    """The run's result on the console (or as JSON), and its exit code."""
    from modelmemo.batch.state import BatchLocked

    if isinstance(summary, BatchLocked):
        error(str(summary))
        return EXIT_LOCKED
    if summary is None or isinstance(summary, BaseException):
        detail = f"{summary.strerror}: {summary.filename}" if isinstance(summary, OSError) and summary.strerror \
            else str(summary if summary is not None else state.message)
        error(f"the run stopped: {detail} (memos already written are complete; "
              "`--verbose` shows Prefect's logs)")
        return EXIT_CANNOT_RUN
    if json_output:
        return print_json_report(summary, output_dir)
    return print_report(summary, output_dir)


class WatchRunNotDone(Exception):
    """A run started by watch mode could not process the folder (locked, or it could not start)."""


def watch_run(run_args: argparse.Namespace) -> Callable[[list[str]], None]:
    """What watch mode does on a change: a run; raises when the run could not process the folder
    (exit code 2 or 3), so the watcher retries it later."""

    def on_change(names: list[str]) -> None:
        if names:
            from modelmemo.inputs.names import display_name

            changed = ", ".join(display_name(name) for name in sorted(names))
            print(f"change in {display_name(str(run_args.input_dir))}: {changed}; starting a run", flush=True)
        else:  # the catch-up run at start (or its retry)
            print(f"catching up on {run_args.input_dir}: starting a run", flush=True)
        code = cmd_run(run_args)
        if code in (EXIT_CANNOT_RUN, EXIT_LOCKED):
            raise WatchRunNotDone(f"run ended with exit code {code}")

    return on_change


def _say(line: str) -> None:
    """The watcher's own lines (a run failed and is retried, the drop folder went and came back) on
    stderr, whatever the log level: Prefect's console handler shows only CRITICAL without --verbose."""
    print(line, file=sys.stderr, flush=True)


def cmd_watch(args: argparse.Namespace) -> int:
    """Runs until stopped by a signal (see `main`); the catch-up run at start is retried like any other."""
    from modelmemo.inputs.watch import watch_folder

    settings = args.settings
    input_dir = Path(args.input_dir or settings.input_dir)
    output_dir = Path(args.output or settings.output_dir)
    problem = folders_problem(input_dir, output_dir)
    if problem:
        error(problem)
        return EXIT_CANNOT_RUN
    run_args = argparse.Namespace(input_dir=str(input_dir), output=str(output_dir), workers=None, force=False,
                                  no_email=args.no_email, verbose=args.verbose, catalog_extra=None,
                                  runner="local", dask_address=None, settings=settings,
                                  prefect=getattr(args, "prefect", None))
    print(f"watching {input_dir} (Ctrl-C or SIGTERM stops); the nightly run still sweeps anything missed",
          flush=True)
    watch_folder(input_dir, watch_run(run_args), debounce_seconds=args.debounce,
                 settle_seconds=settings.settle_seconds, retry_seconds=settings.watch_retry_seconds, initial_run=True,
                 output_dir=output_dir, report=_say)
    return EXIT_OK
