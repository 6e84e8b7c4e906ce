"""The decision for one project: hard constraints, scored candidates, the choice (decision.choose),
the verdict, and the notes in words (decision.notes). Pure: same inputs, same decision.

Verdicts: `open-source` / `closed-source` (the pick's side), `mixed` (one pick per task, across
sides), `budget-infeasible` (no eligible option within BUDGET_STRETCH x the budget: the cheapest and
the budget it needs are named), `no-eligible-model` (hard constraints exclude every model for some
task: what relaxing each constraint would allow is named).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from modelmemo.catalog.load import Catalog
from modelmemo.inputs.requirements import Requirements
from modelmemo.decision.candidates import ModelScore, candidate_key, model_candidates
from modelmemo.decision.choose import Choice, choose, ranked_models
from modelmemo.decision.eligibility import Exclusion, deployment_exclusions, model_exclusions
from modelmemo.decision.pilot import PilotEvidence
from modelmemo.decision.policy import policy
from modelmemo.decision.quality import QualityContext
from modelmemo.decision.relax import Relaxation, affordable_relaxations, relaxations
from modelmemo.decision.separation import PilotSize, Separator, pilot_size, separator


VERDICT_LABELS = {"open-source": "Open source", "closed-source": "Closed source", "mixed": "Mixed",
                  "budget-infeasible": "Budget infeasible", "no-eligible-model": "No eligible model"}
# The requirement schema's task enum, in its order: tasks are handled in this order whatever the file's order.
TASK_ORDER = ("chat", "text-generation", "summarization", "code", "translation", "image-generation",
              "classification", "embeddings")


@dataclass(frozen=True)
class TaskPick:
    task: str
    model_id: str
    runner_up: str | None  # the first challenger for this task
    deployment_id: str = ""
    tied: tuple[str, ...] = ()
    p_best: float = 0.0


@dataclass(frozen=True)
class Decision:
    verdict: str
    recommended: str | None  # single-model recommendation (the pick's model)
    combination: tuple[TaskPick, ...]  # non-empty when no single model covers every task
    runner_up: str | None  # the first challenger
    scores: dict[str, ModelScore]  # best candidate per eligible model: the pick first, then by P(best)
    excluded: dict[str, list[Exclusion]]
    weights: dict[str, float]
    notes: tuple[str, ...] = ()
    best_open: str | None = None
    best_closed: str | None = None
    verdict_reason: str = ""
    candidates: tuple[ModelScore, ...] = ()  # every eligible candidate, most likely best first
    tied: tuple[str, ...] = ()  # models the evidence cannot separate from the pick
    separation: str = ""  # what would separate the pick from its first challenger, in words
    measured_alternative: str | None = None  # the best measured model when the pick has no evidence
    unmeasured_rivals: tuple[str, ...] = ()  # challengers without quality evidence
    challengers: tuple[str, ...] = ()
    head_to_head: dict[str, float] | None = None  # model -> P(pick beats it)
    budget_needed_usd: float | None = None  # budget-infeasible: what the cheapest option needs
    cheapest: str | None = None  # budget-infeasible: the cheapest option's model
    relax: tuple[Relaxation, ...] = ()  # no-eligible-model: what relaxing each constraint allows
    separator: Separator | None = None  # the unknown whose answer would change the ranking most
    uncovered: tuple[str, ...] = ()  # tasks no eligible model covers
    pool: tuple[str, ...] = ()  # keys of the candidates the pick was chosen from (active, within the budget stretch)
    # Sentences page 1 states besides the reason (decision.notes writes them; they are notes too):
    other_side: str = ""  # the other side as a combination, when no single model of it covers every task
    unconfirmed: str = ""  # unpublished vendor facts that could overturn the pick
    pilot_said: str = ""  # what the team's pilot measured for the pick and its challengers
    pilot: PilotEvidence | None = None  # the pilot results the decision used (None: public evidence only)
    pilot_size: PilotSize | None = None  # examples per task a pilot needs to tell the pick from its first challenger

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

    @property
    def is_tie(self) -> bool:
        return bool(self.tied) or any(p.tied for p in self.combination)

    @property
    def pick(self) -> ModelScore | None:
        return self.scores.get(self.recommended or "")

    def model_p_best(self, model_id: str) -> float:
        """A model's P(best): the sum over its offers (two routes to the same model share its chance)."""
        return round(sum(c.p_best for c in self.candidates if c.model_id == model_id), 4)


