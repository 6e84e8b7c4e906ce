"""Quality evidence: a model's sourced measurement per task, normalised to 0-100 against the top of
the scale among eligible candidates measured on it for that task (the highest upper end of a
published interval), with the interval its evidence allows (README "Methodology", 3).

Evidence kinds: `measured` (a published score; its interval from the published CI, or
UNPUBLISHED_CI when none is published), `proxy` (no score of its own, another model's standing in:
its interval widened by PROXY_HALF_WIDTH), `unknown` (no score: the conservative UNMEASURED_QUALITY
point, an interval up to the top of the scale, since only a pilot can say where it lies), and
`pilot` (measured on the team's own examples: it replaces the public evidence of the models it
measured; the others keep their public scores unshifted, with a higher upper end: decision/pilot.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Iterable

from modelmemo.catalog.load import Catalog, Model
from modelmemo.decision.pilot import (PilotEvidence, PilotReading, PilotScale, metric_words, min_half_width,
                                      reading_words)
from modelmemo.decision.policy import policy
from modelmemo.decision.words import task_label


UNKNOWN_QUALITY = policy("UNMEASURED_QUALITY")


def clamp(value: float) -> float:
    """A 0-100 score to one decimal."""
    return max(0.0, min(100.0, round(value, 1))) + 0.0  # + 0.0: never -0.0


def bounded(value: float) -> float:
    """0-100, unrounded (interval ends)."""
    return max(0.0, min(100.0, value)) + 0.0


@dataclass(frozen=True)
class TaskQuality:
    """One task's quality score with its interval and where it comes from."""

    task: str
    score: float
    low: float
    high: float
    kind: str  # measured | proxy | unknown | pilot
    text: str  # the evidence in words, for the factor's reason
    value: float | None = None  # the published figure on its scale
    source: str = ""  # the catalog source key
    scale: str = ""
    ci: float = 0.0  # the published half-width around `value`, on its scale (0 when none is published)
    pilot: PilotReading | None = None  # kind pilot: the reading (value, interval, n, date, endpoint)
    unpiloted: bool = False  # a public score on a task the pilot measured for other models (decision/pilot.py, 2)


def evidence_of(model: Model, task: str) -> Any:
    quality = getattr(model, "quality", None) or {}
    return quality.get(task) if isinstance(quality, dict) else None


