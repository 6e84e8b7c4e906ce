"""`validate` (requirement files against the schema) and `catalog` (the merged model catalog, its
facts and their age)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from modelmemo.cli.console import emit_json, error
from modelmemo.cli.exits import EXIT_CANNOT_RUN, EXIT_OK, EXIT_PARTIAL


def cmd_validate(args: argparse.Namespace) -> int:
    """One line per problem. Files are read as a run reads them: a symbolic link is not followed,
    and a FIFO, device or socket is refused in one line without being read (nothing blocks).
    Names and problems are printed escaped (names.display_name). With --json, one JSON document
    on stdout: every file with `valid` and its problems (file, path, line, column, message, allowed)."""
    from modelmemo.inputs.names import display_name as printable
    from modelmemo.inputs.names import is_valid_utf8_name
    from modelmemo.inputs.validation import REQUIREMENTS_SCHEMA, validate_file

    if args.schema:  # where the schema is, wherever modelmemo is installed (wheel, pipx, checkout)
        print(REQUIREMENTS_SCHEMA)
        return EXIT_OK
    if not args.files:
        error("give one or more requirement files, or --schema (see `modelmemo validate --help`)",
              prefix="modelmemo validate: error: ")
        return EXIT_CANNOT_RUN
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
        emit_json({"files": results, "valid": status == EXIT_OK, "exit_code": status})
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
    # Long names end in "…" (`catalog MODEL_ID` has the full one): at most 30 columns, fewer on a
    # narrow terminal so that tasks keep 10; the table is never narrower than about 80 columns.
    fixed = sum(widths) - widths[1] + 2 * 5
    widths[1] = max(10, min(widths[1], 30, width - fixed - 10))
    tasks_room = max(10, width - (sum(widths) + 2 * 5))
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
             f"  {model.summary}" if getattr(model, "summary", "") else ""]
    if "tasks" not in model.facts:  # a sourced `tasks` fact is printed below, with its source
        lines.append(f"  tasks: {', '.join(row['tasks'])}")
    for key, fact in sorted(model.facts.items()):
        value = ", ".join(map(str, fact.value)) if isinstance(fact.value, (list, tuple)) else fact.value
        lines.append(f"  {key}: {value}  [{fact.source.key}, {fact.source.as_of}]")
    for deployment in model.deployments:
        route = f", {deployment.route}" if deployment.route and deployment.route != deployment.kind else ""
        lines.append(f"  deployment {deployment.id} ({deployment.kind}{route}, {deployment.provider})")
        life = deployment.lifecycle
        if life.status != "active" or life.unlisted:
            when = f" until {life.date}" if life.status == "deprecated" and life.date else (
                f" on {life.date}" if life.date else "")
            lines.append(f"    lifecycle: {'retired (unlisted)' if life.unlisted else life.status}{when}"
                         + (f"; successor {life.successor}" if life.successor else ""))
        if deployment.synced_from:
            lines.append(f"    listed as: {', '.join(deployment.synced_from)}")
        for key, fact in sorted(deployment.facts.items()):
            if key == "lifecycle":
                continue
            synced = f"  [synced from {fact.synced_id}, {fact.source.as_of}]" if fact.synced_id else ""
            lines.append(f"    {key}: {fact.value}{synced}")
    return [line for line in lines if line]


def _ending_offers(models, today) -> list[str]:
    """'mistral/la-plateforme deprecated until 2026-12-14' for every offer that is not active."""
    from modelmemo.decision.lifecycle import offer_status

    found = []
    for model in models:
        for deployment in model.deployments:
            status = offer_status(deployment, today)
            if status in ("deprecated", "retired"):
                life = deployment.lifecycle
                when = (f" until {life.date}" if status == "deprecated" and life.date
                        else " (unlisted)" if life.unlisted else f" {life.date}" if life.date else "")
                found.append(f"{model.id}/{deployment.id} {status}{when}")
    return found


def _jsonable(value: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    return json.loads(json.dumps(asdict(value) if is_dataclass(value) else value, default=str))


def cmd_catalog(args: argparse.Namespace) -> int:
    import shutil

    from modelmemo.catalog.load import CatalogError, load_catalog
    from modelmemo.catalog.synced import with_synced

    if args.models[:1] == ["sync"]:
        from modelmemo.cli.sync_command import cmd_catalog_sync

        return cmd_catalog_sync(args)
    if args.dry_run:
        error("--dry-run is for `catalog sync`")
        return EXIT_CANNOT_RUN
    settings = args.settings
    output_dir = Path(args.output or settings.output_dir).absolute()
    files = list(with_synced(tuple(settings.catalog_files) + tuple(Path(p) for p in args.catalog_extra or []),
                             output_dir))
    try:
        catalog = load_catalog(files)
    except CatalogError as exc:
        error(str(exc))
        return EXIT_CANNOT_RUN
    models = [m for m in catalog.models.values() if not args.models or m.id in args.models]
    unknown = sorted(set(args.models or ()) - set(catalog.models))
    if unknown:
        error(f"no model {', '.join(unknown)} in the catalog (ids: {', '.join(catalog.models)})")
        return EXIT_CANNOT_RUN
    stale = None
    passed: list[str] = []
    if args.check:
        from datetime import date

        from modelmemo.catalog.freshness import count_facts, format_report, passed_deprecations, stale_facts

        today = date.today()
        stale = stale_facts(catalog, args.max_age_days, today)
        passed = passed_deprecations(catalog, today)
    if getattr(args, "json", False):
        data = {"as_of": str(catalog.as_of), "oldest_as_of": str(catalog.oldest_as_of), "files": list(catalog.files),
                "models": [{**_model_row(m), "details": _jsonable(m)} for m in models]}
        if stale is not None:
            data["stale_facts"] = _jsonable(list(stale))
            data["passed_deprecations"] = passed
        code = EXIT_PARTIAL if stale or (args.check and passed) else EXIT_OK
        emit_json({**data, "exit_code": code})
        return code
    if args.check:  # the report only: the table is `modelmemo catalog`, and it would bury the stale list
        print(format_report(stale, args.max_age_days, today, total_facts=count_facts(catalog)))
        for line in passed:
            error(f"catalog --check: {line}")
        return EXIT_PARTIAL if stale or passed else EXIT_OK
    if args.models:
        for model in models:
            print("\n".join(_model_details(model)))
    else:
        # COLUMNS wins (also when stdout is a pipe or a file: `COLUMNS=80 modelmemo catalog > t.txt`),
        # then the terminal's width, else 100 columns.
        width = shutil.get_terminal_size((100, 24)).columns
        print("\n".join(_catalog_table([_model_row(m) for m in models], width)))
        print(f"\n{len(catalog.models)} models, {len(catalog.sources)} sources; facts checked "
              f"{catalog.oldest_as_of} to {catalog.as_of}")
        ending = _ending_offers(models, catalog.today)
        if ending:  # the status column is each model's; an offer can end while its model lives on
            import textwrap

            print("\n".join(textwrap.wrap("offers not active: " + "; ".join(ending), width,
                                           subsequent_indent="  ")))
        print("`modelmemo catalog MODEL_ID` shows one model's facts; --json all of them")
        print(f"files: {', '.join(catalog.files)}")
    return EXIT_OK
