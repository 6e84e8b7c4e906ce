"""Ties are ties: which candidates cannot honestly be ranked apart, why, and what would separate them
(README "Methodology", 4)."""

from __future__ import annotations

from modelmemo.catalog.load import Catalog
from modelmemo.inputs.requirements import FACTOR_LABELS, FACTORS
from modelmemo.settings import CLOSE_CALL_MARGIN, TIE_MARGIN
from modelmemo.decision.candidates import ModelScore, rank_key
from modelmemo.decision.quality import quality_overlap
from modelmemo.decision.words import join_and, task_label


def rests_on_missing_evidence(top: ModelScore, other: ModelScore) -> bool:
    """True when `other` would come within TIE_MARGIN of `top` if its unknown facts were at their best."""
    if other.best_case_total is None:
        return False
    return rank_key(top.total) - rank_key(other.best_case_total) <= TIE_MARGIN + 1e-9


def is_tie(top: ModelScore, other: ModelScore, catalog: Catalog) -> bool:
    """Within TIE_MARGIN; or within the close-call margin with overlapping quality CIs on every task.
    A lead that rests on missing quality evidence is not a tie: it is a risk to test with a pilot
    (decision.decide's unmeasured-quality note), never a co-pick."""
    gap = rank_key(top.total) - rank_key(other.total)
    if gap <= TIE_MARGIN + 1e-9:
        return True
    return gap <= CLOSE_CALL_MARGIN + 1e-9 and quality_overlap(top.model, other.model, top.tasks, catalog)


def tie_reason(top: ModelScore, other: ModelScore, catalog: Catalog) -> str:
    """Why `other` is tied with `top`, in words (for a pair that `is_tie`)."""
    gap = rank_key(top.total) - rank_key(other.total)
    if gap <= TIE_MARGIN + 1e-9:
        return f"within {TIE_MARGIN:g} points"
    return "their quality evidence overlaps within its published intervals"


def ties_with(best: list[ModelScore], lead: ModelScore, catalog: Catalog, skip: set[str]) -> list[ModelScore]:
    return [s for s in best if s.model_id not in skip and s.model_id != lead.model_id and is_tie(lead, s, catalog)]


def separation(scores: list[ModelScore]) -> str:
    """What would separate tied candidates: the cheaper one, else the factor where they differ most."""
    if len(scores) < 2:
        return ""
    top = scores[0]
    names = [s.model.name for s in scores]
    figures = [s.cost.planning_figure for s in scores]
    if all(f is not None for f in figures) and len({round(f, 2) for f in figures}) > 1:
        cheapest = min(scores, key=lambda s: s.cost.planning_figure)
        others = ", ".join(f"{s.model.name} {s.cost.label()}" for s in scores if s is not cheapest)
        return f"{cheapest.model.name} is cheaper ({cheapest.cost.label()} vs {others})"
    diffs = [(max(s.factors[f].score for s in scores) - min(s.factors[f].score for s in scores), f) for f in FACTORS]
    gap, factor = max(diffs, key=lambda d: (d[0], -FACTORS.index(d[1])))
    if gap > 0:
        parts = " vs ".join(f"{s.model.name} {s.factors[factor].score:g}" for s in scores)
        return f"they differ most on {FACTOR_LABELS[factor]} ({parts})"
    return (f"{join_and(names)} score the same on every factor and cost the same; only a pilot on your own tasks "
            "separates them")
