"""The decision for one project: hard constraints, candidates, the verdict, the pick (or the tie, or
one pick per task), the runner-up and the notes a reader must see. Pure: same inputs, same decision.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from modelmemo.catalog.load import Catalog
from modelmemo.inputs.requirements import Requirements
from modelmemo.settings import CLOSE_CALL_MARGIN
from modelmemo.decision.candidates import ModelScore, best_per_model, model_candidates, rank, rank_key
from modelmemo.decision.eligibility import model_exclusions
from modelmemo.decision.quality import UNKNOWN_QUALITY
from modelmemo.decision.lifecycle import deprecation_words, is_deprecated
from modelmemo.decision.ties import TIE_MARGIN, rests_on_missing_evidence, separation, tie_reason, ties_with
from modelmemo.decision.words import join_and, task_label, task_names


DEPRECATED_NOTE = "Deprecated pick:"
UNMEASURED_NOTE = "Unmeasured quality could change the pick:"
UNMEASURED_PICK_NOTE = "Pick without quality evidence:"
VERDICT_LABELS = {"open-source": "Open source", "closed-source": "Closed source", "close-call": "Close call"}
# The requirement schema's task enum, in its order: tasks are handled in this order whatever the file's order.
TASK_ORDER = ("chat", "text-generation", "summarization", "code", "translation", "image-generation",
              "classification", "embeddings")


@dataclass(frozen=True)
class TaskPick:
    task: str
    model_id: str
    runner_up: str | None
    deployment_id: str = ""
    tied: tuple[str, ...] = ()
    runner_up_tied: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    verdict: str
    recommended: str | None  # single-model recommendation (the top candidate's model)
    combination: tuple[TaskPick, ...]  # non-empty when no single model covers every task
    runner_up: str | None
    scores: dict[str, ModelScore]  # best candidate per eligible model, ranked
    excluded: dict[str, list[str]]
    weights: dict[str, float]
    notes: tuple[str, ...] = ()
    best_open: str | None = None
    best_closed: str | None = None
    verdict_reason: str = ""
    candidates: tuple[ModelScore, ...] = ()  # every eligible candidate, ranked
    tied: tuple[str, ...] = ()  # model ids tied with the top pick
    runner_up_tied: tuple[str, ...] = ()  # model ids tied with the runner-up (not with the top)
    separation: str = ""  # what would separate a tie
    tie_reasons: tuple[str, ...] = ()  # why each tied model is tied with the top pick (ties.tie_reason)
    # Missing quality evidence (never a tie, a risk and a pilot member): the best model with measured
    # quality when the pick has none, and the models that would come level or ahead at the best
    # peer's level, strongest first.
    measured_alternative: str | None = None
    unmeasured_rivals: tuple[str, ...] = ()

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


def side_combination(req: Requirements, catalog: Catalog, is_open: bool) -> list[ModelScore] | None:
    """The best candidate per task among models of one openness (each scored on its task alone),
    or None when that side cannot cover every task."""
    picks = []
    for task in req.tasks:
        found: list[ModelScore] = []
        for model in catalog.models.values():
            if model.is_open != is_open or task not in model.tasks or model_exclusions(model, req, check_tasks=False):
                continue
            found.extend(model_candidates(model, req, catalog, (task,))[0])
        if not found:
            return None
        picks.append(rank(prefer_active(found, catalog))[0])
    return picks


def _other_side_note(req: Requirements, catalog: Catalog, models: list[ModelScore]) -> str:
    """When every single-model candidate is of one openness, say whether the other side could still
    serve the project as a combination of models (one per task)."""
    sides = {s.model.is_open for s in models}
    if len(sides) != 1 or len(req.tasks) < 2:
        return ""
    other_open = not sides.pop()
    picks = side_combination(req, catalog, other_open)
    side = "open-source" if other_open else "closed-source"
    if picks is None or len({p.model_id for p in picks}) < 2:
        return ""
    parts = ", ".join(f"{p.model.name} for {task_label(p.tasks[0])} ({p.total:.1f} on that task alone, {p.cost.label()})"
                      for p in picks)
    article = "an" if other_open else "a"
    return (f"No single {side} model covers every task, but {article} {side} combination does: {parts}. It means "
            "running and paying for several models; scores on one task are not comparable with the "
            "single-model totals above.")


def canonical(req: Requirements) -> Requirements:
    """Tasks in the schema's order and languages sorted: the order in the file never matters."""
    tasks = tuple(sorted(req.tasks, key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER else len(TASK_ORDER), t)))
    return replace(req, tasks=tasks, languages=tuple(sorted(req.languages)))


