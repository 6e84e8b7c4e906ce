"""The model catalog: sourced facts about each model and its deployment options.

The shipped catalog is `catalog/models.yaml`; users add or override models with extra files
(validated by the same schema) without editing it. Models merge by id: redefining a model
needs `override: true`, and a source key may not point at two different URLs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from modelmemo.catalog.bounds import describe, number_problems
from modelmemo.inputs.loading import InputError, load_document
from modelmemo.resources import schema_file
from modelmemo.inputs.validation import schema_problems

CATALOG_SCHEMA = schema_file("catalog.schema.json")


class CatalogError(Exception):
    """The catalog cannot be used; the run stops before touching any input."""


@dataclass(frozen=True)
class Source:
    key: str
    url: str
    title: str
    as_of: date
    stale_ok: str = ""  # why facts on this source cannot be refreshed from the stored sources


@dataclass(frozen=True)
class QualityScale:
    """A scale quality evidence is measured on: `elo` (arena-style rating) or `percent` (0-100 score)."""

    key: str
    kind: str  # "elo" | "percent"
    title: str
    source: Source


@dataclass(frozen=True)
class ProxyEvidence:
    """Another model's score standing in for one that has none (a predecessor's, a sibling's)."""

    value: float
    ci: float | None
    of: str  # the model the score belongs to
    source: Source


@dataclass(frozen=True)
class QualityEvidence:
    """A model's measured quality on one task; `value` None means unknown (scored conservatively),
    unless `proxy` gives another model's score to stand in for it (with a wider interval)."""

    value: float | None
    scale: str
    ci: float | None
    source: Source
    note: str = ""
    proxy: ProxyEvidence | None = None


@dataclass(frozen=True)
class Seed:
    """The version the source article named, when the entry now describes the family's current version."""

    name: str
    status: str
    source: Source


@dataclass(frozen=True)
class Fact:
    value: Any
    source: Source
    note: str = ""
    synced_id: str = ""  # the listing id a `catalog sync` took it from ("" for a reviewed fact)


@dataclass(frozen=True)
class OfferLifecycle:
    """An offer's status at its provider: `active`, `preview`, `deprecated` (served until `date`, then
    `successor`) or `retired`. `unlisted` is set by a sync when a complete listing of the provider no
    longer contains the offer; it is treated as retired."""

    status: str
    source: Source | None = None
    date: date | None = None
    successor: str = ""
    note: str = ""
    unlisted: bool = False
    synced_id: str = ""  # the listing id a `catalog sync` took it from ("" for a reviewed fact)

    def effective(self, today: date) -> str:
        """The status on `today`: a deprecated offer past its date is retired."""
        if self.status == "deprecated" and self.date is not None and self.date <= today:
            return "retired"
        return self.status


ACTIVE = OfferLifecycle("active")


@dataclass(frozen=True)
class Deployment:
    id: str
    kind: str  # "api" | "self-hosted"
    provider: str
    facts: dict[str, Fact]
    lifecycle: OfferLifecycle = ACTIVE
    synced_from: tuple[str, ...] = ()
    route: str = ""  # first-party | cloud | host | self-hosted

    def value(self, name: str, default: Any = "unknown") -> Any:
        fact = self.facts.get(name)
        return default if fact is None else fact.value

    @property
    def is_api(self) -> bool:
        return self.kind == "api"


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    vendor: str
    summary: str
    facts: dict[str, Fact]
    deployments: tuple[Deployment, ...]
    successor: str | None = None
    origin: str = ""
    quality: dict[str, QualityEvidence] = field(default_factory=dict)
    seed: Seed | None = None
    family: str = ""  # the family this entry is a size or tier of; "" means its own id
    beyond_article: bool = False  # a current family the source article does not name

    def value(self, name: str, default: Any = "unknown") -> Any:
        fact = self.facts.get(name)
        return default if fact is None else fact.value

    @property
    def openness(self) -> str:
        return self.facts["openness"].value

    @property
    def is_open(self) -> bool:
        return self.openness == "open-source"

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.facts["tasks"].value)

    @property
    def lifecycle(self) -> str:
        return self.facts["lifecycle"].value

    @property
    def has_open_weights(self) -> bool:
        return self.value("open_weights") == "yes"

    @property
    def is_toolkit(self) -> bool:
        return self.value("is_toolkit", "no") == "yes"


