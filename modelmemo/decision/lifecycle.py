"""Offer lifecycle in the decision: a retired (or unlisted) offer is never a candidate; a deprecated
one only when nothing active fits, and then it is said on page 1 with its date and successor.

Also the data-residency rule: a hosted offer must guarantee one of the regions the project names."""

from __future__ import annotations

from datetime import date

from modelmemo.catalog.load import Catalog, Deployment, Model

# Region codes the requirement schema accepts, and the words catalog facts use for them.
REGION_WORDS = {
    "EU": ("eu", "europe", "european union", "eea"),
    "US": ("us", "united states", "usa"),
    "UK": ("uk", "united kingdom", "great britain"),
    "CA": ("ca", "canada"),
    "JP": ("jp", "japan"),
    "AU": ("au", "australia"),
    "IN": ("in", "india"),
    "CH": ("ch", "switzerland"),
}


def offer_status(deployment: Deployment, today: date) -> str:
    """active | preview | deprecated | retired, on `today` (unlisted counts as retired)."""
    if deployment.lifecycle.unlisted:
        return "retired"
    return deployment.lifecycle.effective(today)


def successor_name(successor: str, catalog: Catalog | None) -> str:
    """A successor as readers know it: 'model' or 'model/deployment' ids become names."""
    if not successor or catalog is None:
        return successor
    model_id, _, deployment_id = successor.partition("/")
    model = catalog.models.get(model_id)
    if model is None:
        return successor
    deployment = next((d for d in model.deployments if d.id == deployment_id), None)
    return f"{model.name} via {deployment.provider}" if deployment else model.name


def retired_reason(deployment: Deployment, catalog: Catalog | None, today: date) -> str | None:
    """Why a retired offer cannot serve, or None when it is not retired."""
    if offer_status(deployment, today) != "retired":
        return None
    life = deployment.lifecycle
    if life.unlisted:
        what = f"{deployment.provider}: no longer offered ({life.note or 'unlisted at the last sync'})"
    elif life.status == "deprecated" and life.date is not None:
        what = f"{deployment.provider}: retired on {life.date.isoformat()} (its announced deprecation date)"
    else:
        when = f" on {life.date.isoformat()}" if life.date else ""
        what = f"{deployment.provider}: retired{when}, no longer served"
    successor = successor_name(life.successor, catalog)
    return what + (f"; its successor is {successor}" if successor else "")


def deprecation_words(deployment: Deployment, catalog: Catalog | None) -> str:
    """'deprecated: Mistral AI stops serving it on 2026-12-14; successor Mistral Large 4'."""
    life = deployment.lifecycle
    when = f" on {life.date.isoformat()}" if life.date else ""
    successor = successor_name(life.successor, catalog)
    return (f"deprecated: {deployment.provider} stops serving it{when}"
            + (f"; successor {successor}" if successor else ""))


def is_deprecated(deployment: Deployment, today: date) -> bool:
    return offer_status(deployment, today) == "deprecated"


def regions_of(value: object) -> set[str] | None:
    """The region codes a `data_residency` fact guarantees; None when unknown."""
    if value == "unknown" or value is None:
        return None
    if value == "no" or not isinstance(value, list):
        return set()
    found = set()
    for item in value:
        text = str(item).lower()
        for code, words in REGION_WORDS.items():
            if any(text == w or text.startswith(w + " ") or text.startswith(w + "(") for w in words):
                found.add(code)
    return found


def residency_reason(deployment: Deployment, model: Model, required: tuple[str, ...]) -> str | None:
    """A hosted offer that does not guarantee one of the required regions cannot serve the project."""
    if not required or not deployment.is_api:
        return None
    regions = regions_of(deployment.value("data_residency"))
    if regions is not None and regions & set(required):
        return None
    stated = "not published" if regions is None else (", ".join(sorted(regions)) or "none")
    return (f"{deployment.provider} API: data must stay in {' or '.join(required)}, but the offer guarantees "
            f"no such region (data residency: {stated})")
