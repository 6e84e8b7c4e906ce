"""Sensitivity of a recommendation to the project's weights.

For each factor we ask: keeping every other weight as it is, how far must this one weight move
before another model ranks first (the *top pick*), and before the best model of the other
openness overtakes the best of the winning side (the *verdict*)?

Method (pure and deterministic, no search): factor scores do not depend on the weights, only the
totals do. Each eligible (model, deployment) pair k has the total

    T_k(x) = (A_k + x * s_kf) / (B + x),   A_k = sum_{g != f} w_g * s_kg,   B = sum_{g != f} w_g

when the weight of factor f is x. Because B + x > 0, T_i(x) > T_j(x) exactly when
A_i + x s_if > A_j + x s_jf, so two pairs swap order at most once, at

    x* = (A_i - A_j) / (s_jf - s_if)      (no crossing when s_jf == s_if).

A model's total is the maximum over its eligible deployments (its candidates), and candidates
rank by total, then by the documented tie-break (``candidates.candidate_key``: the cheaper option, then
model id, then catalog order). The top model can therefore only change at a crossing between a
pair of the leading model and a pair of another model. We collect every such x* >= 0, sort by the
distance from the current weight, and verify each by recomputing the top model just beyond it
(x* +/- 1e-6 in the direction of travel); the first verified crossing is the threshold.

Totals here are exact, as in ``decision.candidates`` (which ranks unrounded totals, compared to 1e-9 so that
float noise never decides); the memo shows them to one decimal, so a pick near a threshold may
print the same total as the model that would replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

from modelmemo.catalog.load import Catalog
from modelmemo.inputs.requirements import FACTOR_LABELS, FACTORS, Requirements
from modelmemo.decision.candidates import candidate_key
from modelmemo.decision.decide import Decision

EPSILON = 1e-6
TOTAL_DIGITS = 10  # totals are compared to 1e-10; crossings within 1e-9 of the current weight snap to it


@dataclass(frozen=True)
class Threshold:
    """The nearest weight for one factor at which the pick (or the verdict) changes."""

    factor: str
    current: float
    threshold: float | None  # None: no weight in [0, inf) changes it
    direction: str | None  # "more" | "less" | None
    multiplier: float | None  # threshold / current; None when current is 0 or no threshold
    new_leader: str | None  # model id that would rank first just beyond the threshold
    # True when, just beyond the threshold, the new leader only ties with the old side's best and
    # comes first by the documented tie-break: the change is "becomes a tie", not "X leads".
    tie: bool = False

    @property
    def distance(self) -> float:
        return float("inf") if self.threshold is None else abs(self.threshold - self.current)

    def as_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "current": self.current,
            "threshold": None if self.threshold is None else round(self.threshold, 9) + 0.0,
            "direction": self.direction,
            "multiplier": None if self.multiplier is None else round(self.multiplier, 9) + 0.0,
            "new_leader": self.new_leader,
            "tie": self.tie,
        }


@dataclass(frozen=True)
class Sensitivity:
    """Thresholds for every factor, the smallest of them, and a sentence saying it plainly."""

    sentence: str
    smallest: Threshold | None
    by_factor: tuple[Threshold, ...]

    def for_factor(self, factor: str) -> Threshold:
        return next(t for t in self.by_factor if t.factor == factor)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sentence": self.sentence,
            "smallest": self.smallest.as_dict() if self.smallest else None,
            "by_factor": [t.as_dict() for t in self.by_factor],
        }


@dataclass(frozen=True)
class SensitivityReport:
    applicable: bool
    reason_not_applicable: str = ""
    top_pick: Sensitivity | None = None
    verdict: Sensitivity | None = None  # None when only one openness has eligible models
    near_tie: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "top_pick": self.top_pick.as_dict() if self.top_pick else None,
            "verdict": self.verdict.as_dict() if self.verdict else None,
            "near_tie": self.near_tie,
            "applicable": self.applicable,
            "reason_not_applicable": self.reason_not_applicable,
        }


@dataclass(frozen=True)
class _Pair:
    model_id: str
    is_open: bool
    scores: tuple[float, ...]  # in FACTORS order
    tiebreak: tuple = ()  # candidates.candidate_key without the total


# --- the arithmetic --------------------------------------------------------------------------


def _candidate_pairs(req: Requirements, catalog: Catalog, decision: Decision) -> list[_Pair]:
    """Every candidate the pick is chosen from (active offers within the budget stretch: a weight
    cannot bring in an option the budget rules out); factor scores do not depend on the weights."""
    pool = set(decision.pool)
    return [_Pair(s.model_id, s.model.is_open, tuple(s.factors[f].score for f in FACTORS), candidate_key(s)[1:])
            for s in decision.candidates if not pool or s.key in pool]


class _FactorLine:
    """Totals of every pair as a function of one factor's weight x (the others fixed)."""

    def __init__(self, pairs: list[_Pair], weights: dict[str, float], factor: str):
        index = FACTORS.index(factor)
        others = [(i, weights[f]) for i, f in enumerate(FACTORS) if f != factor]
        self.pairs = pairs
        self.b = sum(w for _, w in others)
        self.a = [sum(w * p.scores[i] for i, w in others) for p in pairs]
        self.s = [p.scores[index] for p in pairs]

    def _keyed(self, x: float) -> list[tuple[float, tuple, str]]:
        if self.b + x <= 0:
            return []
        # Rounded far below any real difference, so that totals equal in exact arithmetic compare
        # equal despite floating-point noise, and the documented tie-break decides.
        return [(round((a + x * s) / (self.b + x), TOTAL_DIGITS), pair.tiebreak, pair.model_id)
                for pair, a, s in zip(self.pairs, self.a, self.s)]

    def totals(self, x: float) -> dict[str, float]:
        """Each model's best total at weight x (empty if no weight is left)."""
        best: dict[str, float] = {}
        for total, _, model_id in self._keyed(x):
            if total > best.get(model_id, float("-inf")):
                best[model_id] = total
        return best

    def top(self, x: float) -> str | None:
        """Model of the candidate ranked first at weight x (higher total, then the tie-break)."""
        keyed = self._keyed(x)
        return min(keyed, key=lambda k: (-k[0], k[1]))[2] if keyed else None

    def crossings(self, inside: Callable[[_Pair], bool]) -> list[float]:
        """Every x* >= 0 at which a pair inside the group and a pair outside it have equal totals."""
        points: set[float] = set()
        for i, pi in enumerate(self.pairs):
            if not inside(pi):
                continue
            for j, pj in enumerate(self.pairs):
                if inside(pj) or self.s[j] == self.s[i]:
                    continue
                x = (self.a[i] - self.a[j]) / (self.s[j] - self.s[i]) + 0.0  # + 0.0: never -0.0
                if x >= 0:
                    points.add(x)
        return sorted(points)


