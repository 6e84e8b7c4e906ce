"""How likely each candidate is to be the best, given the intervals of its factor scores.

Each factor score is drawn from a triangular distribution over its interval with the point score as
its mode; a candidate's total in a draw is the weighted mean of its factor draws. Draws are seeded
per candidate and factor (its model, offer and tasks; the requirements factor, which holds the
model's quality, per model and tasks, so two routes to one model share it), so the same input gives
the same numbers,
and the draws of a candidate do not change when the weights or other candidates change ("common
random numbers"): raising the weight of a factor on which the pick is surely ahead can only raise
its head-to-head chances, never lower them.

P(best) is the share of draws in which a candidate has the highest total (a draw with several equal
highest totals is shared). P(a beats b) is the share of draws in which a's total is higher (equal:
half). Candidates that another candidate surely beats (its lowest total above their highest) have
P(best) 0 and are not drawn.
"""

from __future__ import annotations

import math
import operator
import random
from typing import Protocol, Sequence

from modelmemo.inputs.requirements import FACTORS
from modelmemo.decision.factors import weighted_interval
from modelmemo.decision.policy import policy


class Scored(Protocol):
    """What the sampler needs of a candidate (decision.candidates.ModelScore)."""

    factors: dict  # factor -> FactorScore (score, interval)

    @property
    def key(self) -> str: ...

    @property
    def model_key(self) -> str: ...


_DRAWS: dict[tuple[str, int], tuple[list[float], list[float], list[float]]] = {}


def _uniform_draws(stream: str, n: int) -> tuple[list[float], list[float], list[float]]:
    """u, sqrt(u) and sqrt(1 - u) of one seeded stream (kept: the same candidates recur in a batch)."""
    found = _DRAWS.get((stream, n))
    if found is None:
        rng = random.Random(stream)
        u = [rng.random() for _ in range(n)]
        found = (u, [math.sqrt(x) for x in u], [math.sqrt(1 - x) for x in u])
        if len(_DRAWS) > 20_000:  # bounded: a long-running watcher sees many projects
            _DRAWS.clear()
        _DRAWS[(stream, n)] = found
    return found


def triangular_draws(stream: str, n: int, low: float, mode: float, high: float, scale: float) -> list[float]:
    """n draws of scale x Triangular(low, mode, high) by its inverse CDF from one seeded stream."""
    u, root_u, root_rest = _uniform_draws(stream, n)
    width = high - low
    split = (mode - low) / width
    rise = scale * math.sqrt(width * (mode - low))
    fall = scale * math.sqrt(width * (high - mode))
    lo, hi = scale * low, scale * high
    return [lo + rise * ru if x < split else hi - fall * rr for x, ru, rr in zip(u, root_u, root_rest)]


class Sampler:
    """Draws of candidates' totals under one set of weights, computed once per candidate."""

    def __init__(self, weights: dict[str, float], samples: int | None = None):
        self.weights = weights
        self.weight_sum = sum(weights[f] for f in FACTORS)
        self.samples = int(samples or policy("SAMPLES"))
        self._totals: dict[str, list[float]] = {}

    def bounds(self, c: Scored) -> tuple[float, float]:
        return weighted_interval(c.factors, self.weights)

    def totals(self, c: Scored) -> list[float]:
        found = self._totals.get(c.key)
        if found is not None:
            return found
        n = self.samples
        fixed = 0.0
        totals: list[float] | None = None
        for f in FACTORS:
            score = c.factors[f]
            low, high = score.interval
            w = self.weights[f] / self.weight_sum
            if high <= low or w == 0:
                fixed += w * score.score
                continue
            # Quality is the model's, not the offer's: its offers share the draw, so a model with two
            # routes does not get two lottery tickets. The other factors are the offer's own.
            stream = f"{getattr(c, 'model_key', c.key)}|{f}" if f == "requirements" else f"{c.key}|{f}"
            draws = triangular_draws(stream, n, low, min(max(score.score, low), high), high, w)
            totals = draws if totals is None else list(map(operator.add, totals, draws))
        totals = [fixed] * n if totals is None else [fixed + t for t in totals]
        self._totals[c.key] = totals
        return totals

    def contenders(self, candidates: Sequence[Scored]) -> list[Scored]:
        """Candidates no other candidate surely beats."""
        if not candidates:
            return []
        floor = max(self.bounds(c)[0] for c in candidates)
        return [c for c in candidates if self.bounds(c)[1] >= floor - 1e-9]

    def p_best(self, candidates: Sequence[Scored]) -> dict[str, float]:
        """P(best) of every candidate (0 for those surely beaten); sums to 1."""
        result = {c.key: 0.0 for c in candidates}
        live = self.contenders(candidates)
        if not live:
            return result
        if len(live) == 1:
            result[live[0].key] = 1.0
            return result
        columns = [self.totals(c) for c in live]
        wins = [0.0] * len(live)
        for draw in zip(*columns):
            top = max(draw)
            count = draw.count(top)
            if count == 1:
                wins[draw.index(top)] += 1.0
            else:
                share = 1.0 / count
                for i, v in enumerate(draw):
                    if v == top:
                        wins[i] += share
        for c, w in zip(live, wins):
            result[c.key] = w / self.samples
        return result

    def beats(self, a: Scored, b: Scored) -> float:
        """P(a's total > b's), equal draws counted half."""
        a_low, a_high = self.bounds(a)
        b_low, b_high = self.bounds(b)
        if a_low > b_high + 1e-9:
            return 1.0
        if a_high < b_low - 1e-9:
            return 0.0
        ta, tb = self.totals(a), self.totals(b)
        higher = sum(map(operator.gt, ta, tb))
        equal = sum(map(operator.eq, ta, tb))
        return (higher + equal / 2) / self.samples

    def maximin(self, pool: Sequence[Scored]) -> tuple[Scored | None, dict[str, float]]:
        """The candidate whose worst head-to-head result against the pool is best (a candidate that
        beats every other more often than not is always it), and its head-to-head probabilities."""
        live = self.contenders(pool)
        if not live:
            return None, {}
        best, best_min, best_h2h = None, -1.0, {}
        for c in live:
            h2h: dict[str, float] = {}
            worst = 1.0
            for o in live:
                if o is c:
                    continue
                h2h[o.key] = self.beats(c, o)
                worst = min(worst, h2h[o.key])
                if worst <= best_min + 1e-12:
                    break  # cannot beat the best so far
            if worst > best_min + 1e-12:
                best, best_min, best_h2h = c, worst, h2h
        assert best is not None
        # Against the pool members that are not contenders, the pick is surely ahead of someone
        # who is surely ahead of them.
        full = {o.key: (best_h2h.get(o.key) if o.key in best_h2h else self.beats(best, o))
                for o in pool if o is not best}
        return best, full
