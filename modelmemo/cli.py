"""The `modelmemo` command.

Exit codes (also in README):
  0  every input file produced a memo (or there was nothing to do)
  1  the batch ran, but some files were rejected or some memos failed (see the index)
  2  the batch could not run or finish: bad catalog, brand or templates, missing folder, output
     not writable (disk full, read-only); memos already written are complete
  3  another run is working on the same output folder (nothing was done)
  130  stopped by SIGINT (Ctrl-C)    } `run` and `watch` stop at once: the render workers and Prefect's
  143  stopped by SIGTERM (`kill`)   } temporary server end too, memos already written are complete,
  129  stopped by SIGHUP             } the ones being written are removed; one line on stderr says so
                                       (SIGHUP only if it was not ignored at start, as nohup does)
`watch` runs until stopped (130, 143, 129); it exits 2 at once if it cannot start (missing drop
folder; output folder == drop folder, or a drop folder inside a run folder or state/ of the output).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Callable, Sequence

from .settings import PROJECT_ROOT

EXIT_OK, EXIT_PARTIAL, EXIT_CANNOT_RUN, EXIT_LOCKED = 0, 1, 2, 3


def prefect_environment(verbose: bool = False) -> None:
    """Quiet, local Prefect defaults; set before Prefect is imported. Explicit settings win."""
    os.environ.setdefault("PREFECT_HOME", str(PROJECT_ROOT / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")  # what the Prefect UI shows for each run
    # The command reports progress, results and errors itself, in one line each; Prefect's own
    # console lines (with tracebacks) are for --verbose. They still reach the Prefect UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "DEBUG" if verbose else "CRITICAL")
    # Prefect's internal services (events, log shipping) print their own errors when the API is
    # unreachable; the command says that in one line itself (api_watch.py).
    os.environ.setdefault("PREFECT_LOGGING_INTERNAL_LEVEL", "DEBUG" if verbose else "CRITICAL")
    if not verbose:
        import logging

        logging.raiseExceptions = False  # the standard production setting: no "--- Error logging to API ---"
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def _print_progress(done: int, total: int, outcome) -> None:
    from .names import display_name as printable  # no terminal escapes or bidi controls reach the console

    if outcome.status == "memo":
        detail = f"{outcome.verdict_label}"
        if outcome.top_model_name:
            detail += f", top model {outcome.top_model_name} ({outcome.top_score:.1f})"
    elif outcome.status == "skipped":
        detail = "unchanged, memo kept"
    else:
        detail = f"FAILED: {outcome.error}"
    print(printable(f"[{done}/{total}] {outcome.project_id}: {detail}"), flush=True)


def _report(summary, output_dir: Path) -> int:
    """The run's result, one line per item. Every line goes through display_name: file names are
    already escaped, and problem messages or errors that quote content get the same treatment."""
    from .names import display_name as printable

    counts = summary.counts
    for rejection in summary.rejected:
        print(printable(f"rejected {rejection.file}:"))
        for problem in rejection.problems:
            print(printable(f"  {problem}"))
    for notice in summary.notices:
        print(printable(f"not processed {notice.file}: {notice.reason}"))
    run_dir = output_dir / summary.run_id
    for record in summary.deliveries:
        if record["status"] not in ("accepted", "already-sent"):
            print(printable(f"email to {record['recipient']} for {record['project_id']}: {record['status']}: "
                            f"{record['detail']}"))
    if summary.deliveries:
        counts_text = ", ".join(f"{n} {status}" for status, n in sorted(summary.delivery_counts.items()))
        outbox = run_dir / "outbox"
        where = f" (written to {outbox})" if outbox.is_dir() else ""
        print(printable(f"emails: {counts_text}{where}"))
    print(
        f"run {summary.run_id}: {counts['memos']} memos, {counts['skipped']} unchanged, "
        f"{counts['rejected']} rejected, {counts['failed']} failed, {counts['not_processed']} not processed"
    )
    print(printable(f"index: {run_dir / 'index.html'}"))
    return EXIT_OK if summary.ok else EXIT_PARTIAL


def cmd_run(args: argparse.Namespace) -> int:
    from .catalog import CatalogError, load_catalog
    from .brand import BrandError, load_brand
    from .settings import Settings

    if getattr(args, "catalog_extra", None):
        # The flow (and its worker processes) read settings from the environment.
        extra = [str(Path(p).resolve()) for p in args.catalog_extra]
        current = [p for p in os.environ.get("MODELMEMO_CATALOG_EXTRA", "").split(os.pathsep) if p]
        os.environ["MODELMEMO_CATALOG_EXTRA"] = os.pathsep.join(current + extra)
    settings = Settings.from_env()
    input_dir = Path(args.input_dir or settings.input_dir)
    output_dir = Path(args.output or settings.output_dir)
    if not input_dir.is_dir():
        print(f"error: input folder {input_dir} does not exist", file=sys.stderr)
        return EXIT_CANNOT_RUN
    from .ownership import check_folders

    overlap = check_folders(input_dir, output_dir)
    if overlap:
        print(f"error: {overlap}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    from .state import BatchLocked, lock_holder, locked_message

    holder = lock_holder(output_dir)  # said now, not after Prefect's temporary server has started
    if holder:
        print(f"error: {locked_message(output_dir, holder)}", file=sys.stderr)
        return EXIT_LOCKED
    try:
        load_catalog(list(settings.catalog_files))
        load_brand(settings.templates_dir)
    except (CatalogError, BrandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    prefect_environment(args.verbose)
    from .api_watch import ApiWatchdog, api_problem, temporary_server_url

    api_url = os.environ.get("PREFECT_API_URL")
    if api_url:
        problem = api_problem(api_url, timeout=5.0)
        if problem:
            print(f"error: cannot reach the Prefect API at {api_url} ({problem}); start that server "
                  "(`prefect server start`) or unset PREFECT_API_URL to use a temporary one", file=sys.stderr)
            return EXIT_CANNOT_RUN
    else:
        print("starting Prefect's temporary local server (set PREFECT_API_URL to use a running one)...",
              flush=True)
    from flows.batch import memo_batch

    try:
        with ApiWatchdog(lambda: api_url or temporary_server_url(), _stop_when_api_lost, known_up=bool(api_url)):
            state = memo_batch(
                input_dir=str(input_dir), output_dir=str(output_dir), workers=args.workers, force=args.force,
                send_email=not args.no_email, resend=getattr(args, "resend", False), runner=args.runner,
                dask_address=args.dask_address, progress=_print_progress, return_state=True,
            )
        summary = state.result(raise_on_failure=False)
    except Exception as exc:  # Prefect could not run the flow at all (API refused it, ...): one line, no traceback
        summary = exc
    if isinstance(summary, BatchLocked):
        print(f"error: {summary}", file=sys.stderr)
        return EXIT_LOCKED
    if isinstance(summary, BaseException):
        detail = f"{summary.strerror}: {summary.filename}" if isinstance(summary, OSError) and summary.strerror \
            else str(summary)
        print(f"error: the run stopped: {detail} (memos already written are complete; "
              "`--verbose` shows Prefect's logs)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return _report(summary, output_dir)


def _stop_when_api_lost(api_url: str, problem: str) -> None:
    """Called by the API watchdog's thread: the run cannot report to Prefect any more, and Prefect's
    client would retry for minutes. Every memo file is written atomically, so stopping now loses
    nothing that was complete; the next run renders and sends the rest."""
    from . import shutdown

    if shutdown.received() is not None:
        return  # a stop signal is already ending the command (shutdown.py bounds how long that takes)
    print(f"error: lost the Prefect API at {api_url} ({problem}); stopped. Memos already written are "
          "complete; run again when the server is back", file=sys.stderr, flush=True)
    shutdown.stop_temporary_server()  # if it is the one that stopped answering, it must not linger
    os._exit(EXIT_CANNOT_RUN)  # render workers end with this process (shutdown.init_render_worker)


def cmd_validate(args: argparse.Namespace) -> int:
    """One line per problem. Files are read as a run reads them: a symbolic link is not followed,
    and a FIFO, device or socket is refused in one line without being read (nothing blocks).
    Names and problems are printed escaped (names.display_name)."""
    from .names import display_name as printable
    from .validation import validate_file

    status = EXIT_OK
    for name in args.files:
        path = Path(name)
        label = printable(name)
        if not os.path.lexists(path) or (path.is_dir() and not path.is_symlink()):
            print(f"{label}: {'no such file' if not os.path.lexists(path) else 'is a folder'}")
            status = EXIT_PARTIAL
            continue
        from .names import is_valid_utf8_name

        if not is_valid_utf8_name(path.name):  # a run reports such a file as "not processed"
            print(f"{label}: the file name is not valid UTF-8, so a run will not process it; rename the file")
            status = EXIT_PARTIAL
            continue
        _, problems = validate_file(path, label)
        if problems:
            status = EXIT_PARTIAL
            for problem in problems:
                print(printable(str(problem)))
        else:
            print(f"{label}: valid")
    return status


def cmd_catalog(args: argparse.Namespace) -> int:
    from .catalog import CatalogError, load_catalog
    from .settings import Settings

    settings = Settings.from_env()
    files = list(settings.catalog_files) + [Path(p) for p in args.extra or []]
    try:
        catalog = load_catalog(files)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    rows = [("id", "name", "vendor", "open/closed", "lifecycle", "tasks", "deployments")]
    for model in catalog.models.values():
        # The article named e.g. "Llama 2"; the entry describes the family's current version.
        name = f"{model.name} (article: {model.seed.name})" if getattr(model, "seed", None) \
            and model.seed.name not in model.name else model.name
        rows.append((model.id, name, model.vendor, model.openness, model.lifecycle,
                     ", ".join(model.tasks), ", ".join(d.id for d in model.deployments) or "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\n{len(catalog.models)} models, {len(catalog.sources)} sources; facts checked "
          f"{catalog.oldest_as_of} to {catalog.as_of}; files: {', '.join(catalog.files)}")
    if not args.check:
        return EXIT_OK
    from datetime import date

    from .freshness import count_facts, format_report, stale_facts

    today = date.today()
    stale = stale_facts(catalog, args.max_age_days, today)
    print()
    print(format_report(stale, args.max_age_days, today, total_facts=count_facts(catalog)))
    return EXIT_PARTIAL if stale else EXIT_OK


def _require_server() -> str | None:
    """Schedules need a real Prefect server; return its API URL or print how to start one."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        print("error: set PREFECT_API_URL to a running Prefect server, for example:\n"
              "  .venv/bin/prefect server start &\n"
              "  export PREFECT_API_URL=http://127.0.0.1:4200/api", file=sys.stderr)
        return None
    return url


