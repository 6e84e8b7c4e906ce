"""The decision in words, written last from its typed results: the verdict's reason and the notes a
reader must see. No other module writes or edits these sentences."""

from __future__ import annotations

from dataclasses import replace

from modelmemo.catalog.load import Catalog
from modelmemo.inputs.requirements import Requirements
from modelmemo.decision.candidates import ModelScore, model_candidates
from modelmemo.decision.costs import usd
from modelmemo.decision.decide import Decision
from modelmemo.decision.eligibility import model_exclusions
from modelmemo.decision.lifecycle import deprecation_words, is_deprecated
from modelmemo.decision.pilot import (PilotEvidence, examples_split, on_route, reading_words, route_words,
                                      scale_words)
from modelmemo.decision.policy import policy
from modelmemo.decision.quality import QualityContext
from modelmemo.decision.relax import field_words
from modelmemo.decision.words import join_and, task_label, task_names

def _side(score: ModelScore) -> str:
    return "open-source" if score.model.is_open else "closed-source"


def _interval(score: ModelScore) -> str:
    low, high = score.interval
    return f"{score.total:.1f} ({low:.1f}–{high:.1f})"  # an en dash: "0.0-0.0" would read as a negative zero


def smaller_scope(req: Requirements, cheapest: ModelScore) -> str:
    """What the budget buys of the cheapest option: hosted prices scale with volume, GPU time does not."""
    figure = cheapest.cost.planning_figure
    if not figure or req.monthly_usd <= 0 or req.volume is None:
        return ""
    share = req.monthly_usd / figure
    if not cheapest.deployment.is_api:
        return (" Its cost is mostly fixed (reserved GPU time and operations), which a smaller volume does not "
                "reduce; a smaller GPU or a hosted route would.")
    parts = []
    if req.volume.requests_per_month:
        parts.append(f"about {int(req.volume.requests_per_month * share):,} requests a month")
    if req.volume.images_per_month:
        parts.append(f"about {int(req.volume.images_per_month * share):,} images a month")
    if not parts:
        return ""
    return f" At {usd(req.monthly_usd)}/month it would serve {join_and(parts)} ({share:.0%} of the stated volume)."


def _reason(d: Decision, req: Requirements, catalog: Catalog) -> str:
    if d.verdict == "no-eligible-model":
        where = f" for {task_names(d.uncovered)}" if d.uncovered else ""
        text = f"No catalog model meets every hard constraint{where}."
        if d.relax:
            if " + " in d.relax[0].constraint:
                text += " No single constraint, relaxed alone, lets a model in; two together do."
            text += " " + " ".join(
                f"Relaxing {field_words(r.constraint)} (`{r.constraint.split(' + ')[0]}`) to {r.change} would allow "
                f"{join_and([catalog.models[m].name for m in r.allows[:4]])}"
                + (f" and {len(r.allows) - 4} more" if len(r.allows) > 4 else "") + "." for r in d.relax)
        else:
            text += " No single constraint, relaxed alone, would let a model in; see Excluded models."
        return text
    if d.combination:
        parts = ", ".join(f"{d.scores[p.model_id].model.name} for {task_label(p.task)}" for p in d.combination)
        sides = {_side(d.scores[p.model_id]) for p in d.combination}
        lead = ("No single model covers every task; the picks mix open- and closed-source models: " if len(sides) > 1
                else f"No single model covers every task; all picks are {sides.pop()}: ")
        text = lead + parts + "."
        if d.verdict == "budget-infeasible":
            text += (f" Together they need at least {usd(d.budget_needed_usd)}/month, over "
                     f"{policy('BUDGET_STRETCH'):g}x the {usd(req.monthly_usd)}/month budget.")
        return text
    pick = d.scores[d.recommended]
    pick_open = pick.model.is_open
    other_word = "closed" if pick_open else "open"
    one_side = "" if (d.best_closed if pick_open else d.best_open) else (
        f" No single {other_word}-source model covers every task; see Other side." if d.other_side else
        f" No {other_word}-source model meets the hard constraints."
        + why_one_side_is_out(not pick_open, req, catalog, d.excluded))
    if d.verdict == "budget-infeasible":
        cheapest = d.scores.get(d.cheapest or "")
        assert cheapest is not None
        needed = d.budget_needed_usd or 0
        times = f" ({needed / req.monthly_usd:.1f}x)" if req.monthly_usd > 0 else ""
        text = (f"No eligible option fits within {policy('BUDGET_STRETCH'):g}x the {usd(req.monthly_usd)}/month "
                f"budget: the cheapest, {cheapest.model.name} via {cheapest.deployment.provider}, needs "
                f"{usd(needed)}/month{times}.{smaller_scope(req, cheapest)}")
        text += "".join(f" Relaxing {field_words(r.constraint)} (`{r.constraint}`) to {r.change} would allow "
                        f"{r.cheapest}." for r in d.relax[:2])
        strongest = d.candidates[0] if d.candidates else None
        cheapest_figure = cheapest.cost.planning_figure or 0
        if strongest is not None and strongest.model_id != cheapest.model_id and (
                strongest.cost.planning_figure is None or strongest.cost.planning_figure > 1.1 * cheapest_figure):
            text += (f" With more budget, {strongest.model.name} is the strongest option "
                     f"({strongest.cost.label()}, P(best) {d.model_p_best(strongest.model_id):.2f}).")
        return text
    text = (f"{pick.model.name} is the pick: P(best) {d.model_p_best(pick.model_id):.2f}, "
            f"total {_interval(pick)}.")
    challenger = d.scores.get(d.runner_up or "")
    if challenger is not None and d.head_to_head and d.runner_up in d.head_to_head:
        text += (f" It beats {challenger.model.name} ({_interval(challenger)}) in "
                 f"{d.head_to_head[d.runner_up]:.0%} of draws over their intervals.")
        if challenger.total > pick.total + 0.05:
            why = ("rests on a proxy (another model's score)" if any(q.kind == "proxy" for q in challenger.evidence)
                   else "rests on unmeasured quality" if not challenger.measured else "is within its wider range")
            text += (f" {challenger.model.name}'s {challenger.total - pick.total:.1f}-point lead on the point scores "
                     f"{why}, so {pick.model.name} comes out ahead more often.")
    other_id = d.best_closed if pick.model.is_open else d.best_open
    other = d.scores.get(other_id or "")
    if other is None:
        text += one_side
    elif other.model_id != (challenger.model_id if challenger else None):
        text += (f" Best {_side(other)} option: {other.model.name}, {_interval(other)}, "
                 f"P(best) {d.model_p_best(other.model_id):.2f}.")
    return text


