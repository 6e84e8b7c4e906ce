"""`modelmemo pilot [FILE...] [--output DIR] [--max-usd N] [--dry-run] [--candidates ID,...]`: the
latest memo's pick and challengers run on each requirement file's own examples (modelmemo/pilot/).

Exit codes: 0 every candidate of every file with a pilot section was measured (dry run: planned
within the budget); 1 a file or its examples were rejected, a project could not be piloted (no
memo yet, an unknown candidate), a candidate failed or was stopped by --max-usd, or the estimate
was over --max-usd (nothing called); 2 could not start (bad setting, catalog, input folder, usage)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from modelmemo.cli.console import emit_json, error
from modelmemo.cli.exits import EXIT_CANNOT_RUN, EXIT_OK, EXIT_PARTIAL


def non_negative_usd(text: str) -> float:
    """argparse type of --max-usd: a dollar amount of 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be an amount in US dollars, 0 or more, not {text!r}")
    return value


def cmd_pilot(args: argparse.Namespace) -> int:
    from modelmemo.catalog.load import CatalogError, load_catalog
    from modelmemo.catalog.synced import with_synced
    from modelmemo.pilot.candidates import parse_candidate_list
    from modelmemo.pilot.plan import PilotOptions, requirement_files
    from modelmemo.pilot.run import run_pilot

    settings = args.settings
    output_dir = Path(args.output or settings.output_dir).absolute()
    json_output = bool(getattr(args, "json", False))
    try:
        candidates = parse_candidate_list(args.candidates) if args.candidates else ()
    except ValueError as exc:
        error(f"--candidates: {exc}", prefix="modelmemo pilot: error: ")
        return EXIT_CANNOT_RUN
    if args.files:
        files = [Path(name) for name in args.files]
    else:
        if not settings.input_dir.is_dir():
            error(f"no drop folder {settings.input_dir}: give requirement files, or set MODELMEMO_INPUT_DIR")
            return EXIT_CANNOT_RUN
        files = requirement_files(settings.input_dir, settings.settle_seconds)
    try:
        extra = tuple(Path(p) for p in args.catalog_extra or [])
        catalog = load_catalog(with_synced(tuple(settings.catalog_files) + extra, output_dir))
    except CatalogError as exc:
        error(str(exc).splitlines()[0])
        return EXIT_CANNOT_RUN
    options = PilotOptions(output_dir, args.max_usd, args.dry_run, candidates, named=bool(args.files))
    say = (lambda line: None) if json_output else (lambda line: print(line, flush=True))
    report = run_pilot(files, catalog, settings, options, os.environ, say)
    named = bool(args.files)
    if not named and not any(not p.skipped for p in report.projects):
        print(f"no requirement file in {settings.input_dir} has a pilot section", file=sys.stderr)
    code = EXIT_OK if report.ok else EXIT_PARTIAL
    if json_output:
        emit_json({"exit_code": code, "error": None, "dry_run": report.dry_run, "max_usd": report.max_usd,
                   "estimate_usd": round(report.estimate_usd, 6), "spent_usd": round(report.spent_usd, 6),
                   "refused": report.refused or None, "lines": report.lines,
                   "projects": [{"file": p.file, "project_id": p.project_id, "skipped": p.skipped,
                                 "problems": [q.as_dict() for q in p.problems], "error": p.error or None,
                                 "results": str(p.results_path) if p.results_path else None,
                                 "candidates": [{"candidate": c.candidate.key, "role": c.candidate.role,
                                                 "status": c.status, "message": c.message or None,
                                                 "calls": c.new_calls, "cached": c.cached, "judge_calls": c.judge_calls,
                                                 "estimate_usd": round(c.estimate_usd, 6)}
                                                for c in p.candidates]}
                                for p in report.projects if named or not p.skipped]})
    return code
