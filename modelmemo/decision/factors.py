"""The five factor scores (0-100) of one candidate, each with the sentence that explains it, and the
weighted total (README "Methodology", 3-4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelmemo.catalog.load import Catalog, Deployment, Model
from modelmemo.inputs.requirements import FACTORS, Requirements
from modelmemo.decision.costs import CostEstimate, usd
from modelmemo.decision.quality import UNKNOWN_QUALITY, clamp, evidence_of, evidence_value, task_quality
from modelmemo.decision.words import language_names, sentence, task_label, task_names


QUALITY_SHARE = 0.5  # requirements = (1 - QUALITY_SHARE) x fit + QUALITY_SHARE x mean task quality


@dataclass(frozen=True)
class FactorScore:
    score: float
    reason: str


def requirement_fit(model: Model, req: Requirements, tasks: tuple[str, ...]) -> tuple[float, list[str]]:
    """Fit to the stated needs (languages, customization, legacy, toolkit): 0-100 and its notes."""
    score = 100.0
    notes = [f"covers {task_names(tasks)}"]
    languages = model.value("languages")
    if req.languages:
        if languages == "any":
            notes.append("any language pair once trained")
        elif not isinstance(languages, list):
            score -= 10
            notes.append("language coverage undocumented (-10)")
        else:
            missing = [lang for lang in req.languages if lang not in languages]
            if missing:
                penalty = min(45, 15 * len(missing))
                score -= penalty
                notes.append(f"{language_names(missing)} not among documented languages (-{penalty})")
            else:
                notes.append(f"documents {language_names(req.languages)}")
    if req.customization == "fine-tuning":
        if model.has_open_weights:
            notes.append("fine-tune the open weights yourself")
        else:
            score -= 10
            notes.append("fine-tuning only through the vendor, you do not own the tuned weights (-10)")
    elif req.customization == "full-control":
        notes.append("full control of open weights")
    else:
        notes.append("prompting only, which needs no access to the weights")
    if model.lifecycle == "legacy":
        score -= 15
        notes.append("superseded by newer releases (-15)")
    if model.is_toolkit:
        score -= 20
        notes.append("must be trained before use (-20)")
    return clamp(score), notes


def requirements_fit(model: Model, deployment: Deployment, req: Requirements, tasks: tuple[str, ...],
                     catalog: Catalog | None = None, best_case: bool = False) -> FactorScore:
    """requirements = 50% fit + 50% mean task quality over the candidate's tasks (README "Methodology").

    best_case: unknown quality counts as the best score on its scale (100) instead of UNKNOWN_QUALITY.
    """
    fit, notes = requirement_fit(model, req, tasks)
    qualities = [task_quality(model, t, catalog) if catalog is not None
                 else (UNKNOWN_QUALITY, f"no public quality evidence for {task_label(t)}: {UNKNOWN_QUALITY:g}, conservative")
                 for t in tasks]
    if best_case:
        qualities = [(100.0, text) if evidence_value(evidence_of(model, t)) is None else (q, text)
                     for t, (q, text) in zip(tasks, qualities)]
    quality = sum(q for q, _ in qualities) / len(qualities) if qualities else UNKNOWN_QUALITY
    score = (1 - QUALITY_SHARE) * fit + QUALITY_SHARE * quality
    evidence = "; ".join(text for _, text in qualities)
    return FactorScore(clamp(score), sentence(
        [f"fit {fit:g} ({'; '.join(notes)})", f"quality {clamp(quality):g} ({evidence})"],
        f"; {1 - QUALITY_SHARE:.0%} fit + {QUALITY_SHARE:.0%} quality"))


def budget_fit(cost: CostEstimate, req: Requirements) -> tuple[FactorScore, bool | None]:
    """Score and over-budget flag. A floor below the budget is never 'within budget' (flag None)."""
    figure = cost.planning_figure
    budget = req.monthly_usd
    if figure is None:
        why = cost.lines[0] if cost.lines else "no price basis"
        if req.volume is None:  # every hosted price is unknown alike: no offer gains from it
            return FactorScore(50.0, f"Cost unknown ({why}); scored neutral against the {usd(budget)}/month "
                                     "budget."), None
        # The volume is known, the offer's price is not: an unpublished price never looks cheap
        # (it would otherwise beat every priced offer over the budget).
        return FactorScore(0.0, f"Cost unknown ({why}); scored 0 until the price is published, so an "
                                "unpriced offer never looks cheaper than a priced one."), None
    ratio = (0.0 if figure == 0 else float("inf")) if budget == 0 else figure / budget
    if ratio <= 0.5:
        score = 100.0
    elif ratio <= 1.0:
        score = 100 - (ratio - 0.5) * 60  # 100 at half the budget, 70 at the budget
    else:
        score = max(0.0, 70 - (ratio - 1.0) * 70)  # 0 at twice the budget
    over: bool | None = figure > budget
    ratio_text = "" if budget == 0 else f", {figure / budget:.0%} of the budget"
    if cost.high is None:
        # A floor understates the cost (throughput or volume unknown): do not let it look cheap.
        score -= 10
        verdict = "over budget" if over else "may exceed the budget"
        if not over:
            over = None
        return FactorScore(clamp(score), f"At least {usd(figure)}/month vs {usd(budget)}/month budget "
                                          f"({verdict}{ratio_text}); only a floor is known (-10)."), over
    basis = "estimated" if cost.is_point else "midpoint"
    verdict = "over budget" if over else "within budget"
    return FactorScore(clamp(score), f"{basis[:1].upper() + basis[1:]} {usd(figure)}/month vs {usd(budget)}/month budget "
                                      f"({verdict}{ratio_text})."), over


def _fact(deployment: Deployment, name: str, best_case: bool, best: str = "yes") -> Any:
    """A deployment fact; in the best case an unknown one counts as its best value."""
    value = deployment.value(name)
    return best if best_case and value == "unknown" else value


def support_fit(model: Model, deployment: Deployment, req: Requirements, best_case: bool = False) -> FactorScore:
    if deployment.is_api:
        support = _fact(deployment, "vendor_support", best_case)
        score = 90.0 if support == "yes" else 70.0
        notes = [f"managed API ({deployment.provider}), vendor support: {support}"]
        if req.vendor_sla_required:
            sla = _fact(deployment, "sla", best_case)
            score += {"yes": 10, "unknown": -20, "no": -40}.get(sla, -20)
            notes.append(f"SLA required, published SLA: {sla}")
    else:
        score = {"strong": 85.0, "basic": 55.0, "none": 25.0}[req.ml_expertise]
        notes = [f"self-hosted by a team with {req.expertise_phrase}"]
        if req.vendor_sla_required:
            score -= 35
            notes.append("no vendor SLA when you host it yourself (-35)")
        if model.is_toolkit:
            score -= 10
            notes.append("training pipeline to maintain (-10)")
    return FactorScore(clamp(score), sentence(notes))


def security_fit(model: Model, deployment: Deployment, req: Requirements, best_case: bool = False) -> FactorScore:
    level = req.sensitivity_level
    if not deployment.is_api:
        notes = ["data stays on your infrastructure"]
        if model.has_open_weights:
            notes.append("weights inspectable")
        return FactorScore(100.0, sentence(notes, f" ({req.data_sensitivity} data)"))
    score = 100.0
    notes = [f"{req.data_sensitivity} data sent to {deployment.provider}"]
    trains = _fact(deployment, "trains_on_prompts", best_case, best="no")
    if trains != "no":
        penalty = (10 + 15 * level) if trains == "yes" else (5 + 8 * level)
        score -= penalty
        notes.append(f"trains on prompts: {trains} (-{penalty})")
    soc2 = _fact(deployment, "soc2", best_case)
    if soc2 != "yes" and level:
        penalty = 10 * level if soc2 == "no" else 5 * level
        score -= penalty
        notes.append(f"SOC 2: {soc2} (-{penalty})")
    if level >= 2:
        residency = _fact(deployment, "data_residency", best_case)
        if residency in ("unknown", "no"):
            score -= 5 * level
            notes.append(f"data residency {'unknown' if residency == 'unknown' else 'not offered'} (-{5 * level})")
    if level == 3:
        baa = _fact(deployment, "hipaa_baa", best_case)
        if baa != "yes":
            penalty = 20 if baa == "no" else 10
            score -= penalty
            notes.append(f"HIPAA BAA: {baa} (-{penalty})")
    if len(notes) == 1:  # no penalty applied: say what the facts are, not what a penalty-free case usually means
        notes.append(f"trains on prompts: {trains}, SOC 2: {soc2}"
                     + ("" if soc2 == "yes" else " (no penalty for public data)"))
    return FactorScore(clamp(score), sentence(notes))


def long_term_fit(model: Model, deployment: Deployment, req: Requirements) -> FactorScore:
    if deployment.is_api or req.growth == "low":
        scalability = 100.0
        scale_note = "scales with the vendor" if deployment.is_api else "low growth"
    else:
        base = {"strong": 85.0, "basic": 65.0, "none": 45.0}[req.ml_expertise]
        scalability = base if req.growth == "high" else (base + 100) / 2
        scale_note = f"{req.growth} growth on self-managed GPUs with {req.expertise_phrase}"
    if model.has_open_weights:
        portability = 100.0
        port_note = "open weights are portable"
    else:
        portability = {"low": 40.0, "medium": 70.0, "high": 100.0}[req.lock_in_tolerance]
        port_note = f"tied to {model.vendor} with {req.lock_in_tolerance} lock-in tolerance"
    score = (scalability + portability) / 2
    notes = [scale_note, port_note]
    if model.lifecycle == "legacy":
        score -= 15
        notes.append("superseded model (-15)")
    return FactorScore(clamp(score), sentence(notes))


def weighted_total(factors: dict[str, FactorScore], weights: dict[str, float]) -> float:
    """Unrounded, so rankings and the sensitivity analysis agree; memos show one decimal."""
    weight_sum = sum(weights[f] for f in FACTORS)
    return sum(factors[f].score * weights[f] for f in FACTORS) / weight_sum + 0.0
