"""The synced overlay on disk: `DIR/state/catalog/synced.json` (DIR as for `run --output`), a
catalog extension file of `offer_updates` that every later run merges over the shipped catalog and
any `--catalog-extra` files. `sync_catalog` reads the listings, plans the sync (catalog/sync.py)
and, unless it is a dry run, replaces the file atomically; when a listing cannot be read the last
good file stays as it is."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from modelmemo.batch.atomic import atomic_write_text
from modelmemo.batch.layout import state_dir
from modelmemo.catalog.fetch import SourceUnavailable, read_listing
from modelmemo.catalog.listings import Listing, ListingError, genai_prices_listing, parse_models_dev, parse_openrouter
from modelmemo.catalog.load import CatalogError, load_catalog
from modelmemo.catalog.sync import SyncPlan, overlay_document, plan_sync


class SyncFailed(Exception):
    """A listing could not be read or parsed: one line; nothing was written."""


def synced_file(output_dir: Path) -> Path:
    return state_dir(output_dir) / "catalog" / "synced.json"


def with_synced(catalog_files: tuple[Path, ...], output_dir: Path) -> tuple[Path, ...]:
    """The catalog files a run merges: the given ones, then the last sync's overlay if there is one."""
    overlay = synced_file(output_dir)
    return catalog_files + (overlay,) if overlay.is_file() else catalog_files


@dataclass(frozen=True)
class SyncOutcome:
    plan: SyncPlan
    written: Path | None  # None for a dry run


def read_listings(models_dev: str, openrouter: str, today: date) -> dict[str, Listing]:
    """Every listing, or SyncFailed naming the first that cannot be read or parsed."""
    try:
        listings = {
            "models.dev": parse_models_dev(read_listing("models.dev", models_dev), models_dev, today),
            "openrouter": parse_openrouter(read_listing("openrouter", openrouter), openrouter, today, today),
            "genai-prices": genai_prices_listing(today, today),
        }
    except (SourceUnavailable, ListingError) as exc:
        raise SyncFailed(str(exc)) from None
    return listings


def _previous_seen(overlay: Path) -> dict[str, list[str]]:
    try:
        document = json.loads(overlay.read_text(encoding="utf-8"))
        seen = document.get("sync", {}).get("seen", {})
        return {str(k): [str(i) for i in v] for k, v in seen.items() if isinstance(v, list)}
    except (OSError, ValueError, AttributeError):
        return {}


def sync_catalog(catalog_files: tuple[Path, ...], output_dir: Path, models_dev: str, openrouter: str,
                 today: date | None = None, dry_run: bool = False) -> SyncOutcome:
    """Read the listings, compare them with the catalog in use (the given files plus the last
    overlay) and write the new overlay. Raises SyncFailed or CatalogError; writes nothing then."""
    today = today or date.today()
    overlay = synced_file(output_dir)
    in_use = load_catalog(list(with_synced(catalog_files, output_dir)))  # its base_sha256 is the files' own
    listings = read_listings(models_dev, openrouter, today)
    plan = plan_sync(in_use, listings, today, _previous_seen(overlay))
    if dry_run:
        return SyncOutcome(plan, None)
    document = overlay_document(plan, in_use.base_sha256)
    overlay.parent.mkdir(parents=True, exist_ok=True)
    candidate = overlay.with_name("synced.candidate.json")
    atomic_write_text(candidate, json.dumps(document, indent=1, sort_keys=True) + "\n")
    try:
        load_catalog(list(catalog_files) + [candidate])  # what the next run will load must load
    except CatalogError as exc:
        candidate.unlink(missing_ok=True)
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SyncFailed(f"the synced facts do not load as a catalog ({first_line}); the last good sync is kept") \
            from None
    os.replace(candidate, overlay)
    return SyncOutcome(plan, overlay)
