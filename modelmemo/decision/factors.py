"""The five factor scores (0-100) of one candidate, each with its interval, the sentence that
explains it and the unknowns behind the interval, and the weighted total (README "Methodology",
3-4). Every number comes from the policy table (decision/policy.py).

A vendor fact the catalog marks `unknown` spans its possible values: the point score uses the
policy's charge for an unknown fact, the interval runs from the fact at its worst to its best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from modelmemo.catalog.load import Deployment, Model
from modelmemo.inputs.requirements import FACTORS, Requirements
from modelmemo.decision.costs import CostEstimate, usd
from modelmemo.decision.pilot import piloted_state
from modelmemo.decision.policy import policy as P
from modelmemo.decision.quality import QualityContext, TaskQuality, bounded, clamp
from modelmemo.decision.words import language_names, sentence, task_names


# A vendor fact's best and worst values, for the interval of a fact the catalog does not know.
BEST_VALUE = {"vendor_support": "yes", "sla": "yes", "trains_on_prompts": "no", "soc2": "yes",
              "data_residency": "yes", "hipaa_baa": "yes"}
WORST_VALUE = {"vendor_support": "no", "sla": "no", "trains_on_prompts": "yes", "soc2": "no",
               "data_residency": "no", "hipaa_baa": "no"}
FACT_WORDS = {"vendor_support": "vendor support", "sla": "SLA", "trains_on_prompts": "training on prompts",
              "soc2": "SOC 2", "data_residency": "data residency", "hipaa_baa": "HIPAA BAA"}


@dataclass(frozen=True)
class Unknown:
    """One missing fact behind a candidate's interval: what it is and how far it can move a factor."""

    kind: str  # quality | cost | fact
    factor: str
    label: str  # "quality on chat", "SLA", "monthly cost"
    swing: float  # factor points between the unknown at its worst and at its best
    key: str = ""  # the task (quality) or catalog fact (fact)
    state: str = "not published"  # what is known of it, in words: "unmeasured", "only a floor is known", ...


@dataclass(frozen=True)
class FactorScore:
    score: float
    reason: str
    low: float | None = None
    high: float | None = None
    unknowns: tuple[Unknown, ...] = field(default=(), compare=False)

    @property
    def interval(self) -> tuple[float, float]:
        low = self.score if self.low is None else self.low
        high = self.score if self.high is None else self.high
        return min(low, self.score), max(high, self.score)


def requirement_fit(model: Model, req: Requirements, tasks: tuple[str, ...]) -> tuple[float, list[str]]:
    """Fit to the stated needs (languages, customization, legacy, toolkit): 0-100 and its notes."""
    score = 100.0
    notes = [f"covers {task_names(tasks)}"]
    languages = model.value("languages")
    if req.languages:
        if languages == "any":
            notes.append("any language pair once trained")
        elif not isinstance(languages, list):
            penalty = P("LANGUAGE_UNDOCUMENTED_PENALTY")
            score -= penalty
            notes.append(f"language coverage undocumented (-{penalty:g})")
        else:
            missing = [lang for lang in req.languages if lang not in languages]
            if missing:
                penalty = min(P("LANGUAGE_MISSING_CAP"), P("LANGUAGE_MISSING_PENALTY") * len(missing))
                score -= penalty
                notes.append(f"{language_names(missing)} not among documented languages (-{penalty:g})")
            else:
                notes.append(f"documents {language_names(req.languages)}")
    if req.customization == "fine-tuning":
        if model.has_open_weights:
            notes.append("fine-tune the open weights yourself")
        else:
            penalty = P("VENDOR_ONLY_TUNING_PENALTY")
            score -= penalty
            notes.append(f"fine-tuning only through the vendor, you do not own the tuned weights (-{penalty:g})")
    elif req.customization == "full-control":
        notes.append("full control of open weights")
    else:
        notes.append("prompting only, which needs no access to the weights")
    if model.lifecycle == "legacy":
        score -= P("LEGACY_PENALTY")
        notes.append(f"superseded by newer releases (-{P('LEGACY_PENALTY'):g})")
    if model.is_toolkit:
        score -= P("TOOLKIT_PENALTY")
        notes.append(f"must be trained before use (-{P('TOOLKIT_PENALTY'):g})")
    return clamp(score), notes