def cmd_serve(args: argparse.Namespace) -> int:
    prefect_environment(args.verbose)
    if not _require_server():
        return EXIT_CANNOT_RUN
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r} (use an IANA name such as Europe/Berlin)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    from prefect import serve

    from flows.deployment import nightly_deployment

    deployment = nightly_deployment(args.cron, args.timezone, args.input_dir, args.output, args.name)
    print(f"serving deployment 'modelmemo-batch/{args.name}' on cron '{args.cron}' ({args.timezone}); "
          "Ctrl-C stops serving", flush=True)
    serve(deployment, print_starting_message=False)
    return EXIT_OK


class WatchRunNotDone(Exception):
    """A run started by watch mode could not process the folder (locked, or it could not start)."""


def watch_run(run_args: argparse.Namespace) -> Callable[[list[str]], None]:
    """What watch mode does on a change: a run; raises when the run could not process the folder
    (exit code 2 or 3), so the watcher retries it later."""

    def on_change(names: list[str]) -> None:
        if names:
            from .names import display_name

            changed = ", ".join(display_name(name) for name in sorted(names))
            print(f"change in {display_name(str(run_args.input_dir))}: {changed}; starting a run", flush=True)
        else:  # the catch-up run at start (or its retry)
            print(f"catching up on {run_args.input_dir}: starting a run", flush=True)
        code = cmd_run(run_args)
        if code in (EXIT_CANNOT_RUN, EXIT_LOCKED):
            raise WatchRunNotDone(f"run ended with exit code {code}")

    return on_change


