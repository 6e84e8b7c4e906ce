"""Scoring v1: hard constraints first, then five factor scores (0-100) per eligible model.

Deterministic and explainable: every exclusion and every factor score carries a sentence that
names the catalog facts and input fields it used. The rules (and their point values) are
documented in README's "Methodology" section; change them there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .catalog import Catalog, Deployment, Model
from .costs import CostEstimate, estimate, usd
from .requirements import FACTORS, Requirements
from .settings import CLOSE_CALL_MARGIN

VERDICT_LABELS = {"open-source": "Open source", "closed-source": "Closed source", "close-call": "Close call"}


@dataclass(frozen=True)
class FactorScore:
    score: float
    reason: str


@dataclass(frozen=True)
class ModelScore:
    model: Model
    deployment: Deployment
    factors: dict[str, FactorScore]
    total: float
    cost: CostEstimate
    over_budget: bool | None  # None: cost unknown
    tasks: tuple[str, ...]

    @property
    def model_id(self) -> str:
        return self.model.id


@dataclass(frozen=True)
class TaskPick:
    task: str
    model_id: str
    runner_up: str | None


@dataclass(frozen=True)
class Decision:
    verdict: str
    recommended: str | None  # single-model recommendation
    combination: tuple[TaskPick, ...]  # non-empty when no single model covers every task
    runner_up: str | None
    scores: dict[str, ModelScore]  # best deployment per eligible model, ranked by total
    excluded: dict[str, list[str]]
    weights: dict[str, float]
    notes: tuple[str, ...] = ()
    best_open: str | None = None
    best_closed: str | None = None
    verdict_reason: str = ""

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def ranking(self) -> list[str]:
        return list(self.scores)

    @property
    def recommended_ids(self) -> list[str]:
        if self.combination:
            return list(dict.fromkeys(pick.model_id for pick in self.combination))
        return [self.recommended] if self.recommended else []


# --- hard constraints ------------------------------------------------------------------------


def model_exclusions(model: Model, req: Requirements, check_tasks: bool = True) -> list[str]:
    """Reasons a model can never serve this project, whatever the deployment."""
    reasons: list[str] = []
    if model.lifecycle == "retired":
        note = model.facts["lifecycle"].note
        successor = f"; its successor is {model.successor}" if model.successor else ""
        reasons.append(f"retired: no longer offered{successor}" + (f" ({note})" if note else ""))
    if check_tasks:
        missing = [t for t in req.tasks if t not in model.tasks]
        if missing:
            reasons.append(f"does not cover required task(s): {', '.join(missing)} (covers {', '.join(model.tasks)})")
    if req.transparency_required and not model.has_open_weights:
        reasons.append("transparency required, but the weights are not published (open weights: "
                       f"{model.value('open_weights')})")
    if req.customization == "full-control" and not model.has_open_weights:
        reasons.append("full control of the weights required, but the weights are not published")
    if req.customization == "fine-tuning" and not model.has_open_weights and not any(
        d.value("vendor_fine_tuning", "no") == "yes" for d in model.deployments
    ):
        reasons.append("fine-tuning required, but there are no open weights and no vendor fine-tuning offer")
    if model.is_toolkit and req.ml_expertise != "strong":
        reasons.append(f"a toolkit you must train on your own data; that needs strong ML expertise "
                       f"(the team has {req.expertise_phrase})")
    if not model.deployments:
        reasons.append("no deployment option is available")
    return reasons


def deployment_exclusions(deployment: Deployment, model: Model, req: Requirements) -> list[str]:
    """Reasons one deployment option cannot serve this project."""
    reasons: list[str] = []
    if req.on_premises_only and deployment.is_api:
        reasons.append(f"{deployment.provider} API: data would leave your infrastructure (on-premises only)")
    if deployment.kind == "self-hosted" and not model.has_open_weights:
        reasons.append("self-hosting needs open weights")
    if req.data_sensitivity == "regulated" and deployment.is_api:
        if deployment.value("soc2") != "yes":
            reasons.append(f"{deployment.provider} API: regulated data needs a SOC 2 report "
                           f"(SOC 2: {deployment.value('soc2')})")
        if deployment.value("trains_on_prompts") != "no":
            reasons.append(f"{deployment.provider} API: regulated data must not be used for training "
                           f"(trains on prompts: {deployment.value('trains_on_prompts')})")
    return reasons


# --- factor scores ---------------------------------------------------------------------------


def _sentence(notes: list[str], suffix: str = "") -> str:
    text = "; ".join(notes) + suffix
    return text[:1].upper() + text[1:] + "."


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, round(value, 1)))


def requirements_fit(model: Model, deployment: Deployment, req: Requirements, tasks: tuple[str, ...]) -> FactorScore:
    score = 100.0
    notes = [f"covers {', '.join(tasks)}"]
    languages = model.value("languages")
    if req.languages:
        if languages == "any":
            notes.append("any language pair once trained")
        elif languages == "unknown":
            score -= 10
            notes.append("language coverage undocumented (-10)")
        else:
            missing = [lang for lang in req.languages if lang not in languages]
            if missing:
                penalty = min(45, 15 * len(missing))
                score -= penalty
                notes.append(f"{', '.join(missing)} not among documented languages (-{penalty})")
            else:
                notes.append(f"documents {', '.join(req.languages)}")
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
    return FactorScore(_clamp(score), _sentence(notes))


def budget_fit(cost: CostEstimate, req: Requirements) -> tuple[FactorScore, bool | None]:
    figure = cost.planning_figure
    budget = req.monthly_usd
    if figure is None:
        return FactorScore(50.0, f"Cost unknown ({cost.lines[0] if cost.lines else 'no price basis'}); "
                                 f"scored neutral against the {usd(budget)}/month budget."), None
    ratio = (0.0 if figure == 0 else float("inf")) if budget == 0 else figure / budget
    if ratio <= 0.5:
        score = 100.0
    elif ratio <= 1.0:
        score = 100 - (ratio - 0.5) * 60  # 100 at half the budget, 70 at the budget
    else:
        score = max(0.0, 70 - (ratio - 1.0) * 70)  # 0 at twice the budget
    over = figure > budget
    uncertain = ""
    if cost.high is None:
        # A floor understates the cost (throughput or volume unknown): do not let it look cheap.
        score -= 10
        uncertain = "; only a floor is known (-10)"
    basis = "estimated" if cost.is_point else ("floor" if cost.high is None else "midpoint")
    verdict = "over budget" if over else "within budget"
    ratio_text = "" if budget == 0 else f", {figure / budget:.0%} of the budget"
    return FactorScore(_clamp(score), f"{basis[:1].upper() + basis[1:]} {usd(figure)}/month vs {usd(budget)}/month budget "
                                      f"({verdict}{ratio_text}){uncertain}."), over


def support_fit(model: Model, deployment: Deployment, req: Requirements) -> FactorScore:
    if deployment.is_api:
        support = deployment.value("vendor_support")
        score = 90.0 if support == "yes" else 70.0
        notes = [f"managed API ({deployment.provider}), vendor support: {support}"]
        if req.vendor_sla_required:
            sla = deployment.value("sla")
            score += {"yes": 10, "unknown": -20, "no": -40}[sla]
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
    return FactorScore(_clamp(score), _sentence(notes))


def security_fit(model: Model, deployment: Deployment, req: Requirements) -> FactorScore:
    level = req.sensitivity_level
    if not deployment.is_api:
        notes = ["data stays on your infrastructure"]
        if model.has_open_weights:
            notes.append("weights inspectable")
        return FactorScore(100.0, _sentence(notes, f" ({req.data_sensitivity} data)"))
    score = 100.0
    notes = [f"{req.data_sensitivity} data sent to {deployment.provider}"]
    trains = deployment.value("trains_on_prompts")
    if trains != "no":
        penalty = (10 + 15 * level) if trains == "yes" else (5 + 8 * level)
        score -= penalty
        notes.append(f"trains on prompts: {trains} (-{penalty})")
    soc2 = deployment.value("soc2")
    if soc2 != "yes" and level:
        penalty = 10 * level if soc2 == "no" else 5 * level
        score -= penalty
        notes.append(f"SOC 2: {soc2} (-{penalty})")
    if level >= 2:
        residency = deployment.value("data_residency")
        if residency == "unknown":
            score -= 5 * level
            notes.append(f"data residency unknown (-{5 * level})")
    if level == 3:
        baa = deployment.value("hipaa_baa")
        if baa != "yes":
            penalty = 20 if baa == "no" else 10
            score -= penalty
            notes.append(f"HIPAA BAA: {baa} (-{penalty})")
    if len(notes) == 1:
        notes.append("no training on prompts, SOC 2 report available")
    return FactorScore(_clamp(score), _sentence(notes))


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
    return FactorScore(_clamp(score), _sentence(notes))


def weighted_total(factors: dict[str, FactorScore], weights: dict[str, float]) -> float:
    """Unrounded, so rankings and the sensitivity analysis agree; memos show one decimal."""
    weight_sum = sum(weights[f] for f in FACTORS)
    return sum(factors[f].score * weights[f] for f in FACTORS) / weight_sum


def rank_key(total: float) -> float:
    # Equal totals computed in different orders can differ by ~1e-14; they must tie exactly so
    # that the documented tie-break (model id) decides, not float noise.
    return round(total, 9)


def score_deployment(model: Model, deployment: Deployment, req: Requirements, catalog: Catalog,
                     tasks: tuple[str, ...]) -> ModelScore:
    cost = estimate(model, deployment, req, catalog, tasks)
    budget, over = budget_fit(cost, req)
    factors = {
        "requirements": requirements_fit(model, deployment, req, tasks),
        "budget": budget,
        "support": support_fit(model, deployment, req),
        "security": security_fit(model, deployment, req),
        "long_term": long_term_fit(model, deployment, req),
    }
    return ModelScore(model, deployment, factors, weighted_total(factors, req.weights), cost, over, tasks)


def best_deployment(model: Model, req: Requirements, catalog: Catalog, tasks: tuple[str, ...]
                    ) -> tuple[ModelScore | None, list[str]]:
    """Highest-scoring eligible deployment of a model, or the reasons none is eligible."""
    candidates: list[ModelScore] = []
    reasons: list[str] = []
    for deployment in model.deployments:
        excluded = deployment_exclusions(deployment, model, req)
        if excluded:
            reasons.extend(excluded)
        else:
            candidates.append(score_deployment(model, deployment, req, catalog, tasks))
    if not candidates:
        return None, reasons
    candidates.sort(key=lambda s: (-rank_key(s.total), s.deployment.id))
    return candidates[0], []


def _rank(scores: list[ModelScore]) -> list[ModelScore]:
    # Ties broken by model id so that the same input always gives the same memo.
    return sorted(scores, key=lambda s: (-rank_key(s.total), s.model_id))


def _verdict(ranked: list[ModelScore]) -> tuple[str, str | None, str | None, str]:
    """(verdict, best open id, best closed id, the verdict's reason in one sentence)."""
    best_open = next((s for s in ranked if s.model.is_open), None)
    best_closed = next((s for s in ranked if not s.model.is_open), None)
    open_id = best_open.model_id if best_open else None
    closed_id = best_closed.model_id if best_closed else None
    if best_open is None and best_closed is None:
        return "close-call", None, None, "No model in the catalog meets every hard constraint."
    if best_closed is None:
        return ("open-source", open_id, None,
                f"Only open-source models meet the hard constraints; the best is {best_open.model.name} "
                f"({best_open.total:.1f}).")
    if best_open is None:
        return ("closed-source", None, closed_id,
                f"Only closed-source models meet the hard constraints; the best is {best_closed.model.name} "
                f"({best_closed.total:.1f}).")
    gap = abs(best_open.total - best_closed.total)
    pair = (f"best open-source {best_open.model.name} ({best_open.total:.1f}) vs best closed-source "
            f"{best_closed.model.name} ({best_closed.total:.1f})")
    if gap <= CLOSE_CALL_MARGIN:
        return "close-call", open_id, closed_id, (
            f"Within {CLOSE_CALL_MARGIN:g} points: {pair}; the weights decide, so pilot both.")
    verdict = "open-source" if best_open.total > best_closed.total else "closed-source"
    return verdict, open_id, closed_id, f"A lead of {gap:.1f} points: {pair}."


def decide(req: Requirements, catalog: Catalog) -> Decision:
    """Score every model for the project and choose. Pure: same inputs, same decision."""
    excluded: dict[str, list[str]] = {}
    eligible: list[ModelScore] = []
    for model in catalog.models.values():
        reasons = model_exclusions(model, req)
        if not reasons:
            scored, dep_reasons = best_deployment(model, req, catalog, req.tasks)
            if scored:
                eligible.append(scored)
                continue
            reasons = dep_reasons
        excluded[model.id] = reasons
    notes: list[str] = []
    ranked = _rank(eligible)
    if ranked:
        verdict, best_open, best_closed, reason = _verdict(ranked)
        decision = Decision(
            verdict=verdict,
            recommended=ranked[0].model_id,
            combination=(),
            runner_up=ranked[1].model_id if len(ranked) > 1 else None,
            scores={s.model_id: s for s in ranked},
            excluded=excluded,
            weights=dict(req.weights),
            best_open=best_open,
            best_closed=best_closed,
            verdict_reason=reason,
        )
    else:
        decision = _combination(req, catalog, excluded)
    notes.extend(_tie_notes(decision))
    notes.extend(_retired_notes(req, catalog, decision))
    if notes:
        decision = Decision(**{**decision.__dict__, "notes": tuple(notes)})
    return decision


def _combination(req: Requirements, catalog: Catalog, excluded: dict[str, list[str]]) -> Decision:
    """No single model covers every task: pick the best eligible model per task."""
    per_model: dict[str, ModelScore] = {}
    for model in catalog.models.values():
        if model_exclusions(model, req, check_tasks=False):
            continue
        covered = tuple(t for t in req.tasks if t in model.tasks)
        if not covered:
            continue
        scored, _ = best_deployment(model, req, catalog, covered)
        if scored:
            per_model[model.id] = scored
    picks: list[TaskPick] = []
    for task in req.tasks:
        ranked = _rank([s for s in per_model.values() if task in s.tasks])
        if ranked:
            picks.append(TaskPick(task, ranked[0].model_id, ranked[1].model_id if len(ranked) > 1 else None))
    chosen = {pick.model_id for pick in picks}
    ranked_all = _rank(list(per_model.values()))
    openness = {per_model[m].model.is_open for m in chosen}
    uncovered = [t for t in req.tasks if t not in {p.task for p in picks}]
    names = ", ".join(f"{per_model[p.model_id].model.name} for {p.task}" for p in picks)
    if not picks:
        verdict, reason = "close-call", "No model in the catalog meets every hard constraint."
    elif uncovered:
        verdict = "close-call"
        reason = (f"No eligible model covers {', '.join(uncovered)}; the best available combination is {names}.")
    elif openness == {True}:
        verdict, reason = "open-source", f"No single model covers every task; all picks are open-source: {names}."
    elif openness == {False}:
        verdict, reason = "closed-source", f"No single model covers every task; all picks are closed-source: {names}."
    else:
        verdict = "close-call"
        reason = f"No single model covers every task; the combination mixes open- and closed-source models: {names}."
    _, best_open, best_closed, _ = _verdict(ranked_all)
    return Decision(
        verdict=verdict,
        recommended=None,
        combination=tuple(picks),
        runner_up=None,
        scores={s.model_id: s for s in ranked_all},
        excluded={k: v for k, v in excluded.items() if k not in per_model},
        weights=dict(req.weights),
        best_open=best_open,
        best_closed=best_closed,
        verdict_reason=reason,
    )


TIE_MARGIN = 0.5


def _tie_notes(decision: Decision) -> list[str]:
    """Call out ties and near-ties at the top: the order between them is not a real preference."""
    ranked = list(decision.scores.values())
    if decision.combination or len(ranked) < 2:
        return []
    top = ranked[0]
    tied = [s for s in ranked[1:] if top.total - s.total <= TIE_MARGIN]
    if not tied:
        return []
    names = ", ".join(s.model.name for s in tied)
    if all(rank_key(s.total) == rank_key(top.total) for s in tied):
        return [f"{top.model.name} is tied with {names} at {top.total:.1f}; the order among them is alphabetical, "
                "so treat them as equal candidates."]
    return [f"Near-tie: {top.model.name} ({top.total:.1f}) leads {names} by at most {TIE_MARGIN} points; "
            "treat them as equal candidates."]


def _retired_notes(req: Requirements, catalog: Catalog, decision: Decision) -> list[str]:
    """Say why a retired model is not recommended when it would otherwise have ranked."""
    notes = []
    for model in catalog.models.values():
        if model.lifecycle != "retired" or any(t not in model.tasks for t in req.tasks):
            continue
        successor = catalog.models.get(model.successor or "")
        text = f"{model.name} is not recommended: it is retired"
        if successor:
            text += f" and was replaced by {successor.name}, which is scored in its place"
        notes.append(text + ".")
    return notes


def summary_row(decision: Decision) -> dict[str, Any]:
    top = decision.recommended_ids[0] if decision.recommended_ids else None
    return {
        "verdict": decision.verdict,
        "top_model": top,
        "top_score": round(decision.scores[top].total, 1) if top else None,
    }
