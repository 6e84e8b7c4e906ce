"""The `modelmemo` command.

Exit codes (also in README):
  0  every input file produced a memo
  1  the batch ran, but some files were rejected or some memos failed (see the index)
  2  the batch could not run or finish: bad catalog, brand or templates, missing folder, output
     not writable (disk full, read-only); memos already written are complete
  3  another run is working on the same output folder (nothing was done)
  4  nothing to do: the drop folder is empty (no run folder is made)
  130  stopped by SIGINT (Ctrl-C)    } `run` and `watch` stop at once: the render workers and Prefect's
  143  stopped by SIGTERM (`kill`)   } temporary server end too, memos already written are complete,
  129  stopped by SIGHUP             } the ones being written are removed; one line on stderr says so
                                       (SIGHUP only if it was not ignored at start, as nohup does)
`watch` runs until stopped (130, 143, 129); it exits 2 at once if it cannot start (missing drop
folder; output folder == drop folder, or a drop folder inside a run folder or state/ of the output).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

EXIT_OK, EXIT_PARTIAL, EXIT_CANNOT_RUN, EXIT_LOCKED, EXIT_NOTHING_TO_DO = 0, 1, 2, 3, 4

EXIT_CODES_HELP = """exit codes:
  0    every input file produced a memo
  1    done, but some files were rejected, memos failed or emails were not delivered
       (validate: some file has a problem; catalog --check: some fact is too old)
  2    could not start or finish: bad setting, catalog or brand file, missing or overlapping
       folders, output folder full or read-only, Prefect API unreachable or lost
  3    another run holds the output folder's lock (nothing was done)
  4    nothing to do: the drop folder is empty
  130, 143, 129   stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP

Every error is one line on stderr. Settings: MODELMEMO_* environment variables (see README)."""


def version_text() -> str:
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    from . import __version__

    mine = installed("modelmemo")
    return (f"modelmemo {mine if mine != 'not installed' else __version__} (Prefect {installed('prefect')}, "
            f"Python {sys.version.split()[0]})")


def user_prefect_api_url(env: Mapping[str, str] | None = None) -> str | None:
    """The Prefect API the user configured, without importing Prefect: PREFECT_API_URL, or the
    active profile's (`prefect config set PREFECT_API_URL=...` writes it to profiles.toml)."""
    import tomllib

    env = os.environ if env is None else env
    if (env.get("PREFECT_API_URL") or "").strip():
        return env["PREFECT_API_URL"].strip()
    home = Path(env.get("PREFECT_HOME") or "~/.prefect").expanduser()
    profiles = Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no profiles file, or one Prefect itself would reject
        return None
    active = env.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = (data.get("profiles") or {}).get(active) or {}
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return url.strip() if isinstance(url, str) and url.strip() else None


def private_prefect_home(env: Mapping[str, str] | None = None) -> Path:
    """Where Prefect's temporary server keeps its database when the user has no Prefect setup:
    modelmemo's own state folder, so a throwaway server never writes into the user's ~/.prefect."""
    env = os.environ if env is None else env
    state = Path(env.get("XDG_STATE_HOME") or "~/.local/state").expanduser()
    return state / "modelmemo" / "prefect"


def prefect_environment(verbose: bool = False) -> None:
    """Quiet Prefect defaults; set before Prefect is imported. Explicit settings win, and a user's
    own Prefect setup (PREFECT_HOME, PREFECT_API_URL, the active profile) is used as it is: only
    the embedded default (no server configured) gets a private home for its temporary server."""
    if "PREFECT_HOME" not in os.environ and not user_prefect_api_url():
        home = private_prefect_home()
        try:
            home.mkdir(parents=True, exist_ok=True)  # Prefect creates the last level only
        except OSError:
            pass  # Prefect says so itself; its temporary server then fails with a one-line error
        os.environ["PREFECT_HOME"] = str(home)
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

    print(printable(f"[{done}/{total}] {outcome.project_id}: {_outcome_detail(outcome)}"), flush=True)