def _why_one_side_is_out(is_open: bool, req: Requirements, catalog: Catalog, excluded: dict[str, list[str]]) -> str:
    """Page 1 says "only open-source models meet the hard constraints": name the constraint. When
    models of that side cover the tasks, the hard constraints all of them fail are named (else
    the exclusions list is pointed to); when none covers them, the tasks nobody on that side
    covers are named."""
    side = "open-source" if is_open else "closed-source"
    covering = {m: reasons for m, reasons in excluded.items() if catalog.models[m].is_open == is_open
                and all(t in catalog.models[m].tasks for t in req.tasks)}
    if not covering:
        side_models = [m for m in catalog.models.values() if m.is_open == is_open]
        uncovered = [t for t in req.tasks if not any(t in m.tasks for m in side_models)]
        return f" No {side} model covers {join_and([task_label(t) for t in uncovered])}." if uncovered else ""
    # What every one of them fails, compared without the per-model detail in brackets.
    first, *others = ([r.split(" (")[0] for r in reasons] for reasons in covering.values())
    shared = [r for r in first if all(r in reasons for reasons in others)]
    tasks = join_and([task_label(t) for t in req.tasks])
    are = "are" if len(covering) > 1 else "is"
    subject = (f"{join_and([catalog.models[m].name for m in covering])} ({side}, covering {tasks}) {are} excluded"
               if len(covering) <= 3 else f"All {len(covering)} {side} models covering {tasks} are excluded")
    return f" {subject}: {'; '.join(shared)}." if shared else f" {subject}, for the reasons under Excluded models."