def evidence_value(evidence: Any) -> float | None:
    value = getattr(evidence, "value", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _scale(catalog: Catalog, key: str) -> Any:
    return (getattr(catalog, "quality_scales", None) or {}).get(key)


def _scale_kind(catalog: Catalog, key: str) -> str:
    kind = getattr(_scale(catalog, key), "kind", None)
    if kind:
        return kind
    return "elo" if "elo" in key.lower() or "arena" in key.lower() else "percent"


def _scale_title(catalog: Catalog, key: str) -> str:
    """A short name for the scale in a reason (the full title is in the memo's sourced facts)."""
    title = getattr(_scale(catalog, key), "title", None) or key
    short = title
    for mark in (":", " (", ","):
        short = short.split(mark)[0]
    short = short.strip()
    return short if short and len(short) <= 45 else key


class QualityContext:
    """Normalisation among the eligible candidates: an excluded model never reorders eligible ones."""

    def __init__(self, catalog: Catalog, eligible: Iterable[str] | None = None, pilot: PilotEvidence | None = None):
        self.catalog = catalog
        ids = set(catalog.models) if eligible is None else set(eligible)
        self.models = [m for m in catalog.models.values() if m.id in ids]
        self.pilot = pilot
        self._peers: dict[tuple[str, str], list[tuple[str, float]]] = {}
        self._pilot_scales: dict[str, PilotScale | None] = {}

    def peers(self, task: str, scale: str) -> list[tuple[str, float]]:
        """(model id, value) of every eligible model with a known value on `scale` for `task`, best first."""
        key = (task, scale)
        if key not in self._peers:
            found = []
            for model in self.models:
                evidence = evidence_of(model, task)
                value = evidence_value(evidence)
                if value is not None and getattr(evidence, "scale", None) == scale:
                    found.append((model.id, value))
            self._peers[key] = sorted(found, key=lambda p: (-p[1], p[0]))
        return self._peers[key]

    def reference(self, task: str, scale: str) -> float | None:
        """The top of the scale among eligible peers: the highest upper end of a published interval
        (the best point when none is published). The best-rated model then keeps its upside instead
        of being pinned at 100, so two models whose intervals overlap stay close."""
        key = ("ref", task, scale)
        if key not in self._peers:
            tops = []
            for model in self.models:
                evidence = evidence_of(model, task)
                value = evidence_value(evidence)
                ci = getattr(evidence, "ci", None)
                proxy = getattr(evidence, "proxy", None)
                if value is None and proxy is not None:  # a proxy is evidence on the same scale
                    value, ci = proxy.value, proxy.ci
                if value is not None and getattr(evidence, "scale", None) == scale:
                    tops.append(value + (ci if isinstance(ci, (int, float)) and not isinstance(ci, bool) else 0))
            self._peers[key] = [("", max(tops))] if tops else []
        found = self._peers[key]
        return found[0][1] if found else None

    def normalise(self, task: str, scale: str, value: float) -> float:
        reference = self.reference(task, scale)
        top = value if reference is None else max(reference, value)
        if _scale_kind(self.catalog, scale) == "elo":
            return 100 * 2 / (1 + 10 ** ((top - value) / 400))
        return 100 * value / top if top > 0 else UNKNOWN_QUALITY

    def task_quality(self, model: Model, task: str, deployment: str | None = None) -> TaskQuality:
        """The quality the decision uses: the pilot's reading when the model was piloted on the
        task (the offer's own, else the model's newest), else its public evidence (unshifted, its upper
        end higher when the task was piloted for other models)."""
        public = self.public_quality(model, task)
        scale = self.pilot_scale(task)
        if scale is None:
            return public
        reading = scale.reading(model.id, deployment)
        if reading is not None:
            return self._piloted(scale, reading)
        if public.kind == "unknown":
            return public  # no evidence at all: only a measurement settles it, on any scale
        # Not piloted: its public score and lower end as with no pilot (a pilot of other models is no
        # evidence against it); only the upper end rises, since a benchmark is not the team's examples.
        half = policy("PILOT_UNPILOTED_HALF_WIDTH")
        text = (f"{public.text}; not piloted on your examples: its public score, its upper end {half:g} higher "
                f"(the piloted models were measured on your examples in {metric_words(scale.metric)})")
        return replace(public, high=bounded(public.high + half), text=text, unpiloted=True)

    def pilot_scale(self, task: str) -> PilotScale | None:
        if self.pilot is None:
            return None
        if task not in self._pilot_scales:
            self._pilot_scales[task] = self.pilot.scale(task, (m.id for m in self.models))
        return self._pilot_scales[task]

    def _piloted(self, scale: PilotScale, r: PilotReading) -> TaskQuality:
        score = scale.normalise(r.value)
        # Its bootstrap interval, never narrower than n examples allow (all answers agreeing is no certainty).
        half = min_half_width(r.n)
        low, high = min(scale.normalise(r.ci_low), score - half), max(scale.normalise(r.ci_high), score + half)
        rank, piloted = scale.rank(r)
        text = (f"{task_label(r.task)}: your pilot, {reading_words(r)} on {r.n} examples, {_ordinal(rank)} of "
                f"{piloted} piloted ({clamp(score):g})")
        return TaskQuality(r.task, clamp(score), bounded(min(low, score)), bounded(max(high, score)), "pilot", text,
                           r.value, "", r.metric, 0.0, pilot=r)

    def public_quality(self, model: Model, task: str) -> TaskQuality:
        """The model's sourced public evidence for the task (measured, proxy or unknown)."""
        evidence = evidence_of(model, task)
        value = evidence_value(evidence)
        scale = getattr(evidence, "scale", "") or ""
        source = getattr(evidence, "source", None)
        source_key = getattr(source, "key", "") or ""
        proxy = getattr(evidence, "proxy", None)
        if value is None and proxy is not None:
            return self._proxy_quality(task, scale, proxy)
        if value is None:
            measured = [self.normalise(task, s, v) for s in self._scales(task) for _, v in self.peers(task, s)]
            low = min([UNKNOWN_QUALITY, *measured]) if measured else 0.0
            high = 100.0  # the top of the scale: only a measurement can rule it out
            text = (f"no public quality evidence for {task_label(task)}: {UNKNOWN_QUALITY:g}, conservative "
                    f"(could be {low:.0f}-{high:.0f})")
            return TaskQuality(task, UNKNOWN_QUALITY, low, high, "unknown", text, None, source_key, scale)
        score = self.normalise(task, scale, value)
        peers = self.peers(task, scale)
        rank = 1 + sum(1 for _, v in peers if v > value)
        ci = getattr(evidence, "ci", None)
        published = isinstance(ci, (int, float)) and not isinstance(ci, bool)
        if published:
            low, high = self.normalise(task, scale, value - ci), self.normalise(task, scale, value + ci)
        else:
            half = policy("UNPUBLISHED_CI")
            low, high = score - half, score + half
        ci_text = f" ±{ci:g}" if published else ""
        ordinal = _ordinal(rank)
        shown = f"{value:g}" if _scale_kind(self.catalog, scale) == "elo" else f"{value:g}/100"
        text = (f"{task_label(task)}: {_scale_title(self.catalog, scale)} {shown}{ci_text}, {ordinal} of "
                f"{len(peers)} eligible ({clamp(score):g})")
        return TaskQuality(task, clamp(score), bounded(min(low, score)), bounded(max(high, score)), "measured",
                           text, value, source_key, scale, float(ci) if published else 0.0)

    def _proxy_quality(self, task: str, scale: str, proxy) -> TaskQuality:
        score = self.normalise(task, scale, proxy.value)
        ci = proxy.ci or 0.0
        half = policy("PROXY_HALF_WIDTH")
        low = self.normalise(task, scale, proxy.value - ci) - half
        high = self.normalise(task, scale, proxy.value + ci) + half
        shown = f"{proxy.value:g}" if _scale_kind(self.catalog, scale) == "elo" else f"{proxy.value:g}/100"
        text = (f"{task_label(task)}: no score of its own; {proxy.of}'s {_scale_title(self.catalog, scale)} {shown}"
                f"{f' ±{ci:g}' if ci else ''} as a proxy ({clamp(score):g}, ±{half:g} more as a proxy)")
        return TaskQuality(task, clamp(score), bounded(min(low, score)), bounded(max(high, score)), "proxy", text,
                           proxy.value, proxy.source.key, scale, ci)

    def _scales(self, task: str) -> list[str]:
        return sorted({getattr(evidence_of(m, task), "scale", "") for m in self.models
                       if evidence_value(evidence_of(m, task)) is not None} - {""})


def _ordinal(rank: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(rank, f"{rank}th")


def task_quality(model: Model, task: str, catalog: Catalog) -> tuple[float, str]:
    """(0-100 quality score, the evidence in words) for one task against the whole catalog."""
    found = QualityContext(catalog).task_quality(model, task)
    return found.score, found.text