def why_one_side_is_out(is_open: bool, req: Requirements, catalog: Catalog, excluded: dict) -> str:
    """Which constraint rules out every model of one side: the hard constraints all of that side's
    models covering the tasks fail (else the exclusions list is pointed to); when none covers them,
    the tasks nobody on that side covers."""
    side = "open-source" if is_open else "closed-source"
    covering = {m: reasons for m, reasons in excluded.items() if catalog.models[m].is_open == is_open
                and all(t in catalog.models[m].tasks for t in req.tasks)}
    if not covering:
        side_models = [m for m in catalog.models.values() if m.is_open == is_open]
        uncovered = [t for t in req.tasks if not any(t in m.tasks for m in side_models)]
        return f" No {side} model covers {join_and([task_label(t) for t in uncovered])}." if uncovered else ""
    # What every one of them fails, compared without the per-model detail in brackets.
    first, *others = ([str(r).split(" (")[0] for r in reasons] for reasons in covering.values())
    shared = list(dict.fromkeys(r for r in first if all(r in reasons for reasons in others)))
    tasks = join_and([task_label(t) for t in req.tasks])
    are = "are" if len(covering) > 1 else "is"
    subject = (f"{join_and([catalog.models[m].name for m in covering])} ({side}, covering {tasks}) {are} excluded"
               if len(covering) <= 3 else f"All {len(covering)} {side} models covering {tasks} are excluded")
    return f" {subject}: {'; '.join(shared)}." if shared else f" {subject}, for the reasons under Excluded models."


def _separation(d: Decision, catalog: Catalog) -> str:
    s = d.separator
    if s is None:
        return ""
    name = catalog.models[s.model].name
    if abs(s.gap) < 0.05:
        against = "and the two are level on points"
    else:
        flip = "enough to change the order" if s.could_flip else "not enough alone to change the order"
        against = f"against a difference of {abs(s.gap):.1f} points, {flip}"
    return (f"{name}'s {s.label} ({s.state}; it moves {name}'s total by up to {s.swing:.1f} points, {against}); "
            f"{s.settled_by} settles it")


def _start_with(d: Decision) -> str:
    """In a tie, which to start with and why."""
    pick = d.scores[d.recommended]
    tied = [d.scores[m] for m in d.tied]
    cheaper = all(pick.cost.planning_figure is not None and (t.cost.planning_figure is None
                  or pick.cost.planning_figure < t.cost.planning_figure - 0.005) for t in tied)
    if cheaper:
        return f"Start with {pick.model.name}: it is cheaper ({pick.cost.label()})."
    if all((d.head_to_head or {}).get(t.model_id, 0.5) >= 0.52 for t in tied):
        return (f"Start with {pick.model.name}: it comes out ahead slightly more often "
                f"({join_and([format((d.head_to_head or {})[t.model_id], '.0%') for t in tied])} of draws).")
    return ("Start with whichever your team can reach soonest: neither the evidence nor the cost prefers one.")