def _threshold(line: _FactorLine, factor: str, current: float, label: Callable[[str], Hashable],
               inside: Callable[[_Pair], bool]) -> Threshold:
    """Nearest weight for `factor` beyond which the top model's label differs from now."""
    leader = line.top(current)
    reference = label(leader) if leader is not None else None
    tries: list[tuple[float, float, int]] = []  # (distance, x*, +1 more / -1 less)
    for x in line.crossings(inside):
        if abs(x - current) <= 1e-9 * max(1.0, current):
            x = current  # an exact tie at the current weight, blurred by floating point
        if x > current:
            tries.append((x - current, x, 1))
        elif x < current:
            tries.append((current - x, x, -1))
        else:
            tries.extend([(0.0, x, 1), (0.0, x, -1)])
    tries.sort()
    for _, x, sign in tries:
        beyond = x + sign * EPSILON
        if beyond < 0:
            # A weight cannot go negative: "beyond" is the weight set to zero. A crossing at exactly
            # zero still counts when, at zero, the tie-break puts the other side first.
            beyond = 0.0
        top = line.top(beyond)
        if top is not None and label(top) != reference:
            totals = line.totals(beyond)
            kept = max((v for m, v in totals.items() if label(m) == reference), default=None)
            return Threshold(factor, current, x, "more" if sign > 0 else "less",
                             x / current if current else None, top, tie=kept is not None and totals[top] == kept)
    return Threshold(factor, current, None, None, None, None)


# --- words -----------------------------------------------------------------------------------


def _num(value: float) -> str:
    """One decimal, without a trailing '.0'; small non-zero values keep two significant digits."""
    if value != 0 and round(value, 1) == 0:
        return f"{value:.2g}"
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _change(t: Threshold) -> str:
    label = FACTOR_LABELS[t.factor]
    assert t.threshold is not None
    if abs(t.threshold - t.current) < EPSILON:  # the pick is an exact tie broken by the tie-break
        verb = "rises" if t.direction == "more" else "falls"
        return f"the {label} weight {verb} at all (from {_num(t.current)})"
    if t.direction == "more":
        times = f" ({t.multiplier:.1f}×)" if t.multiplier is not None else ""
        return f"the {label} weight rises from {_num(t.current)} to above {_num(t.threshold)}{times}"
    if t.threshold == 0:
        return f"the {label} weight drops to 0 (from {_num(t.current)})"
    return f"the {label} weight falls below {_num(t.threshold)} (from {_num(t.current)})"