def canonical(req: Requirements) -> Requirements:
    """Tasks in the schema's order and languages sorted: the order in the file never matters."""
    tasks = tuple(sorted(req.tasks, key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER else len(TASK_ORDER), t)))
    return replace(req, tasks=tasks, languages=tuple(sorted(req.languages)))


def exclusions(req: Requirements, catalog: Catalog) -> tuple[dict[str, list[Exclusion]], list[str]]:
    """Every reason each model cannot serve the whole project (all of them, not the first), and the
    models that can (at least one offer passes)."""
    excluded: dict[str, list[Exclusion]] = {}
    eligible: list[str] = []
    for model in catalog.models.values():
        reasons = model_exclusions(model, req, catalog=catalog)
        covered = tuple(t for t in req.tasks if t in model.tasks)
        offer_reasons = [deployment_exclusions(d, model, req, covered, catalog) for d in model.deployments]
        if not reasons and any(not r for r in offer_reasons):
            eligible.append(model.id)
            continue
        if any(not r for r in offer_reasons) and reasons:
            excluded[model.id] = reasons  # an offer would pass: the model-level reasons are the whole story
        else:
            excluded[model.id] = list(dict.fromkeys(reasons + [r for rs in offer_reasons for r in rs]))
    return excluded, eligible


def decide(req: Requirements, catalog: Catalog, pilot: PilotEvidence | None = None) -> Decision:
    """Score every candidate for the project and choose. Pure: same inputs, same decision. `pilot`:
    the project's pilot results on its examples as they are (decision/pilot.py), loaded by the caller."""
    from modelmemo.decision.notes import with_words

    req = canonical(req)
    excluded, eligible_ids = exclusions(req, catalog)
    quality = QualityContext(catalog, eligible_ids or _task_eligible(req, catalog), pilot)
    candidates: list[ModelScore] = []
    for model_id in eligible_ids:
        found, _ = model_candidates(catalog.models[model_id], req, catalog, req.tasks, quality)
        candidates.extend(found)
    if candidates:
        decision = _single(req, catalog, excluded, candidates)
    else:
        decision = _combination(req, catalog, excluded, quality)
    return with_words(replace(decision, pilot=pilot), req, catalog)


def _task_eligible(req: Requirements, catalog: Catalog) -> list[str]:
    """Models eligible for at least one task alone (the peers of a combination)."""
    found = []
    for model in catalog.models.values():
        covered = tuple(t for t in req.tasks if t in model.tasks)
        if covered and not model_exclusions(model, req, check_tasks=False, catalog=catalog) and any(
                not deployment_exclusions(d, model, req, covered, catalog) for d in model.deployments):
            found.append(model.id)
    return found


def _sides(scores: list[ModelScore]) -> tuple[str | None, str | None]:
    best_open = next((s.model_id for s in scores if s.model.is_open), None)
    best_closed = next((s.model_id for s in scores if not s.model.is_open), None)
    return best_open, best_closed