def cmd_watch(args: argparse.Namespace) -> int:
    """Runs until stopped by a signal (see `main`); the catch-up run at start is retried like any other."""
    from .ownership import check_folders
    from .settings import Settings
    from .watch import retry_seconds_from_env, watch_folder

    settings = Settings.from_env()
    input_dir = Path(args.input_dir or settings.input_dir)
    output_dir = Path(args.output or settings.output_dir)
    if not input_dir.is_dir():
        print(f"error: input folder {input_dir} does not exist", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        problem = check_folders(input_dir, output_dir)
        retry_seconds = retry_seconds_from_env()
    except ValueError as exc:
        problem = str(exc)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    run_args = argparse.Namespace(input_dir=str(input_dir), output=str(output_dir), workers=None, force=False,
                                  no_email=args.no_email, verbose=args.verbose, catalog_extra=None,
                                  runner="local", dask_address=None)
    print(f"watching {input_dir} (Ctrl-C or SIGTERM stops); the nightly run still sweeps anything missed",
          flush=True)
    watch_folder(input_dir, watch_run(run_args), debounce_seconds=args.debounce,
                 settle_seconds=settings.settle_seconds, retry_seconds=retry_seconds, initial_run=True,
                 output_dir=output_dir)
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    """Resend chosen memos of a run (default: the latest) now, even if they were sent before."""
    import json

    from .delivery import DeliveryJob, LedgerError, deliver
    from .mailers import configured_smtp, make_mailer
    from .settings import Settings
    from .state import state_dir

    settings = Settings.from_env()
    output_dir = Path(args.output or settings.output_dir)
    try:
        run_id = args.run or (output_dir / "LATEST").read_text().strip()
    except FileNotFoundError:
        print(f"error: no run in {output_dir} yet; run `modelmemo run` first", file=sys.stderr)
        return EXIT_CANNOT_RUN
    run_dir = output_dir / run_id
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        print(f"error: {run_dir} has no readable summary.json", file=sys.stderr)
        return EXIT_CANNOT_RUN
    projects = {p["project_id"]: p for p in summary["projects"] if p["status"] in ("memo", "skipped")}
    unknown = [p for p in args.projects if p not in projects]
    if unknown:
        print(f"error: no memo for {', '.join(unknown)} in run {run_id} (has: {', '.join(sorted(projects))})",
              file=sys.stderr)
        return EXIT_CANNOT_RUN
    jobs = [DeliveryJob(pid, run_dir / projects[pid]["json"], run_dir / projects[pid]["pdf"],
                        projects[pid]["recipients"]) for pid in args.projects]
    smtp = configured_smtp(os.environ)
    mailer = make_mailer(smtp, run_dir / "outbox")
    try:
        records = deliver(jobs, mailer, state_dir(output_dir) / "deliveries.json", sender=smtp.sender,
                          templates_dir=settings.templates_dir, retries=settings.smtp_retries,
                          backoff_seconds=settings.smtp_backoff_seconds, force=not args.only_unsent)
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    for record in records:
        print(f"{record.project_id} -> {record.recipient}: {record.status}"
              + (f" ({record.detail})" if record.detail else ""))
    return EXIT_OK if all(r.status in ("accepted", "already-sent") for r in records) else EXIT_PARTIAL


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete old run folders; never one that holds a current memo or the latest run."""
    from .retention import prune_runs
    from .settings import Settings
    from .state import BatchLocked, StateError, batch_lock

    output_dir = Path(args.output or Settings.from_env().output_dir)
    if args.keep < 1:
        print("error: --keep must be at least 1 (the newest run is always kept)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        with batch_lock(output_dir):
            report = prune_runs(output_dir, args.keep, dry_run=args.dry_run)
    except BatchLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except (StateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    verb = "would remove" if args.dry_run else "removed"
    for name in report.removed:
        print(f"{verb} {output_dir / name}")
    for name in report.kept_for_memos:
        print(f"kept {output_dir / name} (current memos live there)")
    total = len(report.removed) + len(report.kept)
    print(f"{len(report.removed)} of {total} run folders {'would be removed' if args.dry_run else 'removed'}")
    return EXIT_OK


def _at_least_one(text: str) -> int:
    """argparse type: a whole number of at least 1 (argparse turns the error into one line, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


class _OneLineErrors(argparse.ArgumentParser):
    """Usage errors in one line on stderr, exit code 2, like every other error of the command
    (argparse prints the whole usage block first)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_CANNOT_RUN, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog="modelmemo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="process the drop folder: one memo per valid requirement file")
    run.add_argument("input_dir", nargs="?", help="drop folder (default: inputs/)")
    run.add_argument("--output", help="output folder (default: output/)")
    run.add_argument("--workers", type=_at_least_one, default=None, help="render processes (default: CPU count)")
    run.add_argument("--catalog-extra", action="append", metavar="FILE",
                     help="extension catalog merged over the shipped one (repeatable; also MODELMEMO_CATALOG_EXTRA)")
    run.add_argument("--force", action="store_true",
                     help="re-render every memo, even unchanged ones (emails only decisions not yet sent)")
    run.add_argument("--resend", action="store_true", help="email every memo of the run again, even if already sent")
    run.add_argument("--no-email", action="store_true", help="render only; send nothing")
    run.add_argument("--runner", choices=("local", "dask"), default="local",
                     help="where memos render: local process pool (default) or a Dask cluster")
    run.add_argument("--dask-address", help="scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                                            "(default with --runner dask: a local cluster)")
    run.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check requirement files; non-zero exit on any error")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(func=cmd_validate)

    serve = sub.add_parser("serve", help="serve the nightly deployment on a running Prefect server")
    serve.add_argument("--cron", default="0 2 * * *", help="cron schedule (default: 02:00 every night)")
    serve.add_argument("--timezone", default="UTC", help="IANA time zone of the cron schedule (default: UTC)")
    serve.add_argument("--name", default="nightly", help="deployment name (default: nightly)")
    serve.add_argument("--input-dir", help="drop folder (default: inputs/)")
    serve.add_argument("--output", help="output folder (default: output/)")
    serve.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    serve.set_defaults(func=cmd_serve)

    watch = sub.add_parser("watch", help="run a batch shortly after files arrive in the drop folder")
    watch.add_argument("input_dir", nargs="?", help="drop folder (default: inputs/)")
    watch.add_argument("--output", help="output folder (default: output/)")
    watch.add_argument("--debounce", type=float, default=5.0, help="seconds of quiet before a run (default: 5)")
    watch.add_argument("--no-email", action="store_true", help="render only; send nothing")
    watch.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    watch.set_defaults(func=cmd_watch)

    send = sub.add_parser("send", help="email chosen memos again now")
    send.add_argument("projects", nargs="+", help="project ids")
    send.add_argument("--run", help="run id (default: the latest run)")
    send.add_argument("--output", help="output folder (default: output/)")
    send.add_argument("--only-unsent", action="store_true", help="skip recipients who already received this memo")
    send.set_defaults(func=cmd_send)

    prune = sub.add_parser("prune", help="delete old run folders (never one that holds a current memo)")
    prune.add_argument("--keep", type=int, required=True, help="how many of the newest runs to keep")
    prune.add_argument("--output", help="output folder (default: output/)")
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    prune.set_defaults(func=cmd_prune)

    catalog = sub.add_parser("catalog", help="show the model catalog")
    catalog.add_argument("--extra", action="append", help="extension catalog file (repeatable)")
    catalog.add_argument("--check", action="store_true", help="list facts older than --max-age-days; exit 1 if any")
    catalog.add_argument("--max-age-days", type=int, default=180, help="age limit for --check (default: 180)")
    catalog.set_defaults(func=cmd_catalog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "validate":  # every setting is checked before any input is touched
        from .settings import SettingsError, check_environment

        try:
            check_environment()
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CANNOT_RUN
    # SIGINT, SIGTERM and SIGHUP stop any command with one line on stderr and exit code 130, 143 or
    # 129, leaving no process behind (see shutdown.py).
    from . import shutdown

    if args.func is not cmd_serve:  # `serve` is Prefect's runner, which handles signals itself
        shutdown.install()
    try:
        code = args.func(args)
    except BrokenPipeError:  # `modelmemo catalog | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        code = EXIT_PARTIAL
    except KeyboardInterrupt as exc:  # our Stopped, or a library's stand-in for it (watchfiles)
        code = shutdown.announce(shutdown.received() or getattr(exc, "signum", None) or signal.SIGINT)
    except Exception:
        if shutdown.received() is None:
            raise
        code = shutdown.announce(shutdown.received())  # stopping made something else fail first
    else:
        if shutdown.received() is not None:  # a library turned the stop into a result
            code = shutdown.announce(shutdown.received())
    finally:
        if argv is None:  # the command itself: exiting now; signals must not interrupt atexit handlers
            shutdown.finish()
        else:  # called in-process (tests): give the caller its signal handlers back
            shutdown.uninstall()
    return code


if __name__ == "__main__":
    sys.exit(main())