def _outcome_detail(outcome) -> str:
    if outcome.status == "memo":
        detail = f"{outcome.verdict_label}"
        if outcome.top_model_name:
            detail += f", top model {outcome.top_model_name} ({outcome.top_score:.1f})"
    elif outcome.status == "skipped":
        detail = "unchanged, memo kept"
    else:
        detail = f"FAILED: {outcome.error}"
    warnings = getattr(outcome, "warnings", ())
    if warnings:  # a memo written with a fault (e.g. a glyph no font has) is said, never silent
        detail += "; warning: " + "; ".join(warnings)
    return detail


class ProgressDisplay:
    """Progress of the render stage: on a terminal a bar with count, rate and ETA, each memo's line
    printed above it; otherwise (a pipe, a log file, CI) today's plain line per memo; with --json
    nothing (stdout carries only the JSON)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode  # "bar" | "lines" | "off"
        self.progress = None
        self.task = None

    @classmethod
    def for_stdout(cls, json_output: bool) -> "ProgressDisplay":
        if json_output:
            return cls("off")
        return cls("bar" if sys.stdout.isatty() and os.environ.get("TERM") != "dumb" else "lines")

    def __call__(self, done: int, total: int, outcome) -> None:
        if self.mode == "lines":
            _print_progress(done, total, outcome)
        elif self.mode == "bar":
            from .names import display_name as printable

            if self.progress is None:
                self._start(total)
            self.progress.console.print(printable(f"[{done}/{total}] {outcome.project_id}: {_outcome_detail(outcome)}"),
                                        markup=False, highlight=False)
            self.progress.update(self.task, completed=done)

    def _start(self, total: int) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        class Rate(TextColumn):  # memos per minute: a memo takes seconds, so per-second rates read 0.x
            def render(self, task):
                from rich.text import Text

                speed = task.finished_speed or task.speed
                return Text(f"{speed * 60:.1f} memos/min" if speed else "-- memos/min", style="progress.data.speed")

        self.progress = Progress(TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), Rate(""),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=False)
        self.progress.start()
        self.task = self.progress.add_task("memos", total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


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


def _json_report(summary, output_dir: Path) -> int:
    """`run --json`: summary.json's content plus where the run is and the exit code, on stdout."""
    code = EXIT_OK if summary.ok else EXIT_PARTIAL
    run_dir = (output_dir / summary.run_id).absolute()
    data = {**summary.as_dict(), "run_dir": str(run_dir), "index": str(run_dir / "index.html"), "exit_code": code}
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return code