def _notes(d: Decision, req: Requirements, catalog: Catalog) -> list[str]:
    notes: list[str] = [d.pilot_said] if d.pilot_said else []
    if d.combination or d.recommended is None:
        for p in d.combination:
            if p.tied:
                names = join_and([d.scores[m].model.name for m in (p.model_id, *p.tied)])
                notes.append(f"Tie for {task_label(p.task)}: {names}; the evidence cannot separate them. Start with "
                             f"{d.scores[p.model_id].model.name}.")
        return notes + _retired(req, catalog, d)
    pick = d.scores[d.recommended]
    if d.tied:
        names = join_and([pick.model.name] + [d.scores[m].model.name for m in d.tied])
        odds = ", ".join(f"{d.scores[m].model.name} in {d.head_to_head[m]:.0%}" for m in d.tied)
        separation = _separation(d, catalog)
        notes.append(f"Tie: the evidence cannot separate {names} ({pick.model.name} beats {odds} of draws). "
                     f"{_start_with(d)}" + (f" What would separate them: {separation}." if separation else ""))
    if not pick.measured:
        measured = d.scores.get(d.measured_alternative or "")
        against = (f" Pilot it against {measured.model.name} ({measured.total:.1f}), the best option with "
                   "measured quality, before committing." if measured
                   else " No eligible option has one; pilot it before committing.")
        notes.append(f"Pick without quality evidence: {pick.model.name} has no published quality score for "
                     f"{task_names(pick.unknown_quality)}; it leads on its other factors and its quality interval."
                     f"{against}")
    for m in d.unmeasured_rivals:
        rival = d.scores[m]
        beats = (d.head_to_head or {}).get(m)
        q = next(q for q in rival.evidence if q.kind == "unknown")
        odds = (f"{pick.model.name} beats it in {beats:.0%} of draws with its quality anywhere from {q.low:.0f} to "
                f"{q.high:.0f}" if beats is not None else f"its P(best) is {d.model_p_best(m):.2f}")
        notes.append(f"Unmeasured quality could change the pick: {rival.model.name} has no published quality score "
                     f"for {task_names(rival.unknown_quality)} ({rival.cost.label()}); {odds}. Include it in the "
                     "pilot: a measured result on your own tasks settles it.")
    unconfirmed = _unconfirmed(d)
    if unconfirmed:
        notes.append(unconfirmed)
    if is_deprecated(pick.deployment, catalog.today):
        notes.append(f"Deprecated pick: {pick.model.name} via {pick.deployment.provider} is "
                     f"{deprecation_words(pick.deployment, catalog)}. Nothing active meets the hard "
                     "constraints; plan the move before that date.")
    notes.extend(_retired(req, catalog, d))
    other = _other_side_note(req, catalog, d)
    if other:
        notes.append(other)
    return notes


def facts_confirmed_total(score: ModelScore, weights: dict[str, float]) -> float:
    """The total with every unknown vendor fact at its best (the top of the support and security
    intervals): what a vendor's answers could bring it to."""
    total_weight = sum(weights.values())
    return score.total + sum(weights[f] * (score.factors[f].interval[1] - score.factors[f].score)
                             for f in ("support", "security")) / total_weight


def _unconfirmed(d: Decision) -> str:
    """A lead that unpublished vendor facts could overturn: a question to the vendor, one risk."""
    pick = d.scores[d.recommended]
    for m in d.challengers:
        rival = d.scores[m]
        facts = [u.label for u in rival.unknowns if u.kind == "fact"]
        if not facts or m in d.tied:
            continue
        best = facts_confirmed_total(rival, d.weights)
        if best >= pick.total:
            vendor = rival.deployment.provider.split(" (")[0]
            return (f"Unconfirmed facts could change the pick: {rival.deployment.provider} has not published its "
                    f"{join_and(facts)} for this offer. Confirmed at their best, {rival.model.name} would score "
                    f"up to {best:.1f} (now {rival.total:.1f}) against {pick.model.name}'s {pick.total:.1f}. Ask "
                    f"{vendor} before you decide.")
    return ""


def _retired(req: Requirements, catalog: Catalog, d: Decision) -> list[str]:
    """Why a retired model that covers the tasks is not recommended."""
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


