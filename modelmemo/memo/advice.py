"""What a memo advises besides the pick: the risks of the picks (each keyed by the kind of fact it
rests on, so page 1 can leave out what a flag says) and the next steps (an evaluation plan: examples
per task, sized to tell the pick from its first challenger, metric, pass mark, the rule that decides
and `modelmemo pilot`; after a pilot, what it leaves to do)."""

from __future__ import annotations

from modelmemo.catalog.load import Catalog
from modelmemo.decision import Decision
from modelmemo.decision.costs import usd
from modelmemo.decision.pilot import (examples_split, identical_to_references, min_half_width, on_route,
                                      route_words)
from modelmemo.decision.policy import policy
from modelmemo.decision.words import language_name, task_label
from modelmemo.inputs.requirements import Requirements


def risks(req: Requirements, decision: Decision, catalog: Catalog) -> list[dict[str, str]]:
    """The risks of the picks, each with a key (what kind of fact it is), so page 1 can leave out
    what a flag already states without reading the words."""
    risks: list[dict[str, str]] = []

    def risk(key: str, text: str) -> None:
        risks.append({"key": key, "text": text})

    for model_id in list(dict.fromkeys(decision.recommended_ids + list(decision.tied))):
        score = decision.scores[model_id]
        model, dep = score.model, score.deployment
        if score.over_budget:
            risk("over-budget", f"{model.name} is over budget: {score.cost.label()} against {usd(req.monthly_usd)}/month.")
        if not score.cost.known:
            risk("cost-unknown", f"The cost of {model.name} cannot be estimated"
                 + (" without a volume; add the monthly volume (budget: volume:) to the requirement file."
                    if req.volume is None else f": {score.cost.lines[0] if score.cost.lines else 'a price is unknown'}."))
        elif score.cost.high is None:
            risk("cost-floor", f"The cost of {model.name} is a floor ({score.cost.label()}): it may exceed the "
                               f"{usd(req.monthly_usd)}/month budget; more capacity may be needed.")
        for text in score.risks:
            risk("context", text)
        # Licence terms come early: a condition on commercial use decides whether the pick is usable.
        commercial = model.facts["commercial_use"]
        if model.is_open and commercial.value:
            risk("license", f"License terms ({model.value('license')}): {commercial.value}")
        if dep.is_api:
            trains = dep.value("trains_on_prompts")
            if trains != "no" and req.sensitivity_level >= 1:
                whether = ("has not published whether it trains on prompts" if trains == "unknown"
                           else "trains on prompts by default")
                risk("data-use", f"{dep.provider} {whether}, and the data is {req.data_sensitivity}: "
                                 "confirm the data-use terms before sending real data.")
            if req.lock_in_tolerance == "low":
                risk("lock-in", f"Lock-in: {model.name} is only available from {model.vendor}; keep prompts and "
                                "evaluation sets portable.")
            if req.vendor_sla_required and dep.value("sla") != "yes":
                sla = dep.value("sla")
                risk("sla", f"An SLA is required, but {dep.provider} has "
                            + ("not published one for this offer." if sla == "unknown" else "none for this offer."))
        else:
            if req.ml_expertise != "strong":
                risk("self-hosting", f"Self-hosting {model.name} with {req.expertise_phrase}: plan for hiring "
                                     "or a managed hosting partner.")
            if req.vendor_sla_required:
                risk("sla", "No vendor SLA covers a self-hosted model; uptime is your team's responsibility.")
        if not dep.is_api and req.customization in ("fine-tuning", "full-control"):
            risk("training-cost", "The cost covers serving only: the compute and time to fine-tune or train "
                                  f"{model.name} on your data come on top.")
        if model.lifecycle == "legacy":
            risk("superseded", f"{model.name} is superseded by newer releases; plan a migration path.")
        languages = model.value("languages")
        if isinstance(languages, list):
            missing = [lang for lang in req.languages if lang not in languages]
            if missing:
                risk("language", f"{model.name} does not document {', '.join(language_name(m) for m in missing)}; "
                                 "test output quality in those languages.")
    if decision.pilot is not None:
        risks.extend(pilot_risks(decision))
    unique: dict[str, dict[str, str]] = {}
    for r in risks:
        unique.setdefault(r["text"], r)
    return list(unique.values())


