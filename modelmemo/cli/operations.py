"""`init` (a working folder), `serve` (the nightly deployment), `send` (email memos again) and `prune`
(old run folders)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from modelmemo.cli.exits import EXIT_CANNOT_RUN, EXIT_LOCKED, EXIT_OK, EXIT_PARTIAL
from modelmemo.cli.prefect_setup import api_unreachable_hint, require_server


def cmd_init(args: argparse.Namespace) -> int:
    from modelmemo.cli.init_folder import InitError, lay_out

    try:
        created = lay_out(Path(args.directory), all_examples=args.examples)
    except InitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    for line in created:
        print(line)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    args.prefect.enter(args.verbose)  # Prefect's settings for this command (prefect_setup.prefect_settings)
    url = require_server()
    if not url:
        return EXIT_CANNOT_RUN
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r} (use an IANA name such as Europe/Berlin)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    from modelmemo.process.api_watch import api_problem

    problem = api_problem(url)
    if problem:
        print(f"error: cannot reach the Prefect API at {url} ({problem}); start that server "
              f"(`prefect server start`), or {api_unreachable_hint()} and configure the right one",
              file=sys.stderr)
        return EXIT_CANNOT_RUN
    from modelmemo.flows.deployment import nightly_deployment

    # Absolute paths, shown as the deployment's parameters in the UI: flow runs read them, whatever
    # folder they run in.
    settings = args.settings
    input_dir = str(Path(args.input_dir or settings.input_dir).absolute())
    output_dir = str(Path(args.output or settings.output_dir).absolute())
    deployment = nightly_deployment(args.cron, args.timezone, input_dir, output_dir, args.name)
    print(f"serving deployment 'modelmemo-batch/{args.name}' on cron '{args.cron}' ({args.timezone}) at {url}; "
          "Ctrl-C or SIGTERM stops serving and pauses its schedule", flush=True)
    signum = serve_until_stopped(deployment)
    if signum is None:  # the runner ended by itself (not seen with Prefect 3.9): say so, no stop code
        print(f"modelmemo: serving 'modelmemo-batch/{args.name}' ended", file=sys.stderr, flush=True)
        return EXIT_OK
    print(f"modelmemo: stopped serving 'modelmemo-batch/{args.name}' ({signal.Signals(signum).name}); its schedule "
          "is paused until `modelmemo serve` runs again", file=sys.stderr, flush=True)
    return 128 + signum  # 130, 143, 129: the same codes as `run` and `watch`


def serve_until_stopped(deployment) -> int | None:
    """What `prefect.serve(deployment)` does (a Runner that pauses the schedule on shutdown), keeping
    the signal that stopped it. Prefect's `serve` returns normally on SIGINT (it catches the
    KeyboardInterrupt) and on SIGTERM (the Runner's handler stops it gracefully), so its caller
    cannot tell a stop from anything else. SIGHUP, Python's default for which is to die without
    pausing the schedule, takes SIGTERM's graceful path unless it was ignored at start (nohup)."""
    import asyncio

    from prefect.runner import Runner
    from prefect.exceptions import TerminationSignal

    class _Runner(Runner):
        stopped_by: int | None = None

        def handle_sigterm(self, *args, **kwargs) -> None:
            signum = args[0] if args and isinstance(args[0], int) else signal.SIGTERM
            self.stopped_by = self.stopped_by or signum
            super().handle_sigterm(*args, **kwargs)

    runner = _Runner(pause_on_shutdown=True)
    runner.add_deployment(deployment)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, runner.handle_sigterm)
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:  # SIGINT: asyncio cancelled the runner, whose exit paused the schedule
        return runner.stopped_by or signal.SIGINT
    except TerminationSignal as exc:
        return runner.stopped_by or exc.signal
    except SystemExit:  # the Runner's handler exits at once when the signal came before it started
        if runner.stopped_by is None:
            raise
    return runner.stopped_by


def cmd_send(args: argparse.Namespace) -> int:
    """Resend chosen memos of a run (default: the latest) now, even if they were sent before."""
    import json

    from modelmemo.delivery.ledger import DeliveryJob, LedgerError, deliver, not_attempted_line
    from modelmemo.delivery.mailers import configured_smtp, make_mailer
    from modelmemo.batch import layout

    settings = args.settings
    output_dir = Path(args.output or settings.output_dir)
    try:
        run_id = args.run or layout.latest_file(output_dir).read_text().strip()
    except FileNotFoundError:
        print(f"error: no run in {output_dir} yet; run `modelmemo run` first", file=sys.stderr)
        return EXIT_CANNOT_RUN
    run_dir = layout.run_dir(output_dir, run_id)
    try:
        summary = json.loads(layout.summary_file(run_dir).read_text())
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
    smtp = configured_smtp(settings)
    mailer = make_mailer(smtp, layout.outbox_dir(run_dir))
    try:
        records = deliver(jobs, mailer, layout.ledger_file(output_dir), sender=smtp.sender,
                          templates_dir=settings.templates_dir, retries=settings.smtp_retries,
                          backoff_seconds=settings.smtp_backoff_seconds, force=not args.only_unsent,
                          public_base_url=settings.public_base_url, breaker_failures=settings.smtp_breaker_failures)
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except OSError as exc:  # the ledger's folder: a file in its place, read-only, full (mailers never raise)
        state = layout.state_dir(output_dir)
        why = "it is not a folder" if state.exists() and not state.is_dir() else exc.strerror or str(exc)
        print(f"error: cannot write the send ledger in {state} ({why}); make {state} a folder this user can "
              "write to (keep its deliveries.json: it records what was sent), then send again", file=sys.stderr)
        return EXIT_CANNOT_RUN
    for record in records:
        if not record.not_attempted:  # those are one line below, not one per memo
            print(f"{record.project_id} -> {record.recipient}: {record.status}"
                  + (f" ({record.detail})" if record.detail else ""))
    skipped = not_attempted_line([r.as_dict() for r in records])
    if skipped:
        print(skipped)
    return EXIT_OK if all(r.status in ("accepted", "already-sent") for r in records) else EXIT_PARTIAL


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete old run folders; never one that holds a current memo or the latest run."""
    from modelmemo.batch.retention import prune_runs
    from modelmemo.batch.state import BatchLocked, StateError, batch_lock

    output_dir = Path(args.output or args.settings.output_dir)
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
