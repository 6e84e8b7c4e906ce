"""What a run prints: one line per memo (or a progress bar on a terminal) and the result at the end,
every line escaped (names.display_name); `--json` prints the result as JSON instead."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from modelmemo.batch import layout
from modelmemo.batch.work_unit import describe_outcome
from modelmemo.cli.exits import EXIT_OK, EXIT_PARTIAL


# --- `--json`: stdout carries exactly one JSON document, whatever the exit code --------------------
# A script runs `modelmemo run --json | jq .exit_code`; an empty stdout on exit 2 or 4 would make it
# fail to parse instead of reading the code. So every error line goes through `error()` (stderr, as
# always), which remembers it, and `main` prints {"exit_code": N, "error": "..."} when the command
# ended without printing its own document (an error, a stop signal, a lost Prefect API).
_json = {"wanted": False, "emitted": False, "error": None, "extra": {}}
_json_lock = threading.Lock()  # the API watchdog's thread may end the command while main prints


def want_json(wanted: bool) -> None:
    with _json_lock:
        _json.update(wanted=wanted, emitted=False, error=None, extra={})


def json_wanted() -> bool:
    return bool(_json["wanted"])


def emit_json(data: dict[str, Any]) -> None:
    """Print the command's one JSON document (at most once per command)."""
    with _json_lock:
        if _json["emitted"]:
            return
        _json["emitted"] = True
        print(json.dumps(data, indent=2, ensure_ascii=False), flush=True)


def error(message: str, *, prefix: str = "error: ", **extra: Any) -> None:
    """One line on stderr; with --json also the `error` (and `extra` fields) of the JSON document."""
    print(f"{prefix}{message}", file=sys.stderr, flush=True)
    with _json_lock:
        if _json["error"] is None:
            _json["error"] = f"{prefix}{message}" if prefix != "error: " else message
            _json["extra"] = extra


def emit_json_for_exit(code: int, stop_message: str | None = None) -> None:
    """The fallback document: the exit code and the error (or the stop signal) that ended the command."""
    if not _json["wanted"] or _json["emitted"]:
        return
    message = stop_message or _json["error"] or "the command ended without a result"
    emit_json({"exit_code": code, "error": message, **_json["extra"]})


def print_progress(done: int, total: int, outcome) -> None:
    from modelmemo.inputs.names import display_name as printable  # no terminal escapes or bidi controls reach the console

    print(printable(f"[{done}/{total}] {outcome.project_id}: {describe_outcome(outcome)}"), flush=True)


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
            print_progress(done, total, outcome)
        elif self.mode == "bar":
            from modelmemo.inputs.names import display_name as printable

            if self.progress is None:
                self._start(total)
            self.progress.console.print(printable(f"[{done}/{total}] {outcome.project_id}: {describe_outcome(outcome)}"),
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


def print_report(summary, output_dir: Path) -> int:
    """The run's result, one line per item. Every line goes through display_name: file names are
    already escaped, and problem messages or errors that quote content get the same treatment."""
    from modelmemo.delivery.ledger import not_attempted_line
    from modelmemo.inputs.names import display_name as printable

    counts = summary.counts
    for rejection in summary.rejected:
        print(printable(f"rejected {rejection.file}:"))
        for problem in rejection.problems:
            print(printable(f"  {problem}"))
    for notice in summary.notices:
        print(printable(f"not processed {notice.file}: {notice.reason}"))
    for note in summary.notes:  # about files that were processed: never "not processed"
        print(printable(f"note {note.file}: {note.note}"))
    run_dir = layout.run_dir(output_dir, summary.run_id)
    for record in summary.deliveries:
        if (record["status"] not in ("accepted", "already-sent") and not record.get("not_attempted")) \
                or record.get("maybe_second_copy"):
            print(printable(f"email to {record['recipient']} for {record['project_id']}: {record['status']}: "
                            f"{record['detail']}"))
    skipped = not_attempted_line(summary.deliveries)  # one line, not one per memo
    if skipped:
        print(printable(skipped))
    if summary.deliveries:
        counts_text = ", ".join(f"{n} {status}" for status, n in sorted(summary.delivery_counts.items()))
        memos = len({record["project_id"] for record in summary.deliveries})
        # One email per recipient of each memo: say so, or "10 accepted" reads as 10 memos out of 9.
        about = f"one per recipient of {plural(memos, 'memo')}"
        outbox = layout.outbox_dir(run_dir)
        where = f"; written to {outbox}" if outbox.is_dir() else ""
        print(printable(f"emails: {counts_text} ({about}{where})"))
    print(
        f"run {summary.run_id}: {plural(counts['memos'], 'memo')}, {counts['skipped']} unchanged, "
        f"{counts['rejected']} rejected, {counts['failed']} failed, {counts['not_processed']} not processed"
    )
    print(printable(f"index: {layout.index_file(run_dir)}"))
    return EXIT_OK if summary.ok else EXIT_PARTIAL


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def print_json_report(summary, output_dir: Path) -> int:
    """`run --json`: summary.json's content plus where the run is and the exit code, on stdout
    (`error` is null: the run finished; its problems are in `rejected`, `projects`, `deliveries`)."""
    code = EXIT_OK if summary.ok else EXIT_PARTIAL
    run_dir = layout.run_dir(output_dir, summary.run_id).absolute()
    emit_json({**summary.as_dict(), "run_dir": str(run_dir), "index": str(layout.index_file(run_dir)), "exit_code": code,
               "error": None})
    return code