def _smallest(thresholds: list[Threshold]) -> Threshold | None:
    found = [t for t in thresholds if t.threshold is not None]
    return min(found, key=lambda t: t.distance) if found else None  # ties: FACTORS order


# --- the analysis ----------------------------------------------------------------------------


def analyse(req: Requirements, catalog: Catalog, decision: Decision) -> SensitivityReport:
    """How far each weight must move before the top pick, or the open/closed verdict, changes.

    The verdict part asks when the best model of the other openness overtakes the best model of
    the winning side. Thresholds are on the point totals of the candidates the pick is chosen from
    (decision.choose's pool); the pick itself is chosen on probabilities over the score intervals,
    so close to a threshold the memo's pick and the point leader can differ.
    """
    if decision.combination:
        return SensitivityReport(False, "No single model covers every task, so the recommendation is a "
                                        "combination of models; the weights only reorder models per task.")
    if decision.verdict == "budget-infeasible":
        return SensitivityReport(False, "Nothing fits the budget, so the pick is the cheapest option: the budget "
                                        "decides it, not the weights.")
    if decision.recommended is None or len(decision.scores) < 2:
        count = "No model" if not decision.scores else "Only one model"
        return SensitivityReport(False, f"{count} meets every hard constraint, so no weight can change the pick.")

    names = {m: catalog.models[m].name for m in decision.scores}
    weights = {f: float(req.weights[f]) for f in FACTORS}
    pairs = _candidate_pairs(req, catalog, decision)
    lines = {f: _FactorLine(pairs, weights, f) for f in FACTORS}

    ranked = list(decision.scores.values())
    near_tie = bool(decision.tied)
    recommended = decision.recommended
    leader = lines[FACTORS[0]].top(weights[FACTORS[0]]) or recommended
    tied = [decision.scores[m] for m in decision.tied]
    tie_text = (f"{' and '.join([names[ranked[0].model_id]] + [names[s.model_id] for s in tied])} are a tie "
                f"({' vs '.join(f'{s.total:.1f}' for s in [ranked[0], *tied])}): any change of weights may "
                "reorder them. ")

    # Top pick: the label of a model is its id; the group is the leading model's deployments.
    top_thresholds = [_threshold(lines[f], f, weights[f], lambda m: m, lambda p: p.model_id == leader)
                      for f in FACTORS]
    # In a tie, a change that only reorders the tied models adds nothing to "any change of weights
    # may reorder them": the sentence (and the fragile-pick flag) name the nearest change that puts
    # a model outside the tie first.
    smallest = _smallest([t for t in top_thresholds if not (near_tie and t.new_leader in decision.tied)])
    if smallest is None:
        sentence = ("No single weight change makes a model outside the tie first." if near_tie
                    else "No single weight change makes another model first.")
    else:
        outcome = ("would tie with it and come first only by the tie-break (cheaper option, then name)"
                   if smallest.tie else "would lead")
        sentence = (f"{names[leader]} stays first unless {_change(smallest)}, when "
                    f"{names[smallest.new_leader]} {outcome}.")
    top_pick = Sensitivity((tie_text if near_tie else "") + sentence, smallest, tuple(top_thresholds))

    # Verdict: the label of a model is its openness; the group is the winning side.
    verdict = None
    if decision.best_open and decision.best_closed:
        is_open = {m: catalog.models[m].is_open for m in decision.scores}
        side_open = is_open[leader]
        side, other = ("open-source", "closed-source") if side_open else ("closed-source", "open-source")
        verdict_thresholds = [_threshold(lines[f], f, weights[f], lambda m: is_open[m],
                                         lambda p: p.is_open == side_open) for f in FACTORS]
        smallest_v = _smallest(verdict_thresholds)
        if smallest_v is None:
            article = "an" if other.startswith("o") else "a"
            text = f"No single weight change makes {article} {other} model first; the {side} side stays ahead."
        else:
            tie = smallest_v.tie
            outcome = (f"would tie with the best {side} model and come first only by the tie-break "
                       "(cheaper option, then name)"
                       if tie else "would lead")
            text = (f"The {side} side stays ahead unless {_change(smallest_v)}, when "
                    f"{names[smallest_v.new_leader]} ({other}) {outcome}.")
        verdict = Sensitivity(text, smallest_v, tuple(verdict_thresholds))

    return SensitivityReport(True, "", top_pick, verdict, near_tie)