def decide(req: Requirements, catalog: Catalog) -> Decision:
    """Score every candidate for the project and choose. Pure: same inputs, same decision."""
    req = canonical(req)
    excluded: dict[str, list[str]] = {}
    eligible: list[ModelScore] = []
    for model in catalog.models.values():
        reasons = model_exclusions(model, req, catalog=catalog)
        if not reasons:
            candidates, reasons = model_candidates(model, req, catalog, req.tasks)
            if candidates:
                eligible.extend(candidates)
                continue
        excluded[model.id] = reasons
    kept = prefer_active(eligible, catalog)
    for model_id in dict.fromkeys(c.model_id for c in eligible if c not in kept):
        if not any(c.model_id == model_id for c in kept):  # only deprecated offers: say why it is out
            dropped = next(c for c in eligible if c.model_id == model_id)
            excluded[model_id] = [f"{deprecation_words(dropped.deployment, catalog)}; an active offer fits instead"]
    eligible = kept
    ranked = rank(eligible)
    if ranked:
        best = best_per_model(ranked)
        models = list(best.values())
        top = models[0]
        tied = ties_with(models, top, catalog, set())
        rest = [s for s in models[1:] if s not in tied]
        runner = rest[0] if rest else None
        runner_tied = ties_with(rest[1:], runner, catalog, set()) if runner else []
        verdict, best_open, best_closed, reason = _verdict(models)
        if best_open is None or best_closed is None:
            reason += _why_one_side_is_out(best_open is None, req, catalog, excluded)
        if tied:  # never name an order-decided winner: the tie is the best
            group = [top, *tied]
            totals = ", ".join(f"{s.total:.1f}" for s in group)
            reason = reason.replace(f"the best is {top.model.name} ({top.total:.1f})",
                                    f"the best are {join_and([s.model.name for s in group])}, tied ({totals})")
        decision = Decision(
            verdict=verdict,
            recommended=top.model_id,
            combination=(),
            runner_up=runner.model_id if runner else None,
            scores=best,
            excluded=excluded,
            weights=dict(req.weights),
            best_open=best_open,
            best_closed=best_closed,
            verdict_reason=reason,
            candidates=tuple(ranked),
            tied=tuple(s.model_id for s in tied),
            runner_up_tied=tuple(s.model_id for s in runner_tied),
            separation=separation([top, *tied]),
            tie_reasons=tuple(tie_reason(top, s, catalog) for s in tied),
        )
        if any(s.model.is_open != top.model.is_open for s in tied):
            # A tie across the open/closed line is no verdict for either side.
            sides = join_and([f"{s.model.name} ({'open' if s.model.is_open else 'closed'} source)" for s in [top, *tied]])
            decision = replace(decision, verdict="close-call",
                               verdict_reason=f"{sides} are tied, so neither side wins: pilot both.")
    else:
        decision = _combination(req, catalog, excluded)
    decision = _with_unmeasured(decision)
    notes = (_tie_notes(decision) + _unmeasured_notes(decision) + _unconfirmed_notes(decision)
             + _retired_notes(req, catalog, decision) + _deprecated_notes(decision, catalog))
    if not decision.combination and decision.scores:
        other_side = _other_side_note(req, catalog, list(decision.scores.values()))
        if other_side:
            notes.append(other_side)
            decision = replace(decision, verdict_reason=decision.verdict_reason.replace(
                "models meet the hard constraints", "models cover every task in one model"))
    if notes:
        decision = replace(decision, notes=tuple(notes))
    return decision


def _combination(req: Requirements, catalog: Catalog, excluded: dict[str, list[str]]) -> Decision:
    """No single model covers every task: pick the best eligible candidate per task."""
    candidates: list[ModelScore] = []
    for model in catalog.models.values():
        if model_exclusions(model, req, check_tasks=False):
            continue
        covered = tuple(t for t in req.tasks if t in model.tasks)
        if not covered:
            continue
        found, _ = model_candidates(model, req, catalog, covered)
        candidates.extend(prefer_active(found, catalog))  # a model's deprecated route only if it has no other
    ranked_all = rank(candidates)
    per_model = best_per_model(ranked_all)
    picks: list[TaskPick] = []
    separations: list[str] = []
    for task in req.tasks:
        ranked = prefer_active([s for s in per_model.values() if task in s.tasks], catalog)
        if not ranked:
            continue
        top = ranked[0]
        tied = ties_with(ranked, top, catalog, set())
        rest = [s for s in ranked[1:] if s not in tied]
        runner = rest[0] if rest else None
        runner_tied = ties_with(rest[1:], runner, catalog, set()) if runner else []
        picks.append(TaskPick(task, top.model_id, runner.model_id if runner else None, top.deployment_id,
                              tuple(s.model_id for s in tied), tuple(s.model_id for s in runner_tied)))
        if tied:
            separations.append(f"for {task_label(task)}: " + separation([top, *tied]))
    chosen = {pick.model_id for pick in picks}
    openness = {per_model[m].model.is_open for m in chosen}
    uncovered = [t for t in req.tasks if t not in {p.task for p in picks}]
    names = ", ".join(f"{join_and([per_model[m].model.name for m in (p.model_id, *p.tied)])}"
                      f"{' (tied)' if p.tied else ''} for {task_label(p.task)}" for p in picks)
    if not picks:
        verdict, reason = "close-call", "No model in the catalog meets every hard constraint."
    elif uncovered:
        verdict = "close-call"
        reason = (f"No eligible model covers {task_names(uncovered)}; the best available combination is {names}.")
    elif openness == {True}:
        verdict, reason = "open-source", f"No single model covers every task; all picks are open-source: {names}."
    elif openness == {False}:
        verdict, reason = "closed-source", f"No single model covers every task; all picks are closed-source: {names}."
    else:
        verdict = "close-call"
        reason = f"No single model covers every task; the combination mixes open- and closed-source models: {names}."
    _, best_open, best_closed, _ = _verdict(list(per_model.values()))
    tied_all = tuple(dict.fromkeys(m for p in picks for m in p.tied if m not in chosen))
    return Decision(
        verdict=verdict,
        recommended=None,
        combination=tuple(picks),
        runner_up=None,
        scores=per_model,
        excluded={k: v for k, v in excluded.items() if k not in per_model},
        weights=dict(req.weights),
        best_open=best_open,
        best_closed=best_closed,
        verdict_reason=reason,
        candidates=tuple(ranked_all),
        tied=tied_all,
        separation="; ".join(separations),
    )