def _single(req: Requirements, catalog: Catalog, excluded: dict[str, list[Exclusion]],
            candidates: list[ModelScore]) -> Decision:
    choice = choose(candidates, req.weights, req.monthly_usd, catalog.today, req.volume is not None)
    pick = choice.pick
    assert pick is not None
    scores = ranked_models(choice)
    verdict = "budget-infeasible" if choice.budget_infeasible else (
        "open-source" if pick.model.is_open else "closed-source")
    # The best of each side among the options the pick was chosen from (active, within the budget
    # stretch); only when a side has none there, among every eligible option.
    pool_best = [scores[c.model_id] for c in choice.pool if scores.get(c.model_id) is c]
    best_open, best_closed = _sides(pool_best)
    every_open, every_closed = _sides(list(scores.values()))
    best_open, best_closed = best_open or every_open, best_closed or every_closed
    challengers = tuple(c.model_id for c in choice.challengers)
    # A challenger without quality evidence that could plausibly be better: a risk a pilot settles.
    tied = {c.model_id for c in choice.tied}
    unmeasured = tuple(m for m in challengers if m not in tied and not scores[m].measured and (
        scores[m].p_best >= policy("CHALLENGER_MIN_P") or (choice.head_to_head or {}).get(m, 1.0) < 0.95))
    measured_alt = None
    if not pick.measured:
        measured_alt = next((s.model_id for s in scores.values() if s.measured and s is not pick), None)
    first = scores.get(challengers[0]) if challengers else None
    return Decision(
        verdict=verdict,
        recommended=pick.model_id,
        combination=(),
        runner_up=challengers[0] if challengers else None,
        scores=scores,
        excluded=excluded,
        weights=dict(req.weights),
        best_open=best_open,
        best_closed=best_closed,
        candidates=choice.ranked,
        tied=tuple(c.model_id for c in choice.tied),
        challengers=challengers,
        head_to_head=choice.head_to_head,
        measured_alternative=measured_alt,
        unmeasured_rivals=unmeasured,
        budget_needed_usd=_needed(choice),
        cheapest=choice.cheapest.model_id if choice.cheapest else None,
        separator=separator(pick, first, req.weights) if first else None,
        pilot_size=pilot_size(pick, first, req.weights) if first else None,
        pool=tuple(c.key for c in choice.pool),
        relax=tuple(affordable_relaxations(req, catalog, policy("BUDGET_STRETCH") * req.monthly_usd))
        if choice.budget_infeasible else (),
    )


def _needed(choice: Choice) -> float | None:
    if not choice.budget_infeasible or choice.cheapest is None:
        return None
    figure = choice.cheapest.cost.planning_figure
    return None if figure is None else round(figure, 2)


def _combination(req: Requirements, catalog: Catalog, excluded: dict[str, list[Exclusion]],
                 quality: QualityContext) -> Decision:
    """No single model covers every task: the same choice for each task alone."""
    per_task: dict[str, Choice] = {}
    all_candidates: list[ModelScore] = []
    for task in req.tasks:
        found: list[ModelScore] = []
        for model in catalog.models.values():
            if task not in model.tasks or model_exclusions(model, req, check_tasks=False, catalog=catalog):
                continue
            found.extend(model_candidates(model, req, catalog, (task,), quality)[0])
        if found:
            per_task[task] = choose(found, req.weights, req.monthly_usd, catalog.today, req.volume is not None)
            all_candidates.extend(per_task[task].ranked)
    uncovered = tuple(t for t in req.tasks if t not in per_task)
    scores: dict[str, ModelScore] = {}
    picks: list[TaskPick] = []
    for task, choice in per_task.items():
        pick = choice.pick
        assert pick is not None
        scores.setdefault(pick.model_id, pick)
        picks.append(TaskPick(task, pick.model_id, choice.challengers[0].model_id if choice.challengers else None,
                              pick.deployment_id, tuple(c.model_id for c in choice.tied), pick.p_best))
    for choice in per_task.values():
        for c in choice.ranked:
            scores.setdefault(c.model_id, c)
    ranked = tuple(sorted(all_candidates, key=lambda c: (-c.p_best, candidate_key(c))))
    best_open, best_closed = _sides(list(scores.values()))
    if uncovered or not picks:
        verdict = "no-eligible-model"
    elif any(c.budget_infeasible for c in per_task.values()):
        verdict = "budget-infeasible"
    else:
        sides = {scores[p.model_id].model.is_open for p in picks}
        verdict = "mixed" if len(sides) > 1 else ("open-source" if sides == {True} else "closed-source")
    needed = None
    if verdict == "budget-infeasible":
        figures = [min((c.cost.low for c in ch.pool if c.cost.known), default=None) for ch in per_task.values()]
        needed = round(sum(f for f in figures if f is not None), 2)
    return Decision(
        verdict=verdict,
        recommended=None,
        combination=tuple(picks) if not uncovered else (),
        runner_up=None,
        scores=scores if not uncovered else {},
        excluded={k: v for k, v in excluded.items() if k not in scores or uncovered},
        weights=dict(req.weights),
        best_open=best_open if not uncovered else None,
        best_closed=best_closed if not uncovered else None,
        candidates=ranked if not uncovered else (),
        tied=tuple(dict.fromkeys(m for p in picks for m in p.tied)) if not uncovered else (),
        budget_needed_usd=needed,
        relax=tuple(relaxations(req, catalog, excluded)) if verdict == "no-eligible-model" else (),
        uncovered=uncovered,
    )
