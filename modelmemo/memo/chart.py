"""The dot plot's geometry: every factor and the total on one 0-100 axis, a dot per model, the
picks highlighted; derived from the memo dict and its page-1 digest."""

from __future__ import annotations

from typing import Any


def dot_plot(memo: dict[str, Any], digest: dict[str, Any], limit: int = 10) -> dict[str, Any] | None:
    """Small multiples on one 0-100 baseline: a row per factor plus the total, a dot per model (its
    best candidate), the pick(s) highlighted. None below three models: a chart of one or two dots
    says nothing the scorecard does not."""
    scores: dict[str, Any] = memo.get("scores") or {}
    order = list(dict.fromkeys(c["model"] for c in memo.get("ranking") or [] if c["model"] in scores))[:limit]
    if len(order) < 3:
        return None
    picked = {p["model"] for p in digest["picks"]} | {t["model"] for p in digest["picks"] for t in p.get("tied", [])}
    weights = memo.get("weights") or {}
    labels = {"requirements": "Requirements fit", "budget": "Budget fit", "support": "Support fit",
              "security": "Security fit", "long_term": "Long-term fit"}
    rows = []
    for factor in list(weights) + ["total"]:
        points = []
        for model_id in order:
            s = scores[model_id]
            value = s["total"] if factor == "total" else (s["factors"].get(factor) or {}).get("score")
            if value is None:
                continue
            points.append({"model": model_id, "name": (memo.get("model_names") or {}).get(model_id, model_id),
                           "value": float(value), "open": s.get("openness") == "open-source",
                           "pick": model_id in picked})
        # Draw the picks last so they sit on top of any dot they overlap.
        points.sort(key=lambda p: p["pick"])
        # The total row labels each pick above its dot; when tied picks' totals sit close on the
        # axis (within 8 of 100, about two label widths) every other one goes below its dot (the
        # total is the last row: nothing below but the axis), so the labels do not overprint.
        for p in points:
            p["label_below"] = False
        labelled = sorted((p for p in points if p["pick"]), key=lambda p: -p["value"])
        for upper, lower in zip(labelled, labelled[1:]):
            lower["label_below"] = not upper["label_below"] and upper["value"] - lower["value"] < 8
        # A hollow dot drawn exactly where another of its shape is, or under a pick's larger filled
        # mark, cannot be seen: it is left out of the drawing (not of the alt text). Equal scores are
        # common (a budget fit of 50 for every model without a volume), and each SVG shape costs
        # render time.
        pick_values = {p["value"] for p in points if p["pick"]}
        drawn: set[tuple[float, bool]] = set()
        for p in points:
            key = (p["value"], p["open"])
            p["hidden"] = not p["pick"] and (p["value"] in pick_values or key in drawn)
            drawn.add(key)
        label = "Total" if factor == "total" else labels.get(factor, factor)
        rows.append({"factor": factor, "label": label, "weight": weights.get(factor), "points": points})
    alt_rows = []
    for row in rows:
        values = ", ".join(f"{p['name']} {p['value']:g}" for p in sorted(row["points"], key=lambda p: -p["value"]))
        alt_rows.append(f"{row['label']}: {values}")
    pick_names = " and ".join(p["name"] for p in digest["picks"]) or "none"
    alt = (f"Scores out of 100 for {len(order)} models; the pick ({pick_names}) is highlighted. "
           + ". ".join(alt_rows) + ".")
    return {"rows": rows, "alt": alt, "models": len(order)}