def prefer_active(candidates: list[ModelScore], catalog: Catalog) -> list[ModelScore]:
    """Deprecated offers only when no active one fits."""
    active = [c for c in candidates if not is_deprecated(c.deployment, catalog.today)]
    return active or candidates


def _deprecated_notes(decision: Decision, catalog: Catalog) -> list[str]:
    """A deprecated pick (nothing active fits): its date and successor, said where the reader looks."""
    notes = []
    for model_id in dict.fromkeys(decision.recommended_ids + list(decision.tied)):
        score = decision.scores.get(model_id)
        if score is not None and is_deprecated(score.deployment, catalog.today):
            notes.append(f"{DEPRECATED_NOTE} {score.model.name} via {score.deployment.provider} is "
                         f"{deprecation_words(score.deployment, catalog)}. Nothing active meets the hard "
                         "constraints; plan the move before that date.")
    return notes


def _tie_notes(decision: Decision) -> list[str]:
    """Call out ties at the top: the order between them is not a real preference."""
    notes = []
    if decision.tied and not decision.combination:
        top = decision.scores[decision.recommended]
        tied = [decision.scores[m] for m in decision.tied]
        names = join_and([top.model.name] + [s.model.name for s in tied])
        totals = ", ".join(f"{s.total:.1f}" for s in [top, *tied])
        reasons = "; ".join(dict.fromkeys(decision.tie_reasons)) or "within the tie margin"
        notes.append(f"Tie: {names} ({totals}): {reasons}; pilot both. "
                     f"What would separate them: {decision.separation}.")
    for pick in decision.combination:
        if pick.tied:
            names = join_and([decision.scores[m].model.name for m in (pick.model_id, *pick.tied)])
            notes.append(f"Tie for {task_label(pick.task)}: {names}; pilot both.")
    if decision.runner_up_tied:
        names = join_and([decision.scores[m].model.name for m in (decision.runner_up, *decision.runner_up_tied)])
        notes.append(f"The runner-up is a tie: {names}.")
    return notes


def _with_unmeasured(decision: Decision) -> Decision:
    """The decision with its missing-quality-evidence picture (Decision.measured_alternative and
    unmeasured_rivals): what the notes say and what the pilot includes."""
    if decision.combination or decision.recommended is None:
        return decision
    top = decision.scores[decision.recommended]
    measured = (next((s.model_id for s in decision.scores.values() if not s.unknown_quality), None)
                if top.unknown_quality else None)
    tied = set(decision.tied)
    rivals = [s for s in decision.scores.values()
              if s is not top and s.model_id not in tied and s.unknown_quality and rests_on_missing_evidence(top, s)]
    rivals.sort(key=lambda s: (-rank_key(s.best_case_total), s.model_id))
    return replace(decision, measured_alternative=measured, unmeasured_rivals=tuple(s.model_id for s in rivals))


