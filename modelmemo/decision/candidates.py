"""Candidates: every eligible (model, deployment option) pair, scored on the five factors and ranked.

Ranking key (README "Methodology", 2): higher total first, then the cheaper monthly planning figure
(unknown cost last), then model id, then the deployment's position in the catalog. The key orders
lists; ties (decision.ties) decide what is reported as a preference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelmemo.catalog.load import Catalog, Deployment, Model
from modelmemo.inputs.requirements import Requirements
from modelmemo.decision.costs import CostEstimate, estimate
from modelmemo.decision.eligibility import context_risk, deployment_exclusions
from modelmemo.decision.factors import (FactorScore, budget_fit, long_term_fit, requirements_fit, security_fit, support_fit,
                      weighted_total)
from modelmemo.decision.quality import evidence_of, evidence_value


@dataclass(frozen=True)
class ModelScore:
    """One scored candidate: a model on one deployment option, for the given tasks."""

    model: Model
    deployment: Deployment
    factors: dict[str, FactorScore]
    total: float
    cost: CostEstimate
    over_budget: bool | None  # None: cost unknown, or only a floor below the budget (may exceed it)
    tasks: tuple[str, ...]
    deployment_index: int = 0
    risks: tuple[str, ...] = ()
    # Totals if unknowns turned out at their best: `best_case_total` for missing quality evidence
    # (only a pilot can settle it, so a lead it could close is reported as a tie), `confirmed_total`
    # for unknown vendor facts (SOC 2, residency, BAA, training on prompts, SLA: a question to the
    # vendor settles them, so a lead they could close is a stated risk, not a tie).
    best_case_total: float | None = None
    unknown_quality: tuple[str, ...] = ()  # tasks without quality evidence
    confirmed_total: float | None = None
    unknown_facts: tuple[str, ...] = ()  # vendor facts that cost points, in words

    @property
    def model_id(self) -> str:
        return self.model.id

    @property
    def deployment_id(self) -> str:
        return self.deployment.id

    @property
    def cost_is_floor(self) -> bool:
        return self.cost.low is not None and self.cost.high is None


def rank_key(total: float) -> float:
    # Equal totals computed in different orders can differ by ~1e-14; they must tie exactly so
    # that the documented tie-break decides, not float noise.
    return round(total, 9)


def candidate_key(score: ModelScore) -> tuple:
    """The documented ranking key: total, then the cheaper option, then model id, then catalog order."""
    figure = score.cost.planning_figure
    return (-rank_key(score.total), math.inf if figure is None else round(figure, 6), score.model_id,
            score.deployment_index)


def score_deployment(model: Model, deployment: Deployment, req: Requirements, catalog: Catalog,
                     tasks: tuple[str, ...]) -> ModelScore:
    cost = estimate(model, deployment, req, catalog, tasks)
    budget, over = budget_fit(cost, req)
    factors = {
        "requirements": requirements_fit(model, deployment, req, tasks, catalog),
        "budget": budget,
        "support": support_fit(model, deployment, req),
        "security": security_fit(model, deployment, req),
        "long_term": long_term_fit(model, deployment, req),
    }
    index = next((i for i, d in enumerate(model.deployments) if d.id == deployment.id), 0)
    risk = context_risk(model, deployment, req, tasks)
    quality_best = {**factors, "requirements": requirements_fit(model, deployment, req, tasks, catalog, best_case=True)}
    facts_best = {**factors, "support": support_fit(model, deployment, req, best_case=True),
                  "security": security_fit(model, deployment, req, best_case=True)}
    return ModelScore(model, deployment, factors, weighted_total(factors, req.weights), cost, over, tasks,
                      index, (risk,) if risk else (),
                      best_case_total=weighted_total(quality_best, req.weights),
                      unknown_quality=tuple(t for t in tasks if evidence_value(evidence_of(model, t)) is None),
                      confirmed_total=weighted_total(facts_best, req.weights),
                      unknown_facts=tuple(unknown_facts(deployment, req, factors, facts_best)))


def unknown_facts(deployment: Deployment, req: Requirements, factors: dict[str, FactorScore],
                  best_factors: dict[str, FactorScore]) -> list[str]:
    """The unknown vendor facts that cost this candidate points, in words (empty when none did)."""
    found = []
    if best_factors["support"].score > factors["support"].score:
        found.append("SLA")
    if best_factors["security"].score > factors["security"].score:
        # (fact, label, lowest data-sensitivity level at which security_fit charges for it unknown)
        for key, label, level in (("trains_on_prompts", "training on prompts", 0), ("soc2", "SOC 2", 1),
                                  ("data_residency", "data residency", 2), ("hipaa_baa", "HIPAA BAA", 3)):
            if deployment.value(key) == "unknown" and req.sensitivity_level >= level:
                found.append(label)
    return found


def model_candidates(model: Model, req: Requirements, catalog: Catalog, tasks: tuple[str, ...]
                     ) -> tuple[list[ModelScore], list[str]]:
    """Every eligible deployment of a model as a scored candidate, or the reasons none is eligible."""
    candidates: list[ModelScore] = []
    reasons: list[str] = []
    for deployment in model.deployments:
        excluded = deployment_exclusions(deployment, model, req, tasks, catalog)
        if excluded:
            reasons.extend(excluded)
        else:
            candidates.append(score_deployment(model, deployment, req, catalog, tasks))
    return sorted(candidates, key=candidate_key), list(dict.fromkeys(reasons))


def best_deployment(model: Model, req: Requirements, catalog: Catalog, tasks: tuple[str, ...]
                    ) -> tuple[ModelScore | None, list[str]]:
    """Best eligible candidate of a model (by the ranking key), or the reasons none is eligible."""
    candidates, reasons = model_candidates(model, req, catalog, tasks)
    return (candidates[0], []) if candidates else (None, reasons)


def rank(scores: list[ModelScore]) -> list[ModelScore]:
    return sorted(scores, key=candidate_key)


def best_per_model(ranked: list[ModelScore]) -> dict[str, ModelScore]:
    best: dict[str, ModelScore] = {}
    for score in ranked:
        best.setdefault(score.model_id, score)
    return best
