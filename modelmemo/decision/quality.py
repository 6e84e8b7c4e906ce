"""Quality evidence: a model's sourced measurement per task, normalised to 0-100 against the best
catalog model on the same scale for that task (README "Methodology", 3)."""

from __future__ import annotations

import math
from typing import Any

from modelmemo.catalog.load import Catalog, Model
from modelmemo.decision.words import task_label


UNKNOWN_QUALITY = 40.0  # task quality score when no public evidence is known: conservative


def clamp(value: float) -> float:
    """A 0-100 score to one decimal."""
    return max(0.0, min(100.0, round(value, 1))) + 0.0  # + 0.0: never -0.0


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
    scale = _scale(catalog, key)
    kind = getattr(scale, "kind", None)
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


def _peers(catalog: Catalog, task: str, scale: str) -> list[tuple[str, float]]:
    """(model id, value) of every catalog model with a known value on `scale` for `task`, best first."""
    found = []
    for model in catalog.models.values():
        evidence = evidence_of(model, task)
        value = evidence_value(evidence)
        if value is not None and getattr(evidence, "scale", None) == scale:
            found.append((model.id, value))
    return sorted(found, key=lambda p: (-p[1], p[0]))


def task_quality(model: Model, task: str, catalog: Catalog) -> tuple[float, str]:
    """(0-100 quality score, the evidence in words) for one task; see README "Methodology"."""
    evidence = evidence_of(model, task)
    value = evidence_value(evidence)
    if value is None:
        return UNKNOWN_QUALITY, f"no public quality evidence for {task_label(task)}: {UNKNOWN_QUALITY:g}, conservative"
    scale = getattr(evidence, "scale", "")
    peers = _peers(catalog, task, scale)
    best = peers[0][1] if peers else value
    rank = 1 + sum(1 for _, v in peers if v > value)
    if _scale_kind(catalog, scale) == "elo":
        score = 100 * 2 / (1 + 10 ** ((best - value) / 400))
    else:
        score = 100 * value / best if best > 0 else UNKNOWN_QUALITY
    ci = getattr(evidence, "ci", None)
    ci_text = f" ±{ci:g}" if isinstance(ci, (int, float)) and not isinstance(ci, bool) else ""
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(rank, f"{rank}th")
    shown = f"{value:g}" if _scale_kind(catalog, scale) == "elo" else f"{value:g}/100"
    text = f"{task_label(task)}: {_scale_title(catalog, scale)} {shown}{ci_text}, {ordinal} of {len(peers)} ({clamp(score):g})"
    return clamp(score), text


def quality_overlap(a: Model, b: Model, tasks: tuple[str, ...], catalog: Catalog) -> bool:
    """True when, on every task, both have evidence on the same scale with published intervals that overlap."""
    if not tasks:
        return False
    for task in tasks:
        ea, eb = evidence_of(a, task), evidence_of(b, task)
        va, vb = evidence_value(ea), evidence_value(eb)
        if va is None or vb is None or getattr(ea, "scale", None) != getattr(eb, "scale", None):
            return False
        ca, cb = getattr(ea, "ci", None), getattr(eb, "ci", None)
        if not isinstance(ca, (int, float)) or not isinstance(cb, (int, float)):
            return False
        if abs(va - vb) > ca + cb:
            return False
    return True