def pilot_risks(decision: Decision) -> list[dict[str, str]]:
    """What a pilot leaves uncertain, so a memo after a pilot never says "no risk": its size (the
    narrowest interval its examples allow, and the plan's size when it is larger) and the route it
    ran through (a gateway or local stand-in is not the route recommended; an update behind it
    changes the answers)."""
    pilot = decision.pilot
    assert pilot is not None
    found: list[dict[str, str]] = []
    counts = pilot.examples_per_task()
    if counts:
        fewest = min(counts.values())
        text = (f"The pilot rests on {examples_split(counts)}: a reading on {fewest} examples is uncertain by at "
                f"least ±{min_half_width(fewest):.1f} quality points, and examples unlike your live traffic would "
                "mislead")
        size, pick = decision.pilot_size, decision.scores.get(decision.recommended or "")
        first = decision.scores.get(decision.challengers[0]) if decision.challengers else None
        if size is not None and pick is not None and first is not None and size.examples > fewest:
            text += (f"; about {size.examples} per task would tell {pick.model.name} from {first.model.name} by "
                     f"{size.difference:g} quality points")
        found.append({"key": "pilot-sample", "text": text + "."})
    for model_id in decision.recommended_ids:
        score = decision.scores[model_id]
        readings = [q.pilot for q in score.evidence if q.pilot is not None]
        if not readings:
            found.append({"key": "pilot-unpiloted", "text": f"{score.model.name} was not piloted: its quality rests on "
                                                            "public benchmarks, not on your examples."})
            continue
        off = [r for r in readings if not on_route(r, score.deployment_id, not score.deployment.is_api)]
        if off:
            found.append({"key": "pilot-route", "text": (
                f"The pilot reached {score.model.name} through {route_words(off[0])}, not {score.deployment.provider}, "
                "the route recommended: latency, errors, rate limits and cost there were not measured.")})
        else:
            found.append({"key": "pilot-route", "text": (
                f"The pilot measured {score.model.name} through {readings[0].endpoint} on {readings[0].date}: an "
                "update of the model behind it changes its answers; run `modelmemo pilot` again when one is announced.")})
    return found


# How a pilot measures each task: (metric, pass mark). Examples per task: decision.pilot_size.
EVAL_METRICS = {
    "chat": ("reviewers rate each answer 1-5 against an agreed rubric", "mean 4 or more"),
    "text-generation": ("reviewers rate each draft 1-5 against an agreed rubric", "mean 4 or more"),
    "summarization": ("reviewers check each summary for omissions and errors (1-5)", "mean 4 or more, no invented facts"),
    "code": ("the share of suggestions that pass your tests or a reviewer accepts", "60% or more accepted"),
    "translation": ("bilingual reviewers rate adequacy and fluency (1-5)", "mean 4 or more"),
    "image-generation": ("reviewers pick the better image of each pair, blind", "preferred in half the pairs or more"),
    "classification": ("accuracy and macro-F1 against your labelled examples", "F1 at or above today's process"),
    "embeddings": ("recall@10 of your own search queries against known answers", "recall@10 of 0.8 or more"),
}


def _sized(decision: Decision, first: str) -> tuple[str, str]:
    """(examples per task, why that many) from decision.pilot_size."""
    size = decision.pilot_size
    if size is None:
        return f"at least {policy('PILOT_MIN_EXAMPLES'):g}", ""
    pick = decision.scores[decision.recommended or ""].model.name
    if size.beyond:
        return f"about {size.examples}", (f" That many suffice: no difference in quality alone would put {first} "
                                          f"ahead of {pick}.")
    why = (" (a smaller difference would already change the order)" if size.floored
           else ", the difference that would change the order")
    return f"about {size.examples}", f" That many tell {pick} from {first} by {size.difference:g} quality points{why}."


def evaluation_plan(req: Requirements, decision: Decision) -> str:
    """The pilot as a plan: examples per task, metric, pass mark, the rule that decides, and the
    command that runs it; after a pilot, what it leaves to do (`pilot_follow_up`)."""
    pick = decision.pick
    if pick is None:
        return ""
    rivals = [decision.scores[m] for m in decision.challengers[:2]]
    baseline = decision.scores.get(decision.measured_alternative or "")
    if baseline is not None and baseline not in rivals:  # the pick is unmeasured: a measured baseline
        rivals.append(baseline)
    if decision.pilot is not None:
        return pilot_follow_up(decision, rivals)
    tasks = "; ".join(f"{task_label(t)}: {EVAL_METRICS[t][0]}, pass at {EVAL_METRICS[t][1]}"
                      for t in req.tasks if t in EVAL_METRICS)
    against = " and ".join(r.model.name for r in rivals)
    # One rival or several: "switch to X only if X passes too", "switch to X or Y only if it passes too".
    alternative = " or ".join(r.model.name for r in rivals)
    rule = (f"Keep {pick.model.name} if it passes; switch to {alternative} only if that one passes too and scores "
            f"clearly higher at a cost the budget allows; if {pick.model.name} fails, take the best of the others that "
            "passes, and if none does, re-run this memo with the pilot's scores." if rivals else
            f"Keep {pick.model.name} if it passes; if it fails, re-run this memo with the pilot's scores.")
    examples, why = _sized(decision, rivals[0].model.name) if rivals else _sized(decision, "")
    return (f"Evaluate {pick.model.name}" + (f" against {against}" if rivals else "")
            + f" on {examples} real examples per task ({tasks}).{why if rivals else ''} {rule} To run it, list the "
            "examples in a JSON Lines file named by a `pilot:` section of the requirement file and run "
            "`modelmemo pilot`; the next run decides on its results.")


