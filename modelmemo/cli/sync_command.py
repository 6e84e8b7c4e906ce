"""`modelmemo catalog sync [--output DIR] [--dry-run]`: pull the public listings, print the diff
(offer, fact, old -> new, source id, date), store the synced facts for later runs.

Exit codes: 0 synced (held changes are named and not applied); 1 synced, but a deprecation date
in the catalog has passed (named; the offer is treated as retired until the catalog says so);
2 a listing could not be read or parsed, or the catalog cannot be read: one line, nothing written,
the last good sync kept."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelmemo.cli.console import emit_json, error
from modelmemo.cli.exits import EXIT_CANNOT_RUN, EXIT_OK, EXIT_PARTIAL


def cmd_catalog_sync(args: argparse.Namespace) -> int:
    from modelmemo.catalog.load import CatalogError
    from modelmemo.catalog.synced import SyncFailed, sync_catalog

    if args.check or args.models[1:]:
        error("catalog sync takes --output, --dry-run, --json and --catalog-extra (not --check or a MODEL_ID)")
        return EXIT_CANNOT_RUN
    settings = args.settings
    files = tuple(settings.catalog_files) + tuple(Path(p) for p in args.catalog_extra or [])
    output_dir = Path(args.output or settings.output_dir).absolute()
    try:
        outcome = sync_catalog(files, output_dir, settings.source_models_dev, settings.source_openrouter,
                               dry_run=args.dry_run)
    except (SyncFailed, CatalogError) as exc:
        error(f"catalog sync: {exc}")
        return EXIT_CANNOT_RUN
    plan = outcome.plan
    code = EXIT_PARTIAL if plan.passed else EXIT_OK
    if getattr(args, "json", False):
        emit_json({"exit_code": code, "written": str(outcome.written) if outcome.written else None,
                   "sources": {n: {"url": l.url, "offers": l.offer_count} for n, l in plan.listings.items()},
                   "changes": [{"offer": r.offer, "fact": r.fact, "old": r.old, "new": r.new, "source": r.source_id,
                                "date": r.as_of.isoformat(), "held": r.held, "note": r.note} for r in plan.diff],
                   "notes": plan.notes, "never_listed": plan.never_listed, "passed_deprecations": plan.passed})
        return code
    listed = ", ".join(f"{name} {listing.offer_count:,} offers" for name, listing in plan.listings.items())
    print(f"catalog sync: read {listed}")
    synced = len(plan.updates)
    if plan.applied:
        print(f"{len(plan.applied)} change(s){' (dry run: not stored)' if args.dry_run else ''}:")
        for row in plan.applied:
            print(f"  {row.line()}")
    else:
        print("no fact changed")
    if plan.held:
        print(f"{len(plan.held)} change(s) held for review (not applied; check the source, then edit the catalog):")
        for row in plan.held:
            print(f"  {row.line()}")
    for note in plan.notes:
        print(f"  note: {note}")
    if plan.never_listed:  # offers newer than a listing (or a wrong id): one line, the ids in --json
        offers = sorted(plan.never_listed)
        print(f"  note: {len(offers)} offer(s) are not in their listings yet and never were at a sync here, so "
              f"they are not unlisted (newer than the listing, or a wrong id; `--json` lists the ids): "
              f"{', '.join(offers)}")
    for line in plan.passed:
        error(f"catalog sync: {line}")
    if outcome.written:
        print(f"facts of {synced} offer(s) stored, with the listing each came from, in {outcome.written} "
              f"(every `run --output {output_dir}` uses them)")
    return code
