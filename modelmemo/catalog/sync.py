"""`modelmemo catalog sync`: the facts public listings give for each offer that names its ids
(`synced_from`), compared with the catalog in use, as a diff and as an overlay file.

Rules (README "Keeping the catalog current"):
- Token prices: genai-prices first (pydantic's maintained price data), then models.dev, then
  OpenRouter; context and max output: models.dev, then OpenRouter. The source
  used is named on the fact; where another source gives a different figure the diff says so.
  (genai-prices is a price source: its context windows are rounded, so limits never come from it.)
- A price that moves more than `HOLD_FACTOR` times (up or down) is held for review: named in the
  diff, not applied. So is any figure outside the catalog's bounds (bounds.py): a listing's typo
  must not make the catalog fail to load.
- Lifecycle only ever moves forward (active -> deprecated -> retired) from a listing:
  OpenRouter's `expiration_date` marks an offer deprecated with that date (retired once passed);
  models.dev's `status: deprecated` means the provider no longer serves it on its public API, so
  the offer is retired unless another listing still serves it; an offer a complete listing of its
  provider listed at an earlier sync and lists no more is *unlisted* (treated as retired). An id a
  listing has never listed is reported, not unlisted (a typo or a listing older than the offer).
- A deprecated offer whose date has passed fails the sync (exit 1) until the catalog is updated.

Pure: `plan_sync` takes parsed listings and returns what to write; the command does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from modelmemo.catalog.bounds import out_of_bounds
from modelmemo.catalog.freshness import passed_deprecation
from modelmemo.catalog.listings import Listing, ListedOffer, provider_of, source_of
from modelmemo.catalog.load import Catalog, Deployment, Model

HOLD_FACTOR = 3.0
PRICE_FACTS = ("input_usd_per_1m", "output_usd_per_1m")
LIMIT_FACTS = ("context_tokens", "max_output_tokens")
PRICE_ORDER = ("genai-prices", "models.dev", "openrouter")
LIMIT_ORDER = ("models.dev", "openrouter")  # genai-prices' context windows are rounded (1,000,000 for 1,048,576)
LIFECYCLE_SOURCES = ("models.dev", "openrouter")  # listings complete per provider
PROVIDER_LISTING = "models.dev"  # lists each provider's own offers; OpenRouter lists models behind a router
LIFECYCLE_RANK = {"preview": 0, "active": 0, "deprecated": 1, "retired": 2}
SOURCE_KEYS = {"models.dev": "sync-models-dev", "openrouter": "sync-openrouter", "genai-prices": "sync-genai-prices"}
SOURCE_TITLES = {
    "models.dev": "models.dev api.json (open database of AI model specifications, prices and limits per provider)",
    "openrouter": "OpenRouter models API (per-model prices, context, expiration dates)",
    "genai-prices": "pydantic genai-prices package data (token prices per provider and model, with history)",
}


@dataclass(frozen=True)
class DiffRow:
    offer: str  # "model-id/deployment-id"
    fact: str
    old: Any
    new: Any
    source_id: str
    as_of: date
    note: str = ""
    held: bool = False

    def line(self) -> str:
        verb = "HELD for review" if self.held else ""
        text = f"{self.offer}: {self.fact} {_show(self.old)} -> {_show(self.new)} ({self.source_id}, {self.as_of})"
        extra = "; ".join(part for part in (verb, self.note) if part)
        return f"{text}: {extra}" if extra else text


@dataclass
class SyncPlan:
    """What a sync found: per offer the facts and lifecycle to overlay, the diff, held changes,
    notes (ids never listed, disagreements) and passed deprecation dates."""

    today: date
    listings: dict[str, Listing]
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # offer -> {"facts": {...}, "lifecycle": {...}}
    diff: list[DiffRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    seen: dict[str, list[str]] = field(default_factory=dict)  # source -> ids it listed (this and earlier syncs)
    never_listed: dict[str, list[str]] = field(default_factory=dict)  # offer -> its ids no listing has had yet

    @property
    def held(self) -> list[DiffRow]:
        return [row for row in self.diff if row.held]

    @property
    def applied(self) -> list[DiffRow]:
        return [row for row in self.diff if not row.held]


def _show(value: Any) -> str:
    if value is None or value == "unknown":
        return "unknown"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        status = value.get("value", "")
        return status + (f" {value['date']}" if value.get("date") else "") + \
            (f" (successor {value['successor']})" if value.get("successor") else "")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _first(entries: dict[str, ListedOffer], order: tuple[str, ...], attribute: str) -> tuple[str, Any]:
    for source in order:
        entry = entries.get(source)
        if entry is not None and getattr(entry, attribute) is not None:
            return entry.source_id, getattr(entry, attribute)
    return "", None


def _disagreement(entries: dict[str, ListedOffer], used_id: str, attribute: str, value: float) -> str:
    others = [f"{e.source_id} gives {getattr(e, attribute):g}" for e in entries.values()
              if e.source_id != used_id and getattr(e, attribute) is not None
              and abs(getattr(e, attribute) - value) > max(0.01 * value, 1e-9)]
    return ("sources disagree: " + "; ".join(others)) if others else ""


def _known_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _lifecycle_dict(deployment: Deployment) -> dict[str, Any]:
    life = deployment.lifecycle
    out: dict[str, Any] = {"value": "retired" if life.unlisted else life.status}
    if life.date:
        out["date"] = life.date.isoformat()
    if life.successor:
        out["successor"] = life.successor
    return out


def _carried_lifecycle(deployment: Deployment) -> dict[str, Any] | None:
    """A lifecycle an earlier sync set, kept in the new overlay (the overlay is rewritten whole)."""
    life = deployment.lifecycle
    if not life.synced_id or life.source is None:
        return None
    carried = {**_lifecycle_dict(deployment), "source": life.source.key, "synced_id": life.synced_id}
    if life.unlisted:
        carried["unlisted"] = True
    if life.note:
        carried["note"] = life.note
    return carried


def _carried_fact(deployment: Deployment, name: str) -> dict[str, Any] | None:
    fact = deployment.facts.get(name)
    if fact is None or not fact.synced_id:
        return None
    return {"value": fact.value, "source": fact.source.key, "synced_id": fact.synced_id}


def plan_sync(catalog: Catalog, listings: dict[str, Listing], today: date,
              seen_before: dict[str, list[str]] | None = None) -> SyncPlan:
    """Compare every synced offer of `catalog` (the catalog in use: base plus the last overlay)
    with the listings."""
    plan = SyncPlan(today, listings)
    seen_before = seen_before or {}
    referenced = {sid for model in catalog.models.values() for d in model.deployments for sid in d.synced_from}
    for name, listing in listings.items():
        listed = {sid for sid in referenced if listing.find(sid) is not None}
        plan.seen[name] = sorted(set(seen_before.get(name, ())) | listed)
    for model in catalog.models.values():
        for deployment in model.deployments:
            if deployment.synced_from:
                _plan_offer(plan, model, deployment, seen_before)
    for model in catalog.models.values():
        for deployment in model.deployments:
            offer = f"{model.id}/{deployment.id}"
            life = plan.updates.get(offer, {}).get("lifecycle") or _lifecycle_dict(deployment)
            if life["value"] == "deprecated" and life.get("date") and date.fromisoformat(life["date"]) <= today:
                plan.passed.append(passed_deprecation(offer, date.fromisoformat(life["date"]),
                                                      life.get("successor", "")))
    return plan


def _plan_offer(plan: SyncPlan, model: Model, deployment: Deployment, seen_before: dict[str, list[str]]) -> None:
    offer = f"{model.id}/{deployment.id}"
    entries: dict[str, ListedOffer] = {}
    missing: list[str] = []
    never: list[str] = []
    for source_id in deployment.synced_from:
        listing = plan.listings.get(source_of(source_id))
        if listing is None:
            continue
        entry = listing.find(source_id)
        if entry is not None:
            entries.setdefault(listing.source, entry)
        elif listing.source in LIFECYCLE_SOURCES and listing.lists_provider(source_id):
            if source_id in seen_before.get(listing.source, ()):
                missing.append(source_id)
            else:
                never.append(source_id)
    if never:
        plan.never_listed[offer] = never
    for sid in (sid for sid in missing if source_of(sid) != PROVIDER_LISTING):
        plan.notes.append(f"{offer}: {sid} is no longer listed there (the provider's own listing decides "
                          "whether the offer is unlisted)")
    facts: dict[str, Any] = {}
    if deployment.is_api:
        for name in PRICE_FACTS:
            _plan_fact(plan, offer, deployment, entries, name, PRICE_ORDER, facts, deployment.value(name, None))
    for name in LIMIT_FACTS:  # a deployment without its own limit has the model's
        _plan_fact(plan, offer, deployment, entries, name, LIMIT_ORDER, facts,
                   deployment.value(name, None) if name in deployment.facts else model.value(name, None))
    lifecycle = _plan_lifecycle(plan, offer, deployment, entries, missing)
    listed_again = deployment.lifecycle.unlisted and any(s in LIFECYCLE_SOURCES for s in entries)
    if lifecycle is None and not listed_again:  # listed again: back to the reviewed lifecycle
        lifecycle = _carried_lifecycle(deployment)
    update: dict[str, Any] = {"facts": facts} if facts else {}
    if lifecycle:
        update["lifecycle"] = lifecycle
    if update:
        plan.updates[offer] = update


def _plan_fact(plan: SyncPlan, offer: str, deployment: Deployment, entries: dict[str, ListedOffer], name: str,
               order: tuple[str, ...], facts: dict[str, Any], old: Any) -> None:
    attribute = name
    price = name in PRICE_FACTS
    used_id, value = _first(entries, order, attribute)
    if value is None:
        return
    listing = plan.listings[source_of(used_id)]
    note = "; ".join(part for part in (entries[source_of(used_id)].note if price else "",
                                        _disagreement(entries, used_id, attribute, float(value))) if part)
    fact = {"value": value, "source": SOURCE_KEYS[listing.source], "synced_id": used_id}
    if note:
        fact["note"] = note
    old_number = _known_number(old)
    if old_number is not None and abs(old_number - float(value)) <= 1e-9:
        facts[name] = fact  # unchanged, now with the listing as its source
        return
    held = price and old_number is not None and old_number > 0 and (
        float(value) > HOLD_FACTOR * old_number or float(value) * HOLD_FACTOR < old_number)
    bound = out_of_bounds(name, value)
    if held or bound:
        why = f"outside the catalog's bounds ({bound.range_text()})" if bound else f"moves more than {HOLD_FACTOR:g}x"
        held = True
        note = "; ".join(p for p in (f"{why}; not applied", note) if p)
        carried = _carried_fact(deployment, name)
        if carried:
            facts[name] = carried
    else:
        facts[name] = fact
    plan.diff.append(DiffRow(offer, name, old, value, used_id, listing.fetched, note, held))


def _plan_lifecycle(plan: SyncPlan, offer: str, deployment: Deployment, entries: dict[str, ListedOffer],
                    missing: list[str]) -> dict[str, Any] | None:
    current = _lifecycle_dict(deployment)
    found: dict[str, Any] | None = None
    reason_id = ""
    served = [e for s, e in entries.items() if s in LIFECYCLE_SOURCES and e.status in ("active", "preview")]
    deprecated = [e for s, e in entries.items() if s in LIFECYCLE_SOURCES and e.status == "deprecated"]
    retired = [e for s, e in entries.items() if s in LIFECYCLE_SOURCES and e.status == "retired"]
    dated = [e for e in deprecated if e.deprecation_date is not None]
    md_gone = [e for e in deprecated if source_of(e.source_id) == "models.dev"]
    if dated:
        first = min(dated, key=lambda e: e.deprecation_date)
        found, reason_id = {"value": "deprecated", "date": first.deprecation_date.isoformat(),
                            "note": f"{source_of(first.source_id)} announces the end of this offer"}, first.source_id
    if (md_gone or retired) and not served and not dated:
        gone = (md_gone or retired)[0]
        found, reason_id = {"value": "retired", "note": f"{gone.source_id}: no longer served on the provider's "
                                                         "public API"}, gone.source_id
    gone_from_provider = [sid for sid in missing if source_of(sid) == PROVIDER_LISTING]
    if gone_from_provider:  # the provider's complete listing no longer has it: whatever a router lists
        still = [e.source_id for s, e in entries.items() if s != PROVIDER_LISTING and s in LIFECYCLE_SOURCES]
        found, reason_id = {"value": "retired", "unlisted": True,
                            "note": f"unlisted: {gone_from_provider[0]} was in the provider's listing at an earlier "
                                    "sync and is no longer" + (f" ({', '.join(still)} still lists the model, "
                                                               "not this route)" if still else "")}, gone_from_provider[0]
    if found is None or LIFECYCLE_RANK[found["value"]] < LIFECYCLE_RANK[current["value"]]:
        return None
    if found["value"] == current["value"] and found.get("date") == current.get("date"):
        return None
    if current.get("successor") and "successor" not in found:
        found["successor"] = current["successor"]
    found["source"] = SOURCE_KEYS[source_of(reason_id)]
    found["synced_id"] = reason_id
    listing = plan.listings[source_of(reason_id)]
    plan.diff.append(DiffRow(offer, "lifecycle", current, found, reason_id, listing.fetched,
                             found.get("note", "")))
    return found


PUBLIC_URLS = {"models.dev": "https://models.dev/api.json", "openrouter": "https://openrouter.ai/api/v1/models"}


def _source_entry(name: str, listing: Listing) -> dict[str, str]:
    """A listing as a catalog source: a mirror (a local file) is cited by the public URL it mirrors."""
    public = listing.url.startswith(("http://", "https://"))
    title = SOURCE_TITLES[name] + ("" if public else f"; read from the mirror {listing.url}")
    return {"url": listing.url if public else PUBLIC_URLS.get(name, listing.url), "title": title,
            "as_of": listing.fetched.isoformat()}


def overlay_document(plan: SyncPlan, base_sha256: str) -> dict[str, Any]:
    """The overlay as a catalog extension file (schemas/catalog.schema.json, `offer_updates`)."""
    sources = {SOURCE_KEYS[name]: _source_entry(name, listing) for name, listing in plan.listings.items()}
    return {
        "catalog_version": 1,
        "sources": sources,
        "models": {},
        "offer_updates": plan.updates,
        "sync": {
            "synced_at": plan.today.isoformat(),
            "base_sha256": base_sha256,
            "sources": {name: {"url": listing.url, "fetched": listing.fetched.isoformat(),
                               "offers": listing.offer_count} for name, listing in plan.listings.items()},
            "held": [row.line() for row in plan.held],
            "seen": plan.seen,
        },
    }