def pilot_follow_up(decision: Decision, rivals: list) -> str:
    """The next step once the pick was piloted: pilot a challenger that was not, add examples while
    the pilot cannot yet tell the pick from its first challenger, or go ahead."""
    pick = decision.scores[decision.recommended or ""]
    pilot = decision.pilot
    assert pilot is not None
    unpiloted = [r.model.name for r in [pick, *rivals] if not any(q.pilot for q in r.evidence)]
    echoed = [r.model.name for r in [pick, *rivals] if any(q.pilot and identical_to_references(q.pilot) for q in r.evidence)]
    if echoed:
        return (f"Check the pilot before acting on it: {' and '.join(echoed)} answered every example of a task "
                f"exactly as its reference, which real models rarely do. Make sure {pilot.examples_file}'s references "
                "are not in the prompts and the endpoint is the model, then run `modelmemo pilot` and this memo again.")
    if unpiloted:
        return (f"Run `modelmemo pilot` again: {' and '.join(unpiloted)} {'was' if len(unpiloted) == 1 else 'were'} "
                f"not piloted on your examples (the answers already given are reused), then re-run this memo.")
    measured = min((q.pilot.n for q in pick.evidence if q.pilot), default=0)
    size = decision.pilot_size
    if rivals and size is not None and size.examples > measured:
        return (f"Add examples to {pilot.examples_file}: your pilot measured {measured} per task, and about "
                f"{size.examples} per task would tell {pick.model.name} from {rivals[0].model.name} by {size.difference:g} "
                "quality points; `modelmemo pilot` then sends only the new ones.")
    against = f" against {' and '.join(r.model.name for r in rivals)}" if rivals else ""
    return (f"Go ahead with {pick.model.name}: your pilot on {pilot.examples} examples measured it{against}. Run "
            f"`modelmemo pilot` and this memo again when your examples change.")


def next_steps(req: Requirements, decision: Decision, catalog: Catalog) -> list[str]:
    steps: list[str] = []
    top = decision.recommended_ids
    if decision.verdict == "no-eligible-model":
        if decision.relax:
            first = decision.relax[0]
            steps.append(f"Decide whether {first.constraint} can be relaxed to {first.change}; re-run this memo "
                         "with the changed file.")
        else:
            steps.append("Review the reasons under Excluded models with the project owner: no single change lets a "
                         "model in, so more than one constraint must move.")
    elif decision.verdict == "budget-infeasible" and decision.budget_needed_usd is not None:
        relax = (f", or relax {decision.relax[0].constraint} to {decision.relax[0].change} "
                 f"({decision.relax[0].cheapest})" if decision.relax else "")
        steps.append(f"Raise the budget to what the cheapest option needs (see above){relax}, then re-run this memo.")
    pick = decision.pick
    if pick is not None:
        # Every pick is validated on the project's own examples before it is committed to.
        steps.append(evaluation_plan(req, decision))
    elif top:
        names = " and ".join(decision.scores[m].model.name for m in top)
        steps.append(f"Pilot {names} on a sample of real tasks per task, measuring quality, latency and cost.")
    for model_id in top:
        score = decision.scores[model_id]
        dep = score.deployment
        if dep.is_api:
            retention = str(dep.value("retention")).rstrip(". ")
            steps.append(f"Review {dep.provider}'s data-processing terms and retention ({retention}).")
            if req.sensitivity_level >= 2:
                steps.append(f"Request {dep.provider}'s SOC 2 report"
                             + (" and a HIPAA BAA" if req.data_sensitivity == "regulated" else "") + ".")
        else:
            steps.append(f"Provision a test instance ({dep.value('gpu_class')}) and measure throughput on your "
                         "own prompts to firm up the cost estimate.")
            licence = str(score.model.value("license"))
            steps.append(f"Have legal review the {licence}"
                         + ("." if licence.lower().endswith(("license", "licence")) else " license."))
    if req.volume is None:
        steps.append("Estimate monthly volume (requests, tokens per request, images) and add it to the file.")
    steps.append("Re-run this memo when the catalog is refreshed or requirements change.")
    return list(dict.fromkeys(s for s in steps if s))