def drop_folder_is_empty(input_dir: Path) -> bool:
    """Nothing at all to report: no file, not even one still being copied or of another kind."""
    from .discovery import scan_drop_folder

    return not scan_drop_folder(input_dir)


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
    input_dir = Path(args.input_dir or settings.input_dir).absolute()
    output_dir = Path(args.output or settings.output_dir).absolute()
    json_output = getattr(args, "json", False)
    if not input_dir.is_dir():
        hint = " (run `modelmemo init` to lay out a working folder)" if not args.input_dir else ""
        print(f"error: input folder {input_dir} does not exist{hint}", file=sys.stderr)
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
    if drop_folder_is_empty(input_dir):  # said before Prefect starts; no empty run folder either
        print(f"nothing to do: the drop folder {input_dir} is empty (copy requirement files into it; "
              "`modelmemo init` adds an example)", file=sys.stderr)
        return EXIT_NOTHING_TO_DO
    try:
        load_catalog(list(settings.catalog_files))
        load_brand(settings.templates_dir)
    except (CatalogError, BrandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    prefect_environment(args.verbose)
    from prefect.settings import PREFECT_API_URL

    from .api_watch import ApiWatchdog, api_problem, temporary_server_url

    api_url = PREFECT_API_URL.value()  # the environment's, or the active profile's
    if api_url:
        problem = api_problem(api_url, timeout=5.0)
        if problem:
            print(f"error: cannot reach the Prefect API at {api_url} ({problem}); start that server "
                  "(`prefect server start`), or unset PREFECT_API_URL (or switch Prefect profiles) to use a "
                  "temporary one", file=sys.stderr)
            return EXIT_CANNOT_RUN
    else:
        print("starting Prefect's temporary local server (set PREFECT_API_URL to use a running one)...",
              file=sys.stderr if json_output else sys.stdout, flush=True)
    from .flows.batch import memo_batch, reporting_progress
    from .pipeline import new_run_id

    display = ProgressDisplay.for_stdout(json_output)
    try:
        # No flow retries here: the person at the terminal gets the result now (exit code 2) and
        # runs again; deployment runs retry by themselves (flows/batch.py).
        with ApiWatchdog(lambda: api_url or _temporary_server_url(temporary_server_url), _stop_when_api_lost,
                         known_up=bool(api_url)), \
                reporting_progress(display):
            state = memo_batch.with_options(retries=0)(
                input_dir=str(input_dir), output_dir=str(output_dir), run_id=new_run_id(), workers=args.workers,
                force=args.force, send_email=not args.no_email, resend=getattr(args, "resend", False),
                runner=args.runner, dask_address=args.dask_address, return_state=True,
            )
        summary = state.result(raise_on_failure=False)
    except Exception as exc:  # Prefect could not run the flow at all (API refused it, ...): one line, no traceback
        summary = exc
    finally:
        display.close()
    if isinstance(summary, BatchLocked):
        print(f"error: {summary}", file=sys.stderr)
        return EXIT_LOCKED
    if summary is None or isinstance(summary, BaseException):
        detail = f"{summary.strerror}: {summary.filename}" if isinstance(summary, OSError) and summary.strerror \
            else str(summary if summary is not None else state.message)
        print(f"error: the run stopped: {detail} (memos already written are complete; "
              "`--verbose` shows Prefect's logs)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if json_output:
        return _json_report(summary, output_dir)
    return _report(summary, output_dir)


def _temporary_server_url(lookup: Callable[[], str | None]) -> str | None:
    """The watchdog polls while the flow's thread may still be importing Prefect's server module
    (a partially initialised module has no SubprocessASGIServer yet): "not started yet"."""
    try:
        return lookup()
    except (AttributeError, ImportError):
        return None


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
    Names and problems are printed escaped (names.display_name). With --json, one JSON document
    on stdout: every file with `valid` and its problems (file, path, line, column, message, allowed)."""
    from .names import display_name as printable
    from .names import is_valid_utf8_name
    from .validation import validate_file

    json_output = getattr(args, "json", False)
    results: list[dict[str, Any]] = []
    status = EXIT_OK

    def report(label: str, problems: list[dict[str, Any]], lines: list[str]) -> None:
        nonlocal status
        if problems:
            status = EXIT_PARTIAL
        results.append({"file": label, "valid": not problems, "problems": problems})
        if not json_output:
            for line in lines or [f"{label}: valid"]:
                print(line)

    def plain(label: str, message: str) -> dict[str, Any]:
        return {"file": label, "path": None, "line": None, "column": None, "message": message, "allowed": None}

    for name in args.files:
        path = Path(name)
        label = printable(name)
        if not os.path.lexists(path) or (path.is_dir() and not path.is_symlink()):
            message = "no such file" if not os.path.lexists(path) else "is a folder"
            report(label, [plain(label, message)], [f"{label}: {message}"])
            continue
        if not is_valid_utf8_name(path.name):  # a run reports such a file as "not processed"
            message = "the file name is not valid UTF-8, so a run will not process it; rename the file"
            report(label, [plain(label, message)], [f"{label}: {message}"])
            continue
        _, problems = validate_file(path, label)
        report(label, [p.as_dict() for p in problems], [printable(str(p)) for p in problems])
    if json_output:
        print(json.dumps({"files": results, "valid": status == EXIT_OK, "exit_code": status}, indent=2,
                         ensure_ascii=False))
    return status


def _model_row(model) -> dict[str, Any]:
    # The article named e.g. "Llama 2"; the entry describes the family's current version.
    name = f"{model.name} (article: {model.seed.name})" if getattr(model, "seed", None) \
        and model.seed.name not in model.name else model.name
    return {"id": model.id, "name": name, "vendor": model.vendor, "openness": model.openness,
            "lifecycle": model.lifecycle, "tasks": list(model.tasks), "deployments": [d.id for d in model.deployments]}


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def _catalog_table(rows: list[dict[str, Any]], width: int) -> list[str]:
    """id, name, open/closed, lifecycle, then tasks and deployment count squeezed into what is left
    of `width` (a 100-column terminal by default); `catalog MODEL_ID` shows everything."""
    table = [("id", "name", "open/closed", "status", "deploys", "tasks")]
    for row in rows:
        table.append((row["id"], row["name"], row["openness"], row["lifecycle"], str(len(row["deployments"])),
                      ", ".join(row["tasks"])))
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    widths[1] = min(widths[1], 30)  # long names end in "…"; `catalog MODEL_ID` has the full one
    tasks_room = max(12, width - (sum(widths) + 2 * 5))
    lines = []
    for index, row in enumerate(table):
        cells = [_fit(cell, widths[i]).ljust(widths[i]) for i, cell in enumerate(row[:5])]
        lines.append(("  ".join(cells) + "  " + _fit(row[5], tasks_room)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * min(tasks_room, 30))
    return lines


def _model_details(model) -> list[str]:
    row = _model_row(model)
    lines = [f"{row['name']} ({row['id']}), {row['vendor']}: {row['openness']}, {row['lifecycle']}",
             f"  {model.summary}" if getattr(model, "summary", "") else "",
             f"  tasks: {', '.join(row['tasks'])}"]
    for key, fact in sorted(model.facts.items()):
        value = ", ".join(map(str, fact.value)) if isinstance(fact.value, (list, tuple)) else fact.value
        lines.append(f"  {key}: {value}  [{fact.source.key}, {fact.source.as_of}]")
    for deployment in model.deployments:
        lines.append(f"  deployment {deployment.id} ({deployment.kind}, {deployment.provider})")
        for key, fact in sorted(deployment.facts.items()):
            lines.append(f"    {key}: {fact.value}")
    return [line for line in lines if line]


def _jsonable(value: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    return json.loads(json.dumps(asdict(value) if is_dataclass(value) else value, default=str))


def cmd_catalog(args: argparse.Namespace) -> int:
    import shutil

    from .catalog import CatalogError, load_catalog
    from .settings import Settings

    settings = Settings.from_env()
    files = list(settings.catalog_files) + [Path(p) for p in args.catalog_extra or []]
    try:
        catalog = load_catalog(files)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    models = [m for m in catalog.models.values() if not args.models or m.id in args.models]
    unknown = sorted(set(args.models or ()) - set(catalog.models))
    if unknown:
        print(f"error: no model {', '.join(unknown)} in the catalog (ids: {', '.join(catalog.models)})", file=sys.stderr)
        return EXIT_CANNOT_RUN
    stale = None
    if args.check:
        from datetime import date

        from .freshness import count_facts, format_report, stale_facts

        today = date.today()
        stale = stale_facts(catalog, args.max_age_days, today)
    if getattr(args, "json", False):
        data = {"as_of": str(catalog.as_of), "oldest_as_of": str(catalog.oldest_as_of), "files": list(catalog.files),
                "models": [{**_model_row(m), "details": _jsonable(m)} for m in models]}
        if stale is not None:
            data["stale_facts"] = _jsonable(list(stale))
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_PARTIAL if stale else EXIT_OK
    if args.models:
        for model in models:
            print("\n".join(_model_details(model)))
    else:
        width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
        print("\n".join(_catalog_table([_model_row(m) for m in models], width)))
        print(f"\n{len(catalog.models)} models, {len(catalog.sources)} sources; facts checked "
              f"{catalog.oldest_as_of} to {catalog.as_of}")
        print("`modelmemo catalog MODEL_ID` shows one model's facts; --json all of them")
        print(f"files: {', '.join(catalog.files)}")
    if not args.check:
        return EXIT_OK
    print()
    print(format_report(stale, args.max_age_days, today, total_facts=count_facts(catalog)))
    return EXIT_PARTIAL if stale else EXIT_OK


def _require_server() -> str | None:
    """Schedules need a real Prefect server: the URL from the environment or the active Prefect
    profile, or None after printing how to configure one."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        print("error: no Prefect server configured; start one (`prefect server start`) and point Prefect at it "
              "(`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`)", file=sys.stderr)
        return None
    return url


def cmd_serve(args: argparse.Namespace) -> int:
    prefect_environment(args.verbose)
    url = _require_server()
    if not url:
        return EXIT_CANNOT_RUN
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r} (use an IANA name such as Europe/Berlin)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    from .api_watch import api_problem

    problem = api_problem(url, timeout=5.0)
    if problem:
        print(f"error: cannot reach the Prefect API at {url} ({problem}); start that server "
              "(`prefect server start`)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    from prefect import serve

    from .flows.deployment import nightly_deployment

    from .settings import Settings

    # Absolute paths, shown as the deployment's parameters in the UI: flow runs read them, whatever
    # folder they run in.
    settings = Settings.from_env()
    input_dir = str(Path(args.input_dir or settings.input_dir).absolute())
    output_dir = str(Path(args.output or settings.output_dir).absolute())
    deployment = nightly_deployment(args.cron, args.timezone, input_dir, output_dir, args.name)
    print(f"serving deployment 'modelmemo-batch/{args.name}' on cron '{args.cron}' ({args.timezone}) at {url}; "
          "Ctrl-C stops serving and pauses its schedule", flush=True)
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


def _input_dir_arguments(parser: argparse.ArgumentParser) -> None:
    """The drop folder: a positional INPUT_DIR or --input-dir, the same on run, watch and serve."""
    parser.add_argument("input_dir", nargs="?", metavar="INPUT_DIR",
                        help="drop folder (default: MODELMEMO_INPUT_DIR, else ./inputs)")
    parser.add_argument("--input-dir", dest="input_dir_option", metavar="DIR", help="the same as INPUT_DIR")


def _catalog_extra_argument(parser: argparse.ArgumentParser, old_spelling: str | None = None) -> None:
    names = ["--catalog-extra"] + ([old_spelling] if old_spelling else [])
    parser.add_argument(*names, dest="catalog_extra", action="append", metavar="FILE",
                        help="extension catalog merged over the shipped one (repeatable; also MODELMEMO_CATALOG_EXTRA)"
                             + (f"; {old_spelling} is the old spelling, accepted until 0.3" if old_spelling else ""))


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-code table's layout; wraps option help at 100 columns."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog="modelmemo", description="Decision memos for AI projects: open- or closed-source model, "
                            "which one, and why. Start with `modelmemo init`, then `modelmemo run`.",
                            epilog=EXIT_CODES_HELP, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                              epilog=EXIT_CODES_HELP, formatter_class=_HelpFormatter)

    init = command("init", "lay out a working folder: inputs/ with an example, templates/ to rebrand")
    init.add_argument("directory", nargs="?", default=".", metavar="DIR", help="where (default: this folder)")
    init.set_defaults(func=cmd_init)

    run = command("run", "process the drop folder: one memo per valid requirement file")
    _input_dir_arguments(run)
    run.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    run.add_argument("--workers", type=_at_least_one, default=None, help="render processes (default: CPU count)")
    _catalog_extra_argument(run)
    run.add_argument("--force", action="store_true",
                     help="re-render every memo, even unchanged ones (emails only decisions not yet sent)")
    run.add_argument("--resend", action="store_true", help="email every memo of the run again, even if already sent")
    run.add_argument("--no-email", action="store_true", help="render only; send nothing")
    run.add_argument("--runner", choices=("local", "dask"), default="local",
                     help="where memos render: local process pool (default) or a Dask cluster")
    run.add_argument("--dask-address", help="scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                                            "(default with --runner dask: a local cluster)")
    run.add_argument("--json", action="store_true",
                     help="print the run's result (summary.json plus run_dir, index, exit_code) as JSON on stdout")
    run.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    run.set_defaults(func=cmd_run)

    validate = command("validate", "check requirement files; exit 1 if any has a problem")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--json", action="store_true", help="print every file's problems as JSON on stdout")
    validate.set_defaults(func=cmd_validate)

    serve = command("serve", "serve the nightly deployment on a running Prefect server (Ctrl-C stops it)")
    _input_dir_arguments(serve)
    serve.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    serve.add_argument("--cron", default="0 2 * * *", help="cron schedule (default: 02:00 every night)")
    serve.add_argument("--timezone", default="UTC", help="IANA time zone of the cron schedule (default: UTC)")
    serve.add_argument("--name", default="nightly", help="deployment name (default: nightly; prefect.yaml's is "
                                                         "nightly-pool)")
    serve.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    serve.set_defaults(func=cmd_serve)

    watch = command("watch", "run a batch shortly after files arrive in the drop folder")
    _input_dir_arguments(watch)
    watch.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    watch.add_argument("--debounce", type=float, default=5.0, help="seconds of quiet before a run (default: 5)")
    watch.add_argument("--no-email", action="store_true", help="render only; send nothing")
    watch.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    watch.set_defaults(func=cmd_watch)

    send = command("send", "email chosen memos again now")
    send.add_argument("projects", nargs="+", metavar="PROJECT_ID", help="project ids")
    send.add_argument("--run", help="run id (default: the latest run)")
    send.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    send.add_argument("--only-unsent", action="store_true", help="skip recipients who already received this memo")
    send.set_defaults(func=cmd_send)

    prune = command("prune", "delete old run folders (never one that holds a current memo)")
    prune.add_argument("--keep", type=int, required=True, help="how many of the newest runs to keep")
    prune.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    prune.set_defaults(func=cmd_prune)

    catalog = command("catalog", "show the model catalog (one line per model; MODEL_ID for its facts)")
    catalog.add_argument("models", nargs="*", metavar="MODEL_ID", help="show these models' facts and deployments")
    _catalog_extra_argument(catalog, old_spelling="--extra")
    catalog.add_argument("--check", action="store_true", help="list facts older than --max-age-days; exit 1 if any")
    catalog.add_argument("--max-age-days", type=int, default=180, help="age limit for --check (default: 180)")
    catalog.add_argument("--json", action="store_true", help="print the merged catalog as JSON on stdout")
    catalog.set_defaults(func=cmd_catalog)
    return parser


def _merge_input_dir(args: argparse.Namespace) -> str | None:
    """INPUT_DIR and --input-dir are one setting; both given and different is a usage error."""
    positional, option = getattr(args, "input_dir", None), getattr(args, "input_dir_option", None)
    if positional and option and Path(positional).absolute() != Path(option).absolute():
        return f"INPUT_DIR {positional!r} and --input-dir {option!r} differ; give one"
    args.input_dir = positional or option
    return None


def cmd_init(args: argparse.Namespace) -> int:
    from .init import InitError, lay_out

    try:
        created = lay_out(Path(args.directory))
    except InitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    for line in created:
        print(line)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if "input_dir_option" in args:
        problem = _merge_input_dir(args)
        if problem:
            parser.error(problem)
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
