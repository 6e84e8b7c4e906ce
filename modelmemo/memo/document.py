"""The machine-readable memo (`<project-id>.json`, see schemas/memo.schema.json).

It is the single source for the HTML/PDF templates and the email: everything a reader sees is
in here, computed from the requirement file and the catalog, and nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from modelmemo.catalog.load import Catalog, Fact, Model
from modelmemo.decision.lifecycle import offer_status, successor_name
from modelmemo.decision.costs import usd
from modelmemo.inputs.requirements import FACTOR_LABELS, FACTORS, Requirements
from modelmemo.decision import Decision, ModelScore, canonical, decide
from modelmemo.decision.pilot import PilotEvidence, metric_words, reading_words
from modelmemo.decision.quality import TaskQuality
from modelmemo.decision.sensitivity import analyse
from modelmemo.memo.advice import next_steps, risks
from modelmemo.memo.changes import compare
from modelmemo.decision.words import language_name, task_label

MEMO_VERSION = 3

# Catalog facts a reader needs to check the recommendation; shown with source and date.
MODEL_FACTS_SHOWN = ("openness", "license", "commercial_use", "licence_restricted_regions", "open_weights", "tasks",
                     "languages", "context_tokens", "max_output_tokens", "parameters", "lifecycle")
DEPLOYMENT_FACTS_SHOWN = ("input_usd_per_1m", "output_usd_per_1m", "embedding_usd_per_1m", "usd_per_image",
                          "context_tokens", "max_output_tokens", "gpu_class", "gpu_hour_usd",
                          "tokens_per_second", "images_per_hour", "vendor_fine_tuning", "data_residency",
                          "trains_on_prompts", "retention", "soc2", "hipaa_baa", "sla", "vendor_support")
# Shown only when the cost estimate used them: facts a memo lists are the facts it used, and the
# "Stale facts" flag is computed from them.
COST_FACTS = ("input_usd_per_1m", "output_usd_per_1m", "embedding_usd_per_1m", "usd_per_image", "gpu_class",
              "gpu_hour_usd", "tokens_per_second", "images_per_hour")
FACT_LABELS = {
    "openness": "Open or closed", "license": "License", "commercial_use": "Commercial use",
    "open_weights": "Open weights", "tasks": "Tasks", "languages": "Languages", "context_tokens": "Context (tokens)",
    "parameters": "Parameters", "lifecycle": "Lifecycle", "input_usd_per_1m": "Input price per 1M tokens",
    "output_usd_per_1m": "Output price per 1M tokens", "usd_per_image": "Price per image", "gpu_class": "GPU class",
    "gpu_hour_usd": "GPU price per hour", "tokens_per_second": "Throughput (tokens/s)",
    "images_per_hour": "Throughput (images/hour)", "vendor_fine_tuning": "Vendor fine-tuning",
    "data_residency": "Data residency", "trains_on_prompts": "Trains on prompts", "retention": "Retention",
    "soc2": "SOC 2", "hipaa_baa": "HIPAA BAA", "sla": "Uptime SLA", "vendor_support": "Vendor support",
    "embedding_usd_per_1m": "Embedding price per 1M tokens", "max_output_tokens": "Max output (tokens)",
    "licence_restricted_regions": "Licence restricts use in",
}
FACTOR_COLORS = {"requirements": "#1f4e79", "budget": "#2e86ab", "support": "#7fb069",
                 "security": "#e4a11b", "long_term": "#c8553d"}


@dataclass(frozen=True)
class RunContext:
    """What a memo needs to know about its run besides the requirements and the catalog."""

    run_id: str
    generated_at: str  # ISO 8601, UTC
    input_name: str  # file name only, never a path outside the drop folder
    input_sha256: str
    templates_sha256: str = ""  # the templates the memo is rendered with (part of its fingerprint)
    previous_memo: dict[str, Any] | None = None  # this project's last memo, to say what changed
    forced: bool = False  # re-rendered on request (`run --force`), which the change summary says
    pilot: PilotEvidence | None = None  # the project's pilot results on its examples as they are (the batch loads them)


def _fact_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, float) and value == int(value):
        return f"{value:,.0f}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _named(name: str, value: Any) -> Any:
    """Task and language lists as words ("text generation", "English"); other values unchanged."""
    if name == "tasks" and isinstance(value, list):
        return [task_label(t) for t in value]
    if name == "languages" and isinstance(value, list):
        return [language_name(c) for c in value]
    return value


def fact_row(model: Model, deployment_id: str, name: str, fact: Fact) -> dict[str, Any]:
    return {
        "model": model.id,
        "deployment": deployment_id,
        "deployment_label": next((f"{d.provider} ({d.kind})" for d in model.deployments if d.id == deployment_id), ""),
        "fact": name,
        "label": FACT_LABELS.get(name, name),
        "value": _fact_text(_named(name, fact.value)),
        "note": fact.note,
        "source_title": fact.source.title,
        "source_url": fact.source.url,
        "as_of": fact.source.as_of.isoformat(),
    }


def _score_entry(score: ModelScore, weights: dict[str, float]) -> dict[str, Any]:
    return {
        "model": score.model_id,
        "name": score.model.name,
        "vendor": score.model.vendor,
        "openness": score.model.openness,
        "lifecycle": score.model.lifecycle,  # active, legacy (superseded) or retired
        "deployment": score.deployment.id,
        "deployment_kind": score.deployment.kind,
        "provider": score.deployment.provider,
        "tasks": list(score.tasks),
        "factors": {f: {"score": score.factors[f].score, "reason": score.factors[f].reason} for f in FACTORS},
        "total": round(score.total, 1),
        "cost": score.cost.as_dict(),
        "over_budget": score.over_budget,
        "cost_is_floor": score.cost_is_floor,
        "monthly_cost_usd": _money(score.cost.planning_figure),
    }


def _money(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 2) + 0.0


def route_of(score: ModelScore) -> str:
    deployment = score.deployment
    return deployment.route or ("self-hosted" if not deployment.is_api else "api")


def offer_ref(task: str | None, score: ModelScore) -> dict[str, Any]:
    """A pick, challenger or tied model as the memo names it: which task, model, offer and route."""
    return {"task": task, "model": score.model_id, "deployment": score.deployment_id,
            "provider": score.deployment.provider, "route": route_of(score)}


def _evidence(score: ModelScore, catalog: Catalog) -> list[dict[str, Any]]:
    rows = []
    for q in score.evidence:
        if q.pilot is not None:
            rows.append(_pilot_evidence(q))
            continue
        source = catalog.sources.get(q.source) if q.source else None
        # `value` and `interval` on the source's own scale (null when there is no figure); `score`
        # and `score_interval` the 0-100 quality they give among the eligible candidates.
        raw = None if q.value is None else [round(q.value - q.ci, 2), round(q.value + q.ci, 2)]
        row = {"task": q.task, "kind": q.kind, "source": source.url if source else None,
               "value": q.value, "interval": raw, "score": q.score,
               "score_interval": [round(q.low, 1), round(q.high, 1)]}
        if q.unpiloted:  # the task was piloted, this model not: its public score, a higher upper end
            row["not_piloted"] = True
        rows.append(row)
    return rows


def _pilot_evidence(q: TaskQuality) -> dict[str, Any]:
    """A reading of the team's pilot: the metric on its own scale with its bootstrap interval, the
    0-100 quality it gives among the piloted models, and its provenance (file, date, endpoint)."""
    r = q.pilot
    assert r is not None
    return {"task": q.task, "kind": "pilot", "source": f"pilot of {r.examples_file}, {r.date}",
            "value": round(r.value, 4), "interval": [round(r.ci_low, 4), round(r.ci_high, 4)], "score": q.score,
            "score_interval": [round(q.low, 1), round(q.high, 1)], "metric": r.metric, "n": r.n,
            "measured_at": r.measured_at, "endpoint": r.endpoint, "called_as": r.called_as,
            "examples_file": r.examples_file}


def _ranking_entry(score: ModelScore, catalog: Catalog) -> dict[str, Any]:
    """One candidate of `ranking`: the (model, deployment) option that was scored, its route and
    lifecycle, its total with the interval its unknowns allow and its P(best), its quality evidence,
    and the listing ids its synced facts came from (their provenance)."""
    deployment = score.deployment
    life = deployment.lifecycle
    low, high = score.interval
    return {
        "model": score.model_id,
        "deployment": score.deployment_id,
        "provider": deployment.provider,
        "route": route_of(score),
        "total": round(score.total, 1),
        "interval": [round(low, 1), round(high, 1)],
        "p_best": score.p_best,
        "factors": {f: score.factors[f].score for f in FACTORS},
        "factor_intervals": {f: [round(v, 1) for v in score.factors[f].interval] for f in FACTORS},
        "monthly_cost_usd": _money(score.cost.planning_figure),
        "cost_is_floor": score.cost_is_floor,
        "lifecycle": {"status": offer_status(deployment, catalog.today),
                      "date": life.date.isoformat() if life.date else None,
                      "successor": successor_name(life.successor, catalog) or None},
        "sla": deployment.value("sla") if deployment.is_api else "no",
        "data_residency": deployment.value("data_residency") if deployment.is_api else "self-hosted",
        "evidence": _evidence(score, catalog),
        # a synced lifecycle is a fact too (catalog.load), so the facts name every listing used
        "synced_from": sorted({fact.synced_id for fact in deployment.facts.values() if fact.synced_id}),
        "listed_as": list(deployment.synced_from),
    }


def _no_negative_zero(value: Any) -> Any:
    """-0.0 never appears in a memo."""
    if isinstance(value, float):
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {k: _no_negative_zero(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_negative_zero(v) for v in value]
    return value


def _chart(decision: Decision, names: dict[str, str], limit: int = 8) -> dict[str, Any]:
    """Stacked bars: each factor's contribution (score × weight share) to a model's total."""
    weight_sum = sum(decision.weights[f] for f in FACTORS)
    bars = []
    for model_id, score in list(decision.scores.items())[:limit]:
        segments, x = [], 0.0
        for factor in FACTORS:
            width = score.factors[factor].score * decision.weights[factor] / weight_sum
            segments.append({"factor": factor, "x": round(x, 2), "width": round(width, 2), "color": FACTOR_COLORS[factor]})
            x += width
        bars.append({"model": model_id, "name": names[model_id], "total": round(score.total, 1), "segments": segments,
                     "open": score.model.is_open})
    legend = [{"factor": f, "label": FACTOR_LABELS[f], "color": FACTOR_COLORS[f]} for f in FACTORS]
    return {"bars": bars, "legend": legend}


def _cost_options(req: Requirements, decision: Decision, catalog: Catalog) -> list[dict[str, Any]]:
    """Every eligible candidate (model on a deployment option), cheapest first, with its formula."""
    options = []
    for candidate in decision.candidates:
        best = decision.scores[candidate.model_id]
        options.append({
            "model": candidate.model_id, "name": candidate.model.name, "openness": candidate.model.openness,
            "provider": candidate.deployment.provider, "kind": candidate.deployment.kind,
            "chosen": candidate.deployment_id == best.deployment_id,
            "over_budget": candidate.over_budget,
            "total": round(candidate.total, 1),
            **candidate.cost.as_dict(),
        })
    options.sort(key=lambda o: (o["low_usd"] is None, o["low_usd"] or 0, o["model"], o["deployment"]))
    return options


def _pilot_row(score: ModelScore, q: TaskQuality, pilot: PilotEvidence | None) -> dict[str, Any]:
    r = q.pilot
    assert r is not None
    return {"model": score.model_id, "deployment": "", "deployment_label": "", "fact": f"quality.{q.task}",
            "label": f"Quality: {task_label(q.task)} (your pilot: {metric_words(r.metric)} on {r.n} examples)",
            "value": reading_words(r) + (" on a 0–100 scale" if r.metric != "judge_score" else ""),
            "note": f"{r.deployment} as {r.called_as} via {r.endpoint}",
            "source_title": f"Your pilot of {r.examples_file} (modelmemo pilot)",
            "source_url": (pilot.results_file if pilot and pilot.results_file else "README.md#pilot"),
            "as_of": r.date}


def _quality_rows(score: ModelScore, catalog: Catalog, pilot: PilotEvidence | None = None) -> list[dict[str, Any]]:
    """The quality evidence used for a model's tasks, as fact rows with their sources."""
    rows = []
    quality = getattr(score.model, "quality", None) or {}
    scales = getattr(catalog, "quality_scales", None) or {}
    for q in score.evidence:
        if q.pilot is not None:  # the pilot's reading replaced the public one: it is the fact used
            rows.append(_pilot_row(score, q, pilot))
    for task in (q.task for q in score.evidence if q.pilot is None):
        evidence = quality.get(task) if isinstance(quality, dict) else None
        source = getattr(evidence, "source", None)
        if evidence is None or source is None:
            continue
        scale = scales.get(getattr(evidence, "scale", ""))
        value = getattr(evidence, "value", None)
        ci = getattr(evidence, "ci", None)
        text = "unknown" if value is None else f"{value:g}" + (f" ±{ci:g}" if isinstance(ci, (int, float)) else "")
        rows.append({
            "model": score.model_id, "deployment": "", "deployment_label": "", "fact": f"quality.{task}",
            "label": f"Quality: {task_label(task)} ({getattr(scale, 'title', None) or getattr(evidence, 'scale', '')})",
            "value": text, "note": getattr(evidence, "note", "") or "",
            "source_title": source.title, "source_url": source.url, "as_of": source.as_of.isoformat(),
        })
    return rows