@dataclass(frozen=True)
class Catalog:
    models: dict[str, Model]
    sources: dict[str, Source]
    assumptions: dict[str, Any]
    sha256: str
    files: tuple[str, ...] = field(default=())
    quality_scales: dict[str, QualityScale] = field(default_factory=dict)
    # The day lifecycles are judged on (a deprecated offer past its date is retired): the load day.
    today: date = field(default_factory=date.today)
    base_sha256: str = ""  # the reviewed catalog files (shipped and extensions)
    overlay_sha256: str = ""  # the synced overlay, if any (one digest of nothing otherwise)

    @property
    def as_of(self) -> date:
        """Date of the most recently checked source."""
        return max(source.as_of for source in self.sources.values())

    @property
    def oldest_as_of(self) -> date:
        return min(source.as_of for source in self.sources.values())

    def assumption(self, *path: str) -> Fact:
        node: Any = self.assumptions
        for part in path:
            node = node[part]
        return node

    def facts(self):
        """Every (model id, deployment id or '', fact name, Fact) for audits."""
        for model in self.models.values():
            for name, fact in model.facts.items():
                yield model.id, "", name, fact
            for deployment in model.deployments:
                for name, fact in deployment.facts.items():
                    yield model.id, deployment.id, name, fact


_DEPLOYMENT_META = {"id", "kind", "provider", "synced_from", "route"}


def _read_catalog_file(path: Path, scale_kinds: dict[str, str] | None = None) -> dict[str, Any]:
    """The file's data, checked: readable, every number finite and within its bounds (bounds.py;
    `scale_kinds` are the quality scales earlier files declared), and matching the schema."""
    label = str(path)
    try:
        document = load_document(path)
    except InputError as exc:
        where = f":{exc.line}:{exc.column}" if exc.line else ""
        raise CatalogError(f"{label}{where}: {exc.message}") from None
    except OSError as exc:
        raise CatalogError(f"{label}: cannot read catalog: {exc.strerror or exc}") from None
    out_of_bounds = number_problems(document, scale_kinds or {})
    if out_of_bounds:
        raise CatalogError(describe(out_of_bounds, document, label))
    problems = schema_problems(document, label, CATALOG_SCHEMA)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise CatalogError(f"catalog {label} does not match schemas/catalog.schema.json:\n  {shown}{more}")
    return {"data": document.data, "sha256": document.sha256}


def _offer_lifecycle(raw: dict[str, Any] | None, fact: Fact | None) -> OfferLifecycle:
    """An offer's `lifecycle` entry (reviewed, or an overlay's with `unlisted` and `synced_id`)."""
    if raw is None or fact is None:
        return ACTIVE
    return OfferLifecycle(raw["value"], fact.source, date.fromisoformat(raw["date"]) if raw.get("date") else None,
                          raw.get("successor", ""), raw.get("note", ""), bool(raw.get("unlisted")),
                          raw.get("synced_id", ""))


def _apply_offer_update(models: dict[str, Model], offer: str, update: dict[str, Any], fact, where: str) -> None:
    """Overlay synced facts on one offer. An update for an offer the catalog no longer has is
    ignored: the next sync reports the catalog as it is."""
    model_id, deployment_id = offer.split("/", 1)
    model = models.get(model_id)
    if model is None or not any(d.id == deployment_id for d in model.deployments):
        return
    deployments = []
    for deployment in model.deployments:
        if deployment.id == deployment_id:
            facts = dict(deployment.facts)
            for name, raw in update.get("facts", {}).items():
                facts[name] = fact({**raw, "note": _synced_note(raw)}, f"{where}.facts.{name}")
            lifecycle = deployment.lifecycle
            if "lifecycle" in update:
                raw = update["lifecycle"]
                facts["lifecycle"] = fact({**raw, "note": _synced_note(raw)}, f"{where}.lifecycle")
                lifecycle = _offer_lifecycle(raw, facts["lifecycle"])
            deployment = replace(deployment, facts=facts, lifecycle=lifecycle)
        deployments.append(deployment)
    models[model_id] = replace(model, deployments=tuple(deployments))