def side_combination(req: Requirements, catalog: Catalog, is_open: bool,
                     pilot: PilotEvidence | None = None) -> list[ModelScore] | None:
    """The best candidate per task (by the ranking key) among models of one openness, each scored on
    its task alone (with the project's pilot evidence), or None when that side cannot cover every task."""
    from modelmemo.decision.candidates import rank

    quality = QualityContext(catalog, pilot=pilot)
    picks = []
    for task in req.tasks:
        found: list[ModelScore] = []
        for model in catalog.models.values():
            if model.is_open != is_open or task not in model.tasks or model_exclusions(model, req, check_tasks=False):
                continue
            found.extend(c for c in model_candidates(model, req, catalog, (task,), quality)[0]
                         if not is_deprecated(c.deployment, catalog.today))
        if not found:
            return None
        picks.append(rank(found)[0])
    return picks


def _other_side_note(req: Requirements, catalog: Catalog, d: Decision) -> str:
    """When every single-model candidate is of one openness, say whether the other side could still
    serve the project as a combination of models (one per task)."""
    sides = {s.model.is_open for s in d.scores.values()}
    if len(sides) != 1 or len(req.tasks) < 2:
        return ""
    other_open = not sides.pop()
    picks = side_combination(req, catalog, other_open, d.pilot)
    side = "open-source" if other_open else "closed-source"
    if picks is None or len({p.model_id for p in picks}) < 2:
        return ""
    parts = ", ".join(f"{p.model.name} for {task_label(p.tasks[0])} ({p.total:.1f} on that task alone, {p.cost.label()})"
                      for p in picks)
    article = "an" if other_open else "a"
    return (f"No single {side} model covers every task, but {article} {side} combination does: {parts}. It means "
            "running and paying for several models; scores on one task are not comparable with the "
            "single-model totals above.")


def _pilot_said(d: Decision) -> str:
    """What the team's pilot measured (page 1 says it): the examples per task, the file, date and
    endpoint; for the pick, tied models, challengers and every other model it measured, each
    reading with its metric and bootstrap interval (0-100 but the judge's rating); who of them was
    not piloted; and, when the pick was piloted off its recommended route (a gateway, a local
    endpoint, another offer), that route in one line."""
    pilot = d.pilot
    if pilot is None:
        return ""
    piloted_ids = [m for m, s in d.scores.items() if any(q.pilot for q in s.evidence)]
    if not piloted_ids:
        return ""
    shown = list(dict.fromkeys(d.recommended_ids + list(d.tied) + list(d.challengers)
                               + [p.runner_up for p in d.combination if p.runner_up] + piloted_ids))
    readings = [q.pilot for m in piloted_ids for q in d.scores[m].evidence if q.pilot]
    dates = join_and(sorted({r.date for r in readings}))
    endpoints = join_and(sorted({r.endpoint for r in readings}))
    parts = []
    for m in shown:
        score = d.scores[m]
        measured = [f"{reading_words(q.pilot)} on {task_label(q.task)}" for q in score.evidence if q.pilot]
        if measured:
            parts.append(f"{score.model.name} {', '.join(measured)}")
        elif any(q.unpiloted for q in score.evidence):
            parts.append(f"{score.model.name} not piloted (its public score stands, with a wider interval)")
    counts = pilot.examples_per_task()
    split = f"{examples_split(counts)}; " if len(counts) > 1 else ""
    scale = scale_words(r.metric for r in readings)
    text = (f"Quality measured on your {pilot.examples} examples ({split}{pilot.examples_file}, {dates}, via "
            f"{endpoints}): " + "; ".join(parts) + (f" ({scale})" if scale else "") + ".")
    for m in d.recommended_ids:
        pick = d.scores[m]
        off = [q.pilot for q in pick.evidence if q.pilot and not on_route(q.pilot, pick.deployment_id,
                                                                          not pick.deployment.is_api)]
        if off:
            text += (f" Piloted via {route_words(off[0]).split(' at ')[0]}, not {pick.deployment.provider}, the route "
                     "recommended: latency, errors and cost there are unmeasured.")
    return text


def with_words(d: Decision, req: Requirements, catalog: Catalog) -> Decision:
    if d.combination:
        separation = "; ".join(
            f"for {task_label(p.task)}: the evidence cannot separate "
            f"{join_and([d.scores[m].model.name for m in (p.model_id, *p.tied)])}; a pilot on that task does"
            for p in d.combination if p.tied)
    else:
        separation = _separation(d, catalog) if d.recommended else ""
    d = replace(d, other_side=_other_side_note(req, catalog, d) if d.recommended else "",
                unconfirmed=_unconfirmed(d) if d.recommended else "", pilot_said=_pilot_said(d))
    return replace(d, verdict_reason=_reason(d, req, catalog), notes=tuple(_notes(d, req, catalog)),
                   separation=separation)
