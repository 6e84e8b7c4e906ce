"""What a decision says, as a fingerprint: what a synced catalog change must alter for a memo to be
re-issued (and emailed once as a changed decision). The verdict, the picks, ties and runner-up, every
scored offer's total, factor scores, cost and lifecycle as the memo prints them (one decimal, whole
cents), every exclusion reason and every note. A synced fact that moves none of these (a context
limit far above the project's requests, a price of an offer the project never scored) leaves the
memo as it is."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from modelmemo.decision.decide import Decision


def _cents(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 2)


def decision_fingerprint(decision: Decision) -> str:
    said: dict[str, Any] = {
        "verdict": decision.verdict,
        "picks": decision.recommended_ids,
        "per_task": [[p.task, p.model_id, p.deployment_id, list(p.tied)] for p in decision.combination],
        "tied": list(decision.tied),
        "runner_up": decision.runner_up,
        "offers": [[c.model_id, c.deployment_id, round(c.total, 1),
                    {name: round(f.score, 1) for name, f in sorted(c.factors.items())},
                    _cents(c.cost.low), _cents(c.cost.high), c.over_budget,
                    [c.deployment.lifecycle.status, str(c.deployment.lifecycle.date), c.deployment.lifecycle.successor]]
                   for c in decision.candidates],
        "excluded": sorted((model_id, list(reasons)) for model_id, reasons in decision.excluded.items()),
        "notes": list(decision.notes),
    }
    text = json.dumps(said, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
