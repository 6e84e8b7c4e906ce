"""The choice among scored candidates, in numbers only (no sentences): P(best) of each, the pick,
its challengers, genuine ties, and whether any option fits the budget (README "Methodology", 5).

1. Every candidate's P(best) over the intervals of its factor scores (decision.uncertainty).
2. The pool the pick comes from, narrowed step by step, each step only when something is left:
   active offers (a deprecated offer only when nothing active fits); offers whose cost is within
   BUDGET_STRETCH x the budget (none: the verdict is budget-infeasible, and the pick is the cheapest
   option: the smallest raise of the budget that makes the project possible).
3. The pick: the pool member with the best worst head-to-head result (it beats every other member
   more often than not whenever such a member exists). When that member has no quality evidence and
   a measured member is level with it (head-to-head below TIE_PROBABILITY), the measured one is the
   pick: evidence first (unless the requirements weight is 0, when quality plays no part).
4. Tied: other models in the pool the pick beats head-to-head with less than TIE_PROBABILITY, when
   both have measured quality: a model whose missing evidence could put it level is a risk to test
   and a challenger, never a co-pick.
5. Challengers: the tied models, then the other models by P(best) (at most two; a second needs
   CHALLENGER_MIN_P, or is the best measured option when the first rests on a proxy or nothing and
   the pick is measured; never a superseded model), so a strong unmeasured model is piloted against
   the pick with a measured baseline beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Sequence

from modelmemo.decision.candidates import ModelScore, candidate_key
from modelmemo.decision.lifecycle import is_deprecated
from modelmemo.decision.policy import policy
from modelmemo.decision.uncertainty import Sampler


@dataclass(frozen=True)
class Choice:
    ranked: tuple[ModelScore, ...]  # every candidate with its p_best, most likely best first
    pick: ModelScore | None
    challengers: tuple[ModelScore, ...] = ()
    tied: tuple[ModelScore, ...] = ()
    head_to_head: dict[str, float] | None = None  # model id -> P(pick beats its best offer)
    budget_infeasible: bool = False
    cheapest: ModelScore | None = None  # the cheapest option of the pool when nothing fits the budget
    pool: tuple[ModelScore, ...] = ()  # the candidates the pick was chosen from


def ranked_by_probability(candidates: Sequence[ModelScore], sampler: Sampler) -> list[ModelScore]:
    probabilities = sampler.p_best(candidates)
    scored = [replace(c, p_best=round(probabilities[c.key], 4)) for c in candidates]
    return sorted(scored, key=lambda c: (-c.p_best, candidate_key(c)))


def affordable(candidate: ModelScore, budget: float, unknown_fits: bool) -> bool:
    """Within BUDGET_STRETCH x the budget. An unknown cost fits only when no volume is given (no
    hosted cost can be estimated then); with a volume, an unpublished price is not a plan."""
    low = candidate.cost.low
    return unknown_fits if low is None else low <= policy("BUDGET_STRETCH") * budget + 1e-9


def choose(candidates: Sequence[ModelScore], weights: dict[str, float], budget: float, today: date,
           volume_known: bool = True) -> Choice:
    if not candidates:
        return Choice((), None)
    sampler = Sampler(weights)
    ranked = ranked_by_probability(candidates, sampler)
    pool = [c for c in ranked if not is_deprecated(c.deployment, today)] or ranked
    within = [c for c in pool if affordable(c, budget, not volume_known)]
    infeasible = not within and any(c.cost.known for c in pool)
    cheapest = None
    if infeasible:
        cheapest = min((c for c in pool if c.cost.known), key=lambda c: (c.cost.low, candidate_key(c)))
    else:
        pool = within or pool
    if cheapest is not None:
        # Nothing fits: the pick is the option that needs the smallest raise of the budget (among
        # options as cheap, the one that beats the others), and its challengers are options that
        # need a similar budget, not the best at any price.
        floor = cheapest.cost.low or 0.0
        level = [c for c in pool if c.cost.known and (c.cost.low or 0.0) <= floor * 1.01 + 0.005]
        pick, _ = sampler.maximin(level)
        assert pick is not None
        cheapest = pick
        pool = [c for c in pool if c.cost.known and (c.cost.low or 0.0) <= floor * policy("BUDGET_STRETCH")]
        h2h_by_key = {c.key: sampler.beats(pick, c) for c in pool if c is not pick}
    else:
        pick, h2h_by_key = sampler.maximin(pool)
        assert pick is not None
        if not pick.measured and weights.get("requirements", 0) > 0:
            # Evidence first: between options the draws cannot separate, the measured one is the
            # pick, never a coin flip decided by an unmeasured model's prior.
            level = [c for c in pool if c.measured and h2h_by_key.get(c.key, 1.0) < policy("TIE_PROBABILITY")]
            if level:
                pick = level[0]  # the pool is in P(best) order
                h2h_by_key = {c.key: sampler.beats(pick, c) for c in pool if c is not pick}
    assert pick is not None
    best_offer: dict[str, ModelScore] = {}
    for c in pool:
        if c.model_id != pick.model_id:
            best_offer.setdefault(c.model_id, c)
    head_to_head = {m: round(h2h_by_key[c.key], 4) for m, c in best_offer.items()}
    tie_line = policy("TIE_PROBABILITY")
    tied = tuple(c for m, c in best_offer.items() if head_to_head[m] < tie_line and c.measured and pick.measured)
    # Challengers come from the same pool (active, within the budget stretch), any evidence, but
    # never a superseded model: nobody pilots against what its vendor has replaced.
    eligible = [c for c in pool if c.model_id != pick.model_id and c.model.lifecycle != "legacy"]
    others: dict[str, ModelScore] = {}
    for c in eligible:
        others.setdefault(c.model_id, c)
    # Strongest first: the more likely best (to the hundredth: draw noise does not order them),
    # then the one the pick beats least often, then the ranking key.
    ordered = sorted(others.values(), key=lambda c: (-round(c.p_best, 2), round(h2h_by_key.get(c.key, 1.0), 2),
                                                     candidate_key(c)))
    challengers = list(tied[:2])
    for c in ordered:
        if len(challengers) >= 2 or c.model_id in {x.model_id for x in challengers}:
            continue
        if not challengers or c.p_best >= policy("CHALLENGER_MIN_P"):
            challengers.append(c)
    if len(challengers) == 1 and not challengers[0].measured_itself and pick.measured_itself:
        # The first challenger rests on a proxy or no evidence: pilot against the best measured
        # option too, so the pilot has a measured baseline.
        measured = next((c for c in ordered if c.measured_itself and c not in challengers), None)
        if measured is not None:
            challengers.append(measured)
    for c in tied:  # every tied model is named, even beyond two challengers
        if c not in challengers:
            challengers.append(c)
    return Choice(tuple(ranked), pick, tuple(challengers), tied, head_to_head, infeasible, cheapest, tuple(pool))


def ranked_models(choice: Choice) -> dict[str, ModelScore]:
    """Each model's best candidate, the pick first, then by P(best) and the ranking key."""
    best: dict[str, ModelScore] = {}
    if choice.pick is not None:
        best[choice.pick.model_id] = choice.pick
    for c in choice.ranked:
        best.setdefault(c.model_id, c)
    return best
