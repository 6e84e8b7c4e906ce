"""The pilot as a Prefect flow: wiring only. The work is `modelmemo.pilot.run.run_pilot`, the same
plain function `modelmemo pilot` calls, with the same parameters.

What is logged is what the command prints: plans, metrics and one-line failures. No example text
and no key: failures quote only an error's type and code, never a server's message, because a
flow's logs go to the Prefect API (which may be a hosted one).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed
from pydantic import Field

from modelmemo.catalog.load import CatalogError, load_catalog
from modelmemo.catalog.synced import with_synced
from modelmemo.pilot.candidates import parse_candidate_list
from modelmemo.pilot.plan import PilotOptions, requirement_files
from modelmemo.pilot.run import run_pilot
from modelmemo.settings import Settings


@flow(name="modelmemo-pilot", description="The memo's pick and challengers measured on each project's own examples.")
def pilot_flow(
    files: list[str] | None = None,
    output_dir: str | None = None,
    max_usd: Annotated[float | None, Field(ge=0)] = None,
    dry_run: bool = False,
    candidates: str | None = None,
    catalog_extra: list[str] | None = None,
):
    """Pilot requirement files with a `pilot:` section (README "Pilot").

    Args:
        files: Requirement files (absolute paths on the machine that runs the flow; default: the drop
            folder's files that have a pilot section).
        output_dir: Output folder whose latest memos are piloted; results go to its state/pilot/.
        max_usd: Stop before the spend would pass this many US dollars.
        dry_run: Log the calls and estimated cost; call nothing.
        candidates: Pilot these instead of the memo's: MODEL[/DEPLOYMENT][=NAME], comma-separated.
        catalog_extra: Extension catalogs merged over the shipped one.
    """
    logger = get_run_logger()
    settings = Settings.from_env()  # a flow run is an entry point too (deployments have no CLI)
    output = Path(output_dir or settings.output_dir).absolute()
    if catalog_extra:
        settings = replace(settings, catalog_files=settings.catalog_files + tuple(Path(p) for p in catalog_extra))
    try:
        specs = parse_candidate_list(candidates) if candidates else ()
        catalog = load_catalog(with_synced(settings.catalog_files, output))
    except (ValueError, CatalogError) as exc:
        logger.error("%s", str(exc).splitlines()[0])
        return Failed(message=str(exc).splitlines()[0])
    if not files and not settings.input_dir.is_dir():
        logger.error("no drop folder %s: give requirement files, or set MODELMEMO_INPUT_DIR", settings.input_dir)
        return Failed(message=f"no drop folder {settings.input_dir}")
    paths = [Path(f) for f in files] if files else requirement_files(settings.input_dir, settings.settle_seconds)
    options = PilotOptions(output, max_usd, dry_run, specs, named=bool(files))
    report = run_pilot(paths, catalog, settings, options, os.environ, say=lambda line: logger.info("%s", line))
    message = f"pilot: estimated ${report.estimate_usd:.4f}, spent ${report.spent_usd:.4f}"
    return Completed(message=message) if report.ok else Failed(message=message + "; see the log for what failed")
