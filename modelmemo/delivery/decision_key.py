"""What the delivery ledger keys on: the decision a memo announces, nothing else.

A memo is emailed again only when its verdict, its picks (and ties), or its cost against the
budget changed: a new wording, a new memo format, a re-scored runner-up or a synced price that
leaves the pick's cost-vs-budget statement as it was sends nothing. The key is computed the same
way from a memo of any format (v2 memos have the same fields it reads), so the ledger of an older
release maps onto it (delivery.ledger migrates old keys by finding the memo each was about).

Cost vs budget is the pick's statement (within, over, a floor, unknown) and its share of the
budget in steps of 10%: "$720, 48% of the budget" and "$735, 49%" are the same decision; "$720,
48%" and "$1,800, 120%: over budget" are not.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from modelmemo.memo.budget_words import cost_statement

SHARE_STEP = 0.1  # cost as a share of the budget, in steps of this size


def _cost_vs_budget(memo: dict[str, Any], model_id: str) -> list[Any]:
    scores = memo.get("scores") or {}
    budget = (memo.get("requirements") or {}).get("monthly_usd")
    score = scores.get(model_id) or {}
    cost = score.get("cost") or {}
    statement = cost_statement(cost.get("low_usd"), cost.get("high_usd"), score.get("monthly_cost_usd"), budget,
                               cost.get("label", "unknown"), "")
    share = statement.get("share")
    return [statement["status"], None if share is None else round(round(share / SHARE_STEP) * SHARE_STEP, 2)]


def decision_key(memo: dict[str, Any]) -> dict[str, Any]:
    """The verdict, the picks (task, model, offer), the tied models and each pick's cost vs budget."""
    picks = []
    for pick in memo.get("recommended") or []:
        if isinstance(pick, dict):
            picks.append([pick.get("task"), pick.get("model"), pick.get("deployment"),
                          sorted(str(t) for t in pick.get("tied") or [])])
        else:  # v1: a model id
            picks.append([None, str(pick), None, []])
    models = [p[1] for p in picks]
    return {
        "project": (memo.get("project") or {}).get("id"),
        "verdict": memo.get("verdict"),
        "picks": picks,
        "tied": sorted(str(t) for t in memo.get("tied") or []),
        "cost_vs_budget": [_cost_vs_budget(memo, m) for m in models],
        "budget_needed_usd": memo.get("budget_needed_usd"),
    }


def decision_sha(memo: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(decision_key(memo), sort_keys=True, default=str).encode("utf-8")).hexdigest()
