"""Candidates: every eligible (model, deployment option) pair, scored on the five factors and ranked.

Ranking key (README "Methodology", 2): higher total first, then the cheaper monthly planning figure
(unknown cost last), then model id, then the deployment's position in the catalog. The key orders
lists; the choice itself is made on probabilities (decision.choose).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelmemo.catalog.load import Catalog, Deployment, Model
from modelmemo.inputs.requirements import FACTORS, Requirements
from modelmemo.decision.costs import CostEstimate, estimate
from modelmemo.decision.eligibility import context_risk, deployment_exclusions
from modelmemo.decision.factors import (FactorScore, Unknown, budget_fit, long_term_fit, requirements_fit, security_fit,
                                        support_fit, task_qualities, weighted_interval, weighted_total)
from modelmemo.decision.quality import QualityContext, TaskQuality


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
    interval: tuple[float, float] = (0.0, 0.0)  # the total with every unknown at its worst and its best
    evidence: tuple[TaskQuality, ...] = ()  # quality evidence per task
    p_best: float = 0.0  # probability of being the best candidate (decision.uncertainty), set by decide

    @property
    def model_id(self) -> str:
        return self.model.id

    @property
    def deployment_id(self) -> str:
        return self.deployment.id

    @property
    def key(self) -> str:
        """Stable identity of the candidate (its random draws are seeded with it)."""
        return f"{self.model.id}/{self.deployment.id}/{','.join(self.tasks)}"

    @property
    def model_key(self) -> str:
        """What the model's own factors are drawn under: two offers of one model share its quality."""
        return f"{self.model.id}/{','.join(self.tasks)}"

    @property
    def cost_is_floor(self) -> bool:
        return self.cost.low is not None and self.cost.high is None

    @property
    def unknown_quality(self) -> tuple[str, ...]:
        """Tasks without quality evidence."""
        return tuple(q.task for q in self.evidence if q.kind == "unknown")

    @property
    def measured(self) -> bool:
        """Quality evidence on every task (a proxy counts)."""
        return not self.unknown_quality

    @property
    def measured_itself(self) -> bool:
        """Its own measurement on every task, public or on the team's examples (no proxy, no gap)."""
        return all(q.kind in ("measured", "pilot") for q in self.evidence)

    @property
    def unknowns(self) -> tuple[Unknown, ...]:
        return tuple(u for f in FACTORS for u in self.factors[f].unknowns)

    def swing(self, unknown: Unknown, weights: dict[str, float]) -> float:
        """Total points an unknown can move this candidate."""
        return unknown.swing * weights[unknown.factor] / sum(weights[f] for f in FACTORS)


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
                     tasks: tuple[str, ...], quality: QualityContext | None = None) -> ModelScore:
    quality = quality or QualityContext(catalog)
    cost = estimate(model, deployment, req, catalog, tasks)
    budget, over = budget_fit(cost, req)
    qualities = task_qualities(model, tasks, quality, deployment.id)
    factors = {
        "requirements": requirements_fit(model, req, tasks, qualities),
        "budget": budget,
        "support": support_fit(model, deployment, req),
        "security": security_fit(model, deployment, req),
        "long_term": long_term_fit(model, deployment, req),
    }
    index = next((i for i, d in enumerate(model.deployments) if d.id == deployment.id), 0)
    risk = context_risk(model, deployment, req, tasks)
    return ModelScore(model, deployment, factors, weighted_total(factors, req.weights), cost, over, tasks,
                      index, (risk,) if risk else (), weighted_interval(factors, req.weights), tuple(qualities))


def model_candidates(model: Model, req: Requirements, catalog: Catalog, tasks: tuple[str, ...],
                     quality: QualityContext | None = None) -> tuple[list[ModelScore], list[str]]:
    """Every eligible deployment of a model as a scored candidate, or the reasons none is eligible."""
    candidates: list[ModelScore] = []
    reasons: list[str] = []
    for deployment in model.deployments:
        excluded = deployment_exclusions(deployment, model, req, tasks, catalog)
        if excluded:
            reasons.extend(excluded)
        else:
            candidates.append(score_deployment(model, deployment, req, catalog, tasks, quality))
    return sorted(candidates, key=candidate_key), list(dict.fromkeys(reasons))


def rank(scores: list[ModelScore]) -> list[ModelScore]:
    return sorted(scores, key=candidate_key)
