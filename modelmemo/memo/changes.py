"""What changed since a project's previous memo, and why: shown in the memo and the batch index."""

from __future__ import annotations

from typing import Any

from modelmemo.inputs.requirements import FACTOR_LABELS

SCORE_EPSILON = 0.1  # totals are shown with one decimal; smaller moves are noise


def _top(memo: dict[str, Any]) -> str | None:
    """The top pick's model id (v2: a list of {task, model, deployment}; v1: a model id or task picks)."""
    recommended = memo.get("recommended")
    if isinstance(recommended, str):
        return recommended
    if isinstance(recommended, list) and recommended and isinstance(recommended[0], dict):
        return recommended[0].get("model")
    return None


def _top_label(memo: dict[str, Any], name) -> str:
    """The top pick in words; a tie names every tied model."""
    top = _top(memo)
    tied = [m for m in (memo.get("tied") or []) if m != top]
    return " = ".join([name(top)] + [name(m) for m in tied]) + (" (tie)" if tied else "")


def _model_ids(memo: dict[str, Any]) -> list[str]:
    """Model ids in ranking order (v2 ranking lists candidates as dicts; v1 lists model ids)."""
    ids = []
    for entry in memo.get("ranking") or []:
        model = entry.get("model") if isinstance(entry, dict) else entry
        if isinstance(model, str):
            ids.append(model)
    return list(dict.fromkeys(ids))


# What was asked, in the order page 1 lists it: an edited requirement file names its edits first.
REQUIREMENT_LABELS = {
    "tasks": "Tasks", "languages": "Languages", "customization": "Customization", "monthly_usd": "Budget",
    "volume": "Volume", "ml_expertise": "ML expertise", "vendor_sla_required": "Vendor SLA required",
    "data_sensitivity": "Data", "on_premises_only": "On premises only",
    "transparency_required": "Transparency required", "growth": "Growth", "lock_in_tolerance": "Lock-in tolerance",
}


def _value_text(key: str, value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "not stated"
    if key == "monthly_usd" and isinstance(value, (int, float)):
        return f"${value:,.0f}/month"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, (int, float)) else f"{k.replace('_', ' ')} {v}"
                         for k, v in value.items())
    return str(value)


def requirement_changes(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Edits to what was asked and to the weights, e.g. "Budget: $1,500/month → $800/month."."""
    before, after = previous.get("requirements") or {}, current.get("requirements") or {}
    items = [f"{label}: {_value_text(key, before.get(key))} → {_value_text(key, after.get(key))}."
             for key, label in REQUIREMENT_LABELS.items()
             if key in before and key in after and before.get(key) != after.get(key)]
    old_weights, new_weights = previous.get("weights") or {}, current.get("weights") or {}
    items += [f"{FACTOR_LABELS.get(factor, factor)} weight: {old_weights[factor]:g} → {new_weights[factor]:g}."
              for factor in new_weights
              if factor in old_weights and old_weights[factor] != new_weights[factor]]
    return items


def causes(previous: dict[str, Any], current: dict[str, Any], forced: bool = False) -> list[str]:
    """Why the memo was regenerated, from the hashes recorded in both memos and the state."""
    reasons = []
    if previous.get("input_sha256") != current.get("input_sha256"):
        reasons.append("requirement file edited")
    if previous.get("catalog_sha256") != current.get("catalog_sha256"):
        reasons.append("catalog updated")
    if previous.get("templates_sha256") and previous.get("templates_sha256") != current.get("templates_sha256"):
        reasons.append("templates or brand updated")
    if previous.get("memo_version") != current.get("memo_version"):
        reasons.append("memo format updated")
    if not reasons:
        reasons.append("re-rendered on request (--force)" if forced else "re-rendered")
    return reasons


def compare(previous: dict[str, Any], current: dict[str, Any], forced: bool = False) -> dict[str, Any]:
    """A short, ordered list of differences a reader cares about, plus their causes."""
    names = {**previous.get("model_names", {}), **current.get("model_names", {})}
    name = lambda model_id: names.get(model_id, model_id) if model_id else "none"
    items: list[str] = requirement_changes(previous, current)
    if previous.get("verdict") != current.get("verdict"):
        items.append(f"Verdict: {previous.get('verdict_label')} → {current.get('verdict_label')}.")
    old_top, new_top = _top_label(previous, name), _top_label(current, name)
    if old_top != new_top:
        items.append(f"Top model: {old_top} → {new_top}.")
    old_scores = {m: s["total"] for m, s in previous.get("scores", {}).items()}
    new_scores = {m: s["total"] for m, s in current.get("scores", {}).items()}
    for model_id in _model_ids(current):
        if model_id in old_scores and abs(new_scores[model_id] - old_scores[model_id]) >= SCORE_EPSILON:
            items.append(f"{name(model_id)} total: {old_scores[model_id]:.1f} → {new_scores[model_id]:.1f}.")
    for model_id in sorted(set(new_scores) - set(old_scores)):
        items.append(f"{name(model_id)} is now eligible ({new_scores[model_id]:.1f}).")
    for model_id in sorted(set(old_scores) - set(new_scores)):
        items.append(f"{name(model_id)} is no longer eligible.")
    why = causes(previous, current, forced)
    if items:
        summary = f"{'; '.join(why).capitalize()}: " + " ".join(items[:2]) + (" …" if len(items) > 2 else "")
    else:
        summary = f"{'; '.join(why).capitalize()}: same verdict, top model and scores."
    return {
        "previous_run": previous.get("run_id"),
        "previous_generated_at": previous.get("generated_at"),
        "causes": why,
        "items": items,
        "summary": summary,
    }