def task_qualities(model: Model, tasks: tuple[str, ...], quality: QualityContext,
                   deployment: str | None = None) -> list[TaskQuality]:
    return [quality.task_quality(model, t, deployment) for t in tasks]


def quality_state(q: TaskQuality) -> str:
    """What is known of a task's quality, in the words its Unknown carries."""
    if q.pilot is not None:
        return piloted_state(q.pilot.n) + ", within its bootstrap interval"
    if q.unpiloted:
        return "not piloted: its public score, not measured on your examples"
    return {"unknown": "unmeasured", "proxy": "a proxy: another model's score"}.get(
        q.kind, "measured, within its published interval")


def requirements_fit(model: Model, req: Requirements, tasks: tuple[str, ...],
                     qualities: list[TaskQuality]) -> FactorScore:
    """requirements = (1 - QUALITY_SHARE) x fit + QUALITY_SHARE x mean task quality."""
    share = P("QUALITY_SHARE")
    fit, notes = requirement_fit(model, req, tasks)
    n = max(1, len(qualities))
    mean = lambda attr: sum(getattr(q, attr) for q in qualities) / n if qualities else P("UNMEASURED_QUALITY")  # noqa: E731
    combine = lambda q: (1 - share) * fit + share * q  # noqa: E731
    unknowns = tuple(Unknown("quality", "requirements", f"quality on {q.task.replace('-', ' ')}",
                             share * (q.high - q.low) / n, q.task, quality_state(q))
                     for q in qualities if q.high > q.low)
    evidence = "; ".join(q.text for q in qualities)
    return FactorScore(clamp(combine(mean("score"))), sentence(
        [f"fit {fit:g} ({'; '.join(notes)})", f"quality {clamp(mean('score')):g} ({evidence})"],
        f"; {1 - share:.0%} fit + {share:.0%} quality"),
        bounded(combine(mean("low"))), bounded(combine(mean("high"))), unknowns)


def budget_score(cost: float, budget: float) -> float:
    """100 up to BUDGET_FULL_SHARE of the budget, BUDGET_AT_LIMIT at the budget, then falling as
    budget/cost: more budget never lowers it, and options over budget still rank by cost."""
    if budget <= 0:
        return 100.0 if cost <= 0 else 0.0
    ratio = cost / budget
    full, at_limit = P("BUDGET_FULL_SHARE"), P("BUDGET_AT_LIMIT")
    if ratio <= full:
        return 100.0
    if ratio <= 1.0:
        return 100 - (ratio - full) * (100 - at_limit) / (1 - full)
    return at_limit / ratio


def budget_fit(cost: CostEstimate, req: Requirements) -> tuple[FactorScore, bool | None]:
    """Score and over-budget flag. A floor below the budget is never 'within budget' (flag None)."""
    figure = cost.planning_figure
    budget = req.monthly_usd
    if figure is None:
        why = cost.lines[0] if cost.lines else "no price basis"
        if req.volume is None:  # every hosted price is unknown alike: no offer gains from it
            neutral = P("NO_VOLUME_BUDGET")
            return FactorScore(neutral, f"Cost unknown ({why}); scored neutral ({neutral:g}) against the "
                                        f"{usd(budget)}/month budget."), None
        # The volume is known, the offer's price is not: an unpublished price never looks cheap.
        return FactorScore(0.0, f"Cost unknown ({why}); scored 0 until the price is published, so an "
                                "unpriced offer never looks cheaper than a priced one.",
                           unknowns=(Unknown("cost", "budget", "price", 0.0, "price", "not published"),)), None
    ratio_text = "" if budget == 0 else f", {figure / budget:.0%} of the budget"
    if cost.high is None:
        spread = P("FLOOR_SPREAD")
        top = figure * spread
        point = budget_score(figure * (1 + spread) / 2, budget)
        low, high = budget_score(top, budget), budget_score(figure, budget)
        if cost.unpriced_part:
            # Part of the bill has no published price: nothing bounds it, so the budget score may be
            # anything down to 0 (a fully priced route of the same model is then the safer plan).
            low = 0.0
            return FactorScore(clamp(point), f"At least {usd(figure)}/month vs {usd(budget)}/month budget "
                                             f"({'over budget' if figure > budget else 'may exceed the budget'}"
                                             f"{ratio_text}); part of the bill has no published price.",
                               0.0, bounded(high), (Unknown("cost", "budget", "monthly cost", high, "cost",
                                                           "part of it has no published price"),)), \
                (figure > budget or None)
        over: bool | None = figure > budget or None
        verdict = ("over budget" if over else "may exceed the budget" if top > budget
                   else "even twice it stays under the budget")
        return FactorScore(clamp(point), f"At least {usd(figure)}/month vs {usd(budget)}/month budget "
                                         f"({verdict}{ratio_text}); only a floor is known, taken as up to "
                                         f"{spread:g}x it.", bounded(low), bounded(high),
                           (Unknown("cost", "budget", "monthly cost", high - low, "cost", "only a floor is known"),)), over
    over = figure > budget
    basis = "Estimated" if cost.is_point else "Midpoint"
    low, high = budget_score(cost.high, budget), budget_score(cost.low, budget)
    unknowns = (Unknown("cost", "budget", "monthly cost", high - low, "cost", "known as a range"),) if high > low else ()
    return FactorScore(clamp(budget_score(figure, budget)),
                       f"{basis} {usd(figure)}/month vs {usd(budget)}/month budget "
                       f"({'over budget' if over else 'within budget'}{ratio_text}).",
                       bounded(low), bounded(high), unknowns), over