def _number_sources(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct source once, numbered in order of first use; each fact gets its number."""
    numbers: dict[str, int] = {}
    sources: list[dict[str, Any]] = []
    for fact in facts:
        url = fact["source_url"]
        if url not in numbers:
            numbers[url] = len(sources) + 1
            sources.append({"n": numbers[url], "title": fact["source_title"], "url": url, "as_of": fact["as_of"]})
        fact["source_ref"] = numbers[url]
    return sources


def _combination_cost(decision: Decision) -> dict[str, Any] | None:
    """Total monthly cost of a one-model-per-task recommendation (each model counted once)."""
    if not decision.combination:
        return None
    costs = [decision.scores[m].cost for m in decision.recommended_ids]
    low = None if any(c.low is None for c in costs) else sum(c.low for c in costs)
    high = None if low is None or any(c.high is None for c in costs) else sum(c.high for c in costs)
    if low is None:
        label = "unknown"
    elif high is None:
        label = f"at least {usd(low)}/month (may exceed the budget)"
    else:
        label = f"{usd(low)}/month" if low == high else f"{usd(low)} to {usd(high)}/month"
    return {"low_usd": None if low is None else round(low, 2), "high_usd": None if high is None else round(high, 2),
            "label": label, "models": decision.recommended_ids}


def build_memo(req: Requirements, decision: Decision, catalog: Catalog, ctx: RunContext) -> dict[str, Any]:
    ordered = canonical(req)  # the order of tasks and languages in the file never changes what is said
    names = {m.id: m.name for m in catalog.models.values()}
    scores = {m: _score_entry(s, decision.weights) for m, s in decision.scores.items()}
    def pick(task: str | None, model_id: str) -> dict[str, Any]:
        return offer_ref(task, decision.scores[model_id])

    if decision.combination:
        recommended = [dict(pick(p.task, p.model_id), tied=list(p.tied)) for p in decision.combination]
        challengers = [pick(p.task, p.runner_up) for p in decision.combination if p.runner_up]
        tied = [pick(p.task, m) for p in decision.combination for m in p.tied]
    else:
        recommended = [pick(None, decision.recommended)] if decision.recommended else []
        challengers = [pick(None, m) for m in decision.challengers]
        tied = [pick(None, m) for m in decision.tied]
    shown_models = list(dict.fromkeys(decision.recommended_ids + list(decision.tied) + [r["model"] for r in challengers]))
    picked = set(decision.recommended_ids) | set(decision.tied)
    facts = []
    for model_id in shown_models:
        score = decision.scores[model_id]
        if model_id not in picked and len(picked) > 1:
            # A tie already shows two or more models' facts: the runner-up shows its model facts only.
            facts.extend(fact_row(score.model, "", n, score.model.facts[n]) for n in MODEL_FACTS_SHOWN[:7]
                         if n in score.model.facts)
            facts.extend(_quality_rows(score, catalog, decision.pilot))
            continue
        for name in MODEL_FACTS_SHOWN:
            if name in score.model.facts:
                facts.append(fact_row(score.model, "", name, score.model.facts[name]))
        for name in DEPLOYMENT_FACTS_SHOWN:
            if name in COST_FACTS and name not in score.cost.inputs:
                continue  # a price the project's cost does not use (an image price in a chat project)
            if name in score.deployment.facts:
                facts.append(fact_row(score.model, score.deployment.id, name, score.deployment.facts[name]))
        facts.extend(_quality_rows(score, catalog, decision.pilot))
    for extra in ("input_token_share", "hours_per_month"):
        fact = catalog.assumption(extra)
        facts.append({"model": "", "deployment": "", "deployment_label": "", "fact": extra, "label": extra.replace("_", " ").capitalize(),
                      "value": _fact_text(fact.value), "note": fact.note, "source_title": fact.source.title,
                      "source_url": fact.source.url, "as_of": fact.source.as_of.isoformat()})
    sources = _number_sources(facts)
    weight_sum = sum(decision.weights[f] for f in FACTORS)
    memo = _no_negative_zero({
        "memo_version": MEMO_VERSION,
        "run_id": ctx.run_id,
        "generated_at": ctx.generated_at,
        "input_file": ctx.input_name,
        "input_sha256": ctx.input_sha256,
        "catalog_sha256": catalog.sha256,
        "catalog_as_of": catalog.as_of.isoformat(),
        "catalog_oldest_fact": catalog.oldest_as_of.isoformat(),
        "templates_sha256": ctx.templates_sha256,
        "changes": None,  # what changed since ctx.previous_memo: set below, once the memo exists
        "project": {
            "id": req.project_id, "name": req.name, "summary": req.summary,
            "owner": {"name": req.owner_name, "email": req.owner_email}, "notify": list(req.notify),
        },
        "requirements": {
            "tasks": list(req.tasks), "languages": list(req.languages), "customization": req.customization,
            "monthly_usd": req.monthly_usd,
            "volume": None if req.volume is None else {
                "requests_per_month": req.volume.requests_per_month,
                "tokens_per_request": req.volume.tokens_per_request,
                "images_per_month": req.volume.images_per_month,
            },
            "ml_expertise": req.ml_expertise, "vendor_sla_required": req.vendor_sla_required,
            "data_sensitivity": req.data_sensitivity, "on_premises_only": req.on_premises_only,
            "transparency_required": req.transparency_required, "growth": req.growth,
            "lock_in_tolerance": req.lock_in_tolerance,
            "data_residency": list(req.data_residency),
        },
        "verdict": decision.verdict,
        "verdict_label": decision.verdict_label,
        "verdict_reason": decision.verdict_reason,
        "combination_cost": _combination_cost(decision),
        "cost_options": _cost_options(ordered, decision, catalog),
        "recommended": recommended,
        "challengers": challengers,
        "tied": [t["model"] for t in tied],
        "tie_separation": decision.separation,
        "p_best": {m: decision.model_p_best(m) for m in decision.scores},
        "head_to_head": dict(decision.head_to_head or {}),
        "separator": None if decision.separator is None else {
            **dataclasses.asdict(decision.separator), "settled_by": decision.separator.settled_by},
        "budget_needed_usd": decision.budget_needed_usd,
        "cheapest": decision.cheapest,
        "relax": [{"constraint": r.constraint, "change": r.change, "allows": list(r.allows),
                   "cheapest": r.cheapest} for r in decision.relax],
        "uncovered_tasks": list(decision.uncovered),
        "other_side": decision.other_side,
        "unconfirmed_facts": decision.unconfirmed,
        "pilot": _pilot_summary(decision),
        "best_open": decision.best_open,
        "best_closed": decision.best_closed,
        "ranking": [_ranking_entry(c, catalog) for c in decision.candidates],
        "scores": scores,
        "excluded": {m: reasons for m, reasons in decision.excluded.items()},
        "weights": dict(decision.weights),
        "weight_shares": {f: round(decision.weights[f] / weight_sum, 4) for f in FACTORS},
        "notes": list(decision.notes),
        "sensitivity": analyse(ordered, catalog, decision).as_dict(),
        "risks": risks(ordered, decision, catalog),
        "next_steps": next_steps(ordered, decision, catalog),
        "facts": facts,
        "sources": sources,
        "chart": _chart(decision, names),
        "model_names": names,
    })
    if ctx.previous_memo:
        memo["changes"] = compare(ctx.previous_memo, memo, ctx.forced)
    return memo


def _pilot_summary(decision: Decision) -> dict[str, Any] | None:
    """The pilot the decision used (null: public evidence only); each reading is in `ranking`'s evidence."""
    pilot = decision.pilot
    if pilot is None:
        return None
    readings = pilot.readings
    return {"examples_file": pilot.examples_file, "examples_sha256": pilot.examples_sha256,
            "examples": pilot.examples, "results_file": pilot.results_file or None,
            "measured_at": sorted({r.measured_at for r in readings}), "endpoints": sorted({r.endpoint for r in readings}),
            "models": sorted({r.model for r in readings}), "sentence": decision.pilot_said,
            "identical": [{"model": r.model, "deployment": r.deployment, "task": r.task, "metric": r.metric, "n": r.n}
                          for r in pilot.identical()],
            "examples_per_task": pilot.examples_per_task()}


def make_memo(req: Requirements, catalog: Catalog, ctx: RunContext) -> tuple[dict[str, Any], Decision]:
    """The one composition every caller uses (the work unit, the benchmarks, the tests): decide, then
    the memo with its sensitivity and its changes since ctx.previous_memo. Returns both."""
    decision = decide(req, catalog, ctx.pilot)
    return build_memo(req, decision, catalog, ctx), decision