def _unmeasured_notes(decision: Decision) -> list[str]:
    """A pick without quality evidence, and models whose missing evidence could put them first:
    risks a pilot settles, each stated once (the rivals led by the strongest), never a co-pick."""
    notes = []
    if decision.combination or decision.recommended is None:
        return notes
    top = decision.scores[decision.recommended]
    if top.unknown_quality:
        measured = decision.scores.get(decision.measured_alternative or "")
        against = (f" Pilot it against {measured.model.name} ({measured.total:.1f}), the best option with "
                   "measured quality, before committing." if measured else " Pilot it before committing.")
        notes.append(f"{UNMEASURED_PICK_NOTE} {top.model.name} has no published quality score for "
                     f"{join_and([task_label(t) for t in top.unknown_quality])}; it is scored a conservative "
                     f"{UNKNOWN_QUALITY:g} there and leads on its other factors.{against}")
    if decision.unmeasured_rivals:
        first, *more = (decision.scores[m] for m in decision.unmeasured_rivals)
        also = f" {join_and([f'{s.model.name} ({s.best_case_total:.1f})' for s in more])} could too." if more else ""
        notes.append(f"{UNMEASURED_NOTE} {first.model.name} has no published quality score for "
                     f"{join_and([task_label(t) for t in first.unknown_quality])}, so it is scored conservatively "
                     f"({first.total:.1f}); at the best peer's level it would reach {first.best_case_total:.1f} vs "
                     f"{top.model.name}'s {top.total:.1f}.{also} Include it in the pilot if its cost or terms "
                     "appeal; measured results on your own tasks decide.")
    return notes


def _unconfirmed_notes(decision: Decision) -> list[str]:
    """A lead that unknown vendor facts could overturn: a question to the vendors, stated as a risk.

    Facts are compared with every vendor's unknowns confirmed at their best (the pick's too), so a
    fact nobody has published (often the SLA) does not favour anyone."""
    if decision.combination or decision.recommended is None:
        return []
    top = decision.scores[decision.recommended]
    if top.confirmed_total is None:
        return []
    tied = set(decision.tied)
    overtakers = [s for s in decision.scores.values()
                  if s is not top and s.model_id not in tied and s.unknown_facts and s.confirmed_total is not None
                  and rank_key(s.confirmed_total) >= rank_key(top.confirmed_total) - TIE_MARGIN - 1e-9]
    if not overtakers:
        return []
    # One risk, led by the strongest: two risks each saying "X would lead" (then "Y would lead") in
    # the same confirmed world read as a contradiction. The others are named in the same sentence.
    other, *more = sorted(overtakers, key=lambda s: -rank_key(s.confirmed_total))
    outcome = ("lead" if rank_key(other.confirmed_total) > rank_key(top.confirmed_total) + TIE_MARGIN + 1e-9
               else "tie")
    ours = f"; {join_and(list(top.unknown_facts))} unknown for it too" if top.unknown_facts else ""
    also = (f" {join_and([f'{s.model.name} ({s.confirmed_total:.1f})' for s in more])} would also come level "
            f"or ahead" if more else "")
    # Who publishes the missing facts: the offer's provider (Groq for a hosted Llama, not Meta).
    vendors = join_and(list(dict.fromkeys(s.deployment.provider.split(" (")[0] for s in (other, *more))))
    return [f"Unconfirmed facts could change the pick: {other.deployment.provider} has not published "
            f"its {join_and(list(other.unknown_facts))} for this offer. If every vendor's unknown facts "
            f"were confirmed, {other.model.name} would score {other.confirmed_total:.1f} (now "
            f"{other.total:.1f}) vs {top.model.name}'s {top.confirmed_total:.1f} (now {top.total:.1f}{ours}) "
            f"and {outcome}.{also + '.' if also else ''} Ask {vendors} before you decide."]


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