def _fact(deployment: Deployment, name: str, assume: dict[str, str]) -> Any:
    """A deployment fact; an unknown one named in `assume` counts as its best or worst value."""
    value = deployment.value(name)
    if value == "unknown" and name in assume:
        return (BEST_VALUE if assume[name] == "best" else WORST_VALUE)[name]
    return value


def _with_interval(score_of: Callable[[dict[str, str]], tuple[float, list[str]]], deployment: Deployment,
                   facts: tuple[str, ...], factor: str, suffix: str = "") -> FactorScore:
    """The factor's point (unknowns charged as the policy says), its interval (every unknown fact at
    its worst and at its best) and each unknown's own swing."""
    point, notes = score_of({})
    unknown = [f for f in facts if deployment.value(f) == "unknown"]
    low = score_of({f: "worst" for f in unknown})[0]
    high = score_of({f: "best" for f in unknown})[0]
    swings = tuple(Unknown("fact", factor, FACT_WORDS[f], score_of({f: "best"})[0] - score_of({f: "worst"})[0], f)
                   for f in unknown)
    return FactorScore(clamp(point), sentence(notes, suffix), bounded(low), bounded(high),
                       tuple(u for u in swings if u.swing > 0))


def support_fit(model: Model, deployment: Deployment, req: Requirements) -> FactorScore:
    def score_of(assume: dict[str, str]) -> tuple[float, list[str]]:
        if deployment.is_api:
            support = _fact(deployment, "vendor_support", assume)
            score = P("API_SUPPORT") if support == "yes" else P("API_NO_SUPPORT")
            notes = [f"managed API ({deployment.provider}), vendor support: {support}"]
            if req.vendor_sla_required:
                sla = _fact(deployment, "sla", assume)
                score += {"yes": P("SLA_MET_BONUS"), "no": -P("SLA_NONE_PENALTY")}.get(sla, -P("SLA_UNKNOWN_PENALTY"))
                notes.append(f"SLA required, published SLA: {sla}")
            return score, notes
        score = {"strong": P("SELF_HOST_STRONG"), "basic": P("SELF_HOST_BASIC"), "none": P("SELF_HOST_NONE")}[req.ml_expertise]
        notes = [f"self-hosted by a team with {req.expertise_phrase}"]
        if req.vendor_sla_required:
            score -= P("SELF_HOST_SLA_PENALTY")
            notes.append(f"no vendor SLA when you host it yourself (-{P('SELF_HOST_SLA_PENALTY'):g})")
        if model.is_toolkit:
            score -= P("TOOLKIT_SUPPORT_PENALTY")
            notes.append(f"training pipeline to maintain (-{P('TOOLKIT_SUPPORT_PENALTY'):g})")
        return score, notes

    facts = ("vendor_support", "sla") if req.vendor_sla_required else ("vendor_support",)
    return _with_interval(score_of, deployment, facts if deployment.is_api else (), "support")


