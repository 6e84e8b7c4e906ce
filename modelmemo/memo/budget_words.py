"""Cost vs budget in words, as page 1, the index and the email state it: money and share of the
budget, honest about floors and unknowns, at the precision it is printed with."""

from __future__ import annotations

from typing import Any

from modelmemo.decision.costs import usd
from modelmemo.decision.words import join_and


def _share(amount: float | None, budget: float | None) -> float | None:
    if amount is None or not budget:
        return None
    return amount / budget


def _pct(share: float) -> str:
    """A share of the budget; never "100%" for a cost just over it, never "0%" for a real cost."""
    text = f"{share:.0%}"
    if share > 1 and text == "100%":
        return "just over 100%"
    if 0 < share < 0.005:
        return "under 1%"
    return text


def cost_lines(costs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cost vs budget as page 1, the index and the email say it: each statement named by its pick
    when there are several, and said once, naming them all, when their statements are the same
    (two tied models at one price, or both unknown)."""
    if len(costs) > 1 and len({c["text"] for c in costs}) == 1:
        return [{"who": join_and([c["who"] for c in costs]), "text": costs[0]["text"], "status": costs[0]["status"]}]
    return [{"who": c["who"] if len(costs) > 1 else None, "text": c["text"], "status": c["status"]} for c in costs]


def cost_statement(low: float | None, high: float | None, planning: float | None, budget: float | None,
                    label: str, unknown_why: str) -> dict[str, Any]:
    """Cost vs budget as money and share; a floor is never 'within budget', unknown is said."""
    budget_text = f"{usd(budget)}/month budget" if budget else "no stated budget"
    if low is None:
        return {"status": "unknown", "label": "unknown", "share": None,
                "text": f"Cost unknown ({unknown_why}); budget {usd(budget) + '/month' if budget else 'not stated'}."}
    share = _share(planning, budget)
    if high is None:
        pct = f"at least {_pct(share)} of the {budget_text}" if share is not None else budget_text
        if budget and low > budget:  # even the minimum is over: certainly over budget
            return {"status": "over", "floor": True, "label": label, "share": share,
                    "text": f"At least {usd(low)}/month ({pct}): over budget by at least {usd(low - budget)}/month."}
        if budget and low * 2 <= budget:
            return {"status": "floor", "floor": True, "label": label, "share": share,
                    "text": f"At least {usd(low)}/month ({pct}): a floor; even twice it would fit the budget."}
        return {"status": "floor", "floor": True, "label": label, "share": share,
                "text": f"At least {usd(low)}/month ({pct}): a floor, so the real cost may exceed the budget."}
    pct = f"{_pct(share)} of the {budget_text}" if share is not None else budget_text
    if budget and planning is not None and planning > budget:
        # At the precision the cost is printed with ($151, not $150.75), so the figures add up.
        over = round(planning) - budget if planning >= 100 else planning - budget
        over_text = f"{usd(over)}/month" if over >= 1 else "less than $1/month"
        return {"status": "over", "label": label, "share": share, "text": f"{label}: {pct}, over by {over_text}."}
    return {"status": "within", "label": label, "share": share, "text": f"{label}: {pct}, within budget."}