def _synced_note(raw: dict[str, Any]) -> str:
    return "; ".join(part for part in (f"synced from {raw['synced_id']}", raw.get("note", "")) if part)


def load_catalog(paths: tuple[Path, ...] | list[Path], today: date | None = None) -> Catalog:
    """Load the shipped catalog and any extension files, in order, and merge them."""
    sources: dict[str, Source] = {}
    source_origin: dict[str, str] = {}
    raw_models: dict[str, tuple[dict[str, Any], str]] = {}
    raw_scales: dict[str, tuple[dict[str, Any], str]] = {}
    assumptions: dict[str, Any] = {}
    offer_updates: list[tuple[str, dict[str, Any], str]] = []  # (offer, update, file), in merge order
    digest = hashlib.sha256()
    base_digest = hashlib.sha256()  # the reviewed files only: a sync's overlay changes overlay_sha256 alone
    overlay_digest = hashlib.sha256()
    for path in paths:
        loaded = _read_catalog_file(Path(path), {key: raw.get("kind") for key, (raw, _) in raw_scales.items()})
        digest.update(loaded["sha256"].encode())
        data = loaded["data"]
        (overlay_digest if "offer_updates" in data else base_digest).update(loaded["sha256"].encode())
        label = str(path)
        for key, raw in data["sources"].items():
            source = Source(key, raw["url"], raw.get("title", raw["url"]), date.fromisoformat(raw["as_of"]),
                            raw.get("stale_ok", ""))
            if key in sources and (sources[key].url != source.url):
                raise CatalogError(
                    f"{label}: source '{key}' points to {source.url}, but {source_origin[key]} "
                    f"defines it as {sources[key].url}; rename one of them"
                )
            if key not in sources or source.as_of > sources[key].as_of:
                sources[key] = source
                source_origin[key] = label
        for scale_key, raw in data.get("quality_scales", {}).items():
            if scale_key in raw_scales and raw_scales[scale_key][0] != raw:
                raise CatalogError(f"{label}: quality scale '{scale_key}' is already declared differently in "
                                   f"{raw_scales[scale_key][1]}; use another key for another scale")
            raw_scales[scale_key] = (raw, label)
        for model_id, raw in data["models"].items():
            if model_id in raw_models and not raw.get("override"):
                raise CatalogError(
                    f"{label}: model '{model_id}' is already defined in {raw_models[model_id][1]}; "
                    "add `override: true` to replace it, or choose another id"
                )
            if raw.get("override") and model_id not in raw_models:
                raise CatalogError(f"{label}: model '{model_id}' has `override: true`, but no earlier catalog file "
                                   "defines it; check the id, or remove `override`")
            deployment_ids = [d["id"] for d in raw["deployments"]]
            duplicates = sorted({d for d in deployment_ids if deployment_ids.count(d) > 1})
            if duplicates:
                raise CatalogError(f"{label}: model '{model_id}' lists deployment id(s) {', '.join(duplicates)} "
                                   "more than once; each deployment needs its own id")
            raw_models[model_id] = (raw, label)
        assumptions.update(data.get("assumptions", {}))
        offer_updates.extend((offer, update, label) for offer, update in data.get("offer_updates", {}).items())
    for required in ("input_token_share", "hours_per_month", "ops_usd_per_month"):
        if required not in assumptions:
            raise CatalogError(f"catalog has no `assumptions.{required}`; the shipped catalog defines it")

    def fact(raw: dict[str, Any], where: str) -> Fact:
        key = raw["source"]
        if key not in sources:
            raise CatalogError(f"{where}: source '{key}' is not defined under `sources`")
        return Fact(raw["value"], sources[key], raw.get("note", ""), raw.get("synced_id", ""))

    def source_of(key: str, where: str) -> Source:
        if key not in sources:
            raise CatalogError(f"{where}: source '{key}' is not defined under `sources`")
        return sources[key]

    quality_scales = {
        key: QualityScale(key, raw["kind"], raw["title"], source_of(raw["source"], f"{label}: quality_scales.{key}"))
        for key, (raw, label) in raw_scales.items()
    }

    def quality(raw: dict[str, Any], where: str) -> dict[str, QualityEvidence]:
        evidence = {}
        for task, entry in raw.items():
            at = f"{where}.quality.{task}"
            if entry["scale"] not in quality_scales:
                declared = ", ".join(sorted(quality_scales)) or "none"
                raise CatalogError(f"{at}: scale '{entry['scale']}' is not declared under `quality_scales` "
                                   f"(declared: {declared}); declare it once at the top of a catalog file")
            value = entry["value"]
            raw_proxy = entry.get("proxy")
            proxy = None if raw_proxy is None else ProxyEvidence(
                float(raw_proxy["value"]), float(raw_proxy["ci"]) if "ci" in raw_proxy else None, raw_proxy["of"],
                source_of(raw_proxy["source"], f"{at}.proxy"))
            evidence[task] = QualityEvidence(None if value == "unknown" else float(value), entry["scale"],
                                             float(entry["ci"]) if "ci" in entry else None,
                                             source_of(entry["source"], at), entry.get("note", ""), proxy)
        return evidence

    models: dict[str, Model] = {}
    for model_id, (raw, label) in raw_models.items():
        facts = {name: fact(value, f"{label}: models.{model_id}.facts.{name}") for name, value in raw["facts"].items()}
        deployments = []
        for index, dep in enumerate(raw["deployments"]):
            dep_facts = {
                name: fact(value, f"{label}: models.{model_id}.deployments[{index}].{name}")
                for name, value in dep.items()
                if name not in _DEPLOYMENT_META
            }
            deployments.append(Deployment(dep["id"], dep["kind"], dep["provider"], dep_facts,
                                          _offer_lifecycle(dep.get("lifecycle"), dep_facts.get("lifecycle")),
                                          tuple(dep.get("synced_from", ())),
                                          dep.get("route") or ("self-hosted" if dep["kind"] == "self-hosted" else "")))
        models[model_id] = Model(
            id=model_id,
            name=raw["name"],
            vendor=raw["vendor"],
            summary=raw["summary"],
            facts=facts,
            deployments=tuple(deployments),
            successor=raw.get("successor"),
            origin=label,
            quality=quality(raw.get("quality", {}), f"{label}: models.{model_id}"),
            family=raw.get("family", model_id),
            beyond_article=bool(raw.get("beyond_article")),
            seed=Seed(raw["seed"]["name"], raw["seed"]["status"],
                      source_of(raw["seed"]["source"], f"{label}: models.{model_id}.seed")) if "seed" in raw else None,
        )
    for offer, update, label in offer_updates:
        _apply_offer_update(models, offer, update, fact, f"{label}: offer_updates.{offer}")
    for model in models.values():
        if model.successor and model.successor not in models:
            raise CatalogError(f"{model.origin}: models.{model.id}.successor '{model.successor}' is not in the catalog")
    resolved_assumptions = {
        "input_token_share": fact(assumptions["input_token_share"], "assumptions.input_token_share"),
        "hours_per_month": fact(assumptions["hours_per_month"], "assumptions.hours_per_month"),
        "ops_usd_per_month": {
            level: fact(value, f"assumptions.ops_usd_per_month.{level}")
            for level, value in assumptions["ops_usd_per_month"].items()
        },
    }
    return Catalog(models, sources, resolved_assumptions, digest.hexdigest(), tuple(str(p) for p in paths),
                   quality_scales, today or date.today(), base_digest.hexdigest(), overlay_digest.hexdigest())