def security_fit(model: Model, deployment: Deployment, req: Requirements) -> FactorScore:
    level = req.sensitivity_level
    if not deployment.is_api:
        notes = ["data stays on your infrastructure"]
        if model.has_open_weights:
            notes.append("weights inspectable")
        return FactorScore(100.0, sentence(notes, f" ({req.data_sensitivity} data)"))

    def score_of(assume: dict[str, str]) -> tuple[float, list[str]]:
        score = 100.0
        notes = [f"{req.data_sensitivity} data sent to {deployment.provider}"]
        trains = _fact(deployment, "trains_on_prompts", assume)
        if trains != "no":
            penalty = (P("TRAINS_YES_BASE") + P("TRAINS_YES_PER_LEVEL") * level if trains == "yes"
                       else P("TRAINS_UNKNOWN_BASE") + P("TRAINS_UNKNOWN_PER_LEVEL") * level)
            score -= penalty
            notes.append(f"trains on prompts: {trains} (-{penalty:g})")
        soc2 = _fact(deployment, "soc2", assume)
        if soc2 != "yes" and level:
            penalty = (P("SOC2_NONE_PER_LEVEL") if soc2 == "no" else P("SOC2_UNKNOWN_PER_LEVEL")) * level
            score -= penalty
            notes.append(f"SOC 2: {soc2} (-{penalty:g})")
        if level >= 2:
            residency = _fact(deployment, "data_residency", assume)
            if residency in ("unknown", "no"):
                penalty = P("RESIDENCY_PER_LEVEL") * level
                score -= penalty
                notes.append(f"data residency {'unknown' if residency == 'unknown' else 'not offered'} (-{penalty:g})")
        if level == 3:
            baa = _fact(deployment, "hipaa_baa", assume)
            if baa != "yes":
                penalty = P("BAA_NONE_PENALTY") if baa == "no" else P("BAA_UNKNOWN_PENALTY")
                score -= penalty
                notes.append(f"HIPAA BAA: {baa} (-{penalty:g})")
        if len(notes) == 1:  # no penalty applied: say what the facts are
            notes.append(f"trains on prompts: {trains}, SOC 2: {soc2}"
                         + ("" if soc2 == "yes" else " (no penalty for public data)"))
        return score, notes

    facts = ("trains_on_prompts",) + (("soc2",) if level else ()) + (("data_residency",) if level >= 2 else ()) \
        + (("hipaa_baa",) if level == 3 else ())
    return _with_interval(score_of, deployment, facts, "security")


def long_term_fit(model: Model, deployment: Deployment, req: Requirements) -> FactorScore:
    if deployment.is_api or req.growth == "low":
        scalability = 100.0
        scale_note = "scales with the vendor" if deployment.is_api else "low growth"
    else:
        base = {"strong": P("SCALE_STRONG"), "basic": P("SCALE_BASIC"), "none": P("SCALE_NONE")}[req.ml_expertise]
        scalability = base if req.growth == "high" else (base + 100) / 2
        scale_note = f"{req.growth} growth on self-managed GPUs with {req.expertise_phrase}"
    if model.has_open_weights:
        portability = 100.0
        port_note = "open weights are portable"
    else:
        portability = {"low": P("PORTABILITY_LOW_TOLERANCE"), "medium": P("PORTABILITY_MEDIUM_TOLERANCE"),
                       "high": 100.0}[req.lock_in_tolerance]
        port_note = f"tied to {model.vendor} with {req.lock_in_tolerance} lock-in tolerance"
    score = (scalability + portability) / 2
    notes = [scale_note, port_note]
    if model.lifecycle == "legacy":
        score -= P("LEGACY_PENALTY")
        notes.append(f"superseded model (-{P('LEGACY_PENALTY'):g})")
    return FactorScore(clamp(score), sentence(notes))


def weighted_total(factors: dict[str, FactorScore], weights: dict[str, float]) -> float:
    """Unrounded, so rankings and the sensitivity analysis agree; memos show one decimal."""
    weight_sum = sum(weights[f] for f in FACTORS)
    return sum(factors[f].score * weights[f] for f in FACTORS) / weight_sum + 0.0


def weighted_interval(factors: dict[str, FactorScore], weights: dict[str, float]) -> tuple[float, float]:
    weight_sum = sum(weights[f] for f in FACTORS)
    low = sum(factors[f].interval[0] * weights[f] for f in FACTORS) / weight_sum
    high = sum(factors[f].interval[1] * weights[f] for f in FACTORS) / weight_sum
    return low + 0.0, high + 0.0
