"""Scoring v2: hard constraints first, then five factor scores (0-100) per eligible *candidate*.

A candidate is one (model, deployment option) pair. Every eligible candidate is scored and
ranked; a model's place in the scorecard is its best candidate. Deterministic and explainable:
every exclusion and every factor score carries a sentence that names the catalog facts and input
fields it used. The rules (and their point values) are documented in README's "Methodology"
section; change them there too.

Ranking key (documented in README): higher total first, then the cheaper monthly planning figure
(unknown cost last), then model id, then the deployment's position in the catalog. Candidates
within TIE_MARGIN of the top (or statistically indistinguishable on quality evidence, see
`is_tie`) are reported as a tie, never as a winner decided by that key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from .catalog import Catalog, Deployment, Model
from .costs import EMBEDDINGS_TASK, IMAGE_TASK, CostEstimate, estimate, usd
from .requirements import FACTOR_LABELS, FACTORS, Requirements
from .settings import CLOSE_CALL_MARGIN

VERDICT_LABELS = {"open-source": "Open source", "closed-source": "Closed source", "close-call": "Close call"}
# The requirement schema's task enum, in its order: tasks are handled in this order whatever the file's order.
TASK_ORDER = ("chat", "text-generation", "summarization", "code", "translation", "image-generation",
              "classification", "embeddings")

TIE_MARGIN = 0.5  # points: candidates this close to the top are a tie
QUALITY_SHARE = 0.5  # requirements = (1 - QUALITY_SHARE) x fit + QUALITY_SHARE x mean task quality
UNKNOWN_QUALITY = 40.0  # task quality score when no public evidence is known: conservative


@dataclass(frozen=True)
class FactorScore:
    score: float
    reason: str


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
    tie_reasons: tuple[str, ...] = ()  # why each tied model is tied with the top pick (scoring.tie_reason)

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
    if model.is_toolkit and req.customization == "prompting":
        reasons.append("a toolkit you must train on your own data, and the project asks for prompting only "
                       "(no training)")
    if not model.deployments:
        reasons.append("no deployment option is available")
    return reasons


def _known_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _needs_context(tasks: tuple[str, ...]) -> bool:
    return any(t != IMAGE_TASK for t in tasks)


def context_limits(model: Model, deployment: Deployment) -> tuple[int | None, int | None]:
    """(context window, max output tokens): the deployment's fact if it has one, else the model's.

    A deployment that states `unknown` (a quantized build whose context no source gives) is unknown,
    a stated risk: it does not inherit the family's figure."""
    limits = []
    for name in ("context_tokens", "max_output_tokens"):
        value = deployment.value(name, None)
        limits.append(_known_int(value if value is not None else model.value(name, None)))
    return limits[0], limits[1]


def _output_tokens(req: Requirements, catalog: Catalog | None) -> int | None:
    if req.volume is None or not req.volume.tokens_per_request:
        return None
    share = 0.75
    if catalog is not None:
        try:
            share = float(catalog.assumption("input_token_share").value)
        except (KeyError, TypeError, ValueError):
            pass
    return math.ceil(req.volume.tokens_per_request * (1 - share))


def context_exclusions(model: Model, deployment: Deployment, req: Requirements, tasks: tuple[str, ...],
                       catalog: Catalog | None = None) -> list[str]:
    """Hard limit: a request must fit the context window (and the output share the output limit)."""
    if not _needs_context(tasks) or req.volume is None or not req.volume.tokens_per_request:
        return []
    reasons = []
    per_request = req.volume.tokens_per_request
    context, max_output = context_limits(model, deployment)
    if context is not None and context < per_request:
        reasons.append(f"context {context:,} tokens < {per_request:,} tokens per request")
    output = _output_tokens(req, catalog)
    if max_output is not None and output is not None and max_output < output:
        reasons.append(f"max output {max_output:,} tokens < {output:,} output tokens per request "
                       f"(the output share of {per_request:,})")
    return reasons


def context_risk(model: Model, deployment: Deployment, req: Requirements, tasks: tuple[str, ...]) -> str | None:
    """Unknown context is no exclusion, but a stated risk."""
    if not _needs_context(tasks) or req.volume is None or not req.volume.tokens_per_request:
        return None
    context, _ = context_limits(model, deployment)
    if context is None:
        where = f"{model.name} on {deployment.id}" if deployment.value("context_tokens", None) else model.name
        return (f"The context window of {where} is not documented in the catalog; confirm that "
                f"{req.volume.tokens_per_request:,}-token requests fit.")
    return None


def deployment_exclusions(deployment: Deployment, model: Model, req: Requirements,
                          tasks: tuple[str, ...] | None = None, catalog: Catalog | None = None) -> list[str]:
    """Reasons one deployment option cannot serve this project."""
    reasons: list[str] = []
    if req.on_premises_only and deployment.is_api:
        reasons.append(f"{deployment.provider} API: data would leave your infrastructure (on-premises only)")
    if deployment.kind == "self-hosted" and not model.has_open_weights:
        reasons.append("self-hosting needs open weights")
    if req.customization == "full-control" and deployment.is_api:
        reasons.append(f"{deployment.provider} API: full control of the weights needs them on your own "
                       "infrastructure, not behind a hosted API")
    if req.data_sensitivity == "regulated" and deployment.is_api:
        if deployment.value("soc2") != "yes":
            reasons.append(f"{deployment.provider} API: regulated data needs a SOC 2 report "
                           f"(SOC 2: {deployment.value('soc2')})")
        if deployment.value("trains_on_prompts") != "no":
            reasons.append(f"{deployment.provider} API: regulated data must not be used for training "
                           f"(trains on prompts: {deployment.value('trains_on_prompts')})")
    covered = tuple(t for t in (tasks if tasks is not None else req.tasks) if t in model.tasks)
    reasons.extend(context_exclusions(model, deployment, req, covered, catalog))
    return reasons


# --- quality evidence ------------------------------------------------------------------------


def _evidence(model: Model, task: str) -> Any:
    quality = getattr(model, "quality", None) or {}
    return quality.get(task) if isinstance(quality, dict) else None


def _value(evidence: Any) -> float | None:
    value = getattr(evidence, "value", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _scale(catalog: Catalog, key: str) -> Any:
    return (getattr(catalog, "quality_scales", None) or {}).get(key)


def _scale_kind(catalog: Catalog, key: str) -> str:
    scale = _scale(catalog, key)
    kind = getattr(scale, "kind", None)
    if kind:
        return kind
    return "elo" if "elo" in key.lower() or "arena" in key.lower() else "percent"


def _scale_title(catalog: Catalog, key: str) -> str:
    """A short name for the scale in a reason (the full title is in the memo's sourced facts)."""
    title = getattr(_scale(catalog, key), "title", None) or key
    short = title
    for mark in (":", " (", ","):
        short = short.split(mark)[0]
    short = short.strip()
    return short if short and len(short) <= 45 else key


def _peers(catalog: Catalog, task: str, scale: str) -> list[tuple[str, float]]:
    """(model id, value) of every catalog model with a known value on `scale` for `task`, best first."""
    found = []
    for model in catalog.models.values():
        evidence = _evidence(model, task)
        value = _value(evidence)
        if value is not None and getattr(evidence, "scale", None) == scale:
            found.append((model.id, value))
    return sorted(found, key=lambda p: (-p[1], p[0]))


def task_quality(model: Model, task: str, catalog: Catalog) -> tuple[float, str]:
    """(0-100 quality score, the evidence in words) for one task; see README "Methodology"."""
    evidence = _evidence(model, task)
    value = _value(evidence)
    if value is None:
        return UNKNOWN_QUALITY, f"no public quality evidence for {task}: {UNKNOWN_QUALITY:g}, conservative"
    scale = getattr(evidence, "scale", "")
    peers = _peers(catalog, task, scale)
    best = peers[0][1] if peers else value
    rank = 1 + sum(1 for _, v in peers if v > value)
    if _scale_kind(catalog, scale) == "elo":
        score = 100 * 2 / (1 + 10 ** ((best - value) / 400))
    else:
        score = 100 * value / best if best > 0 else UNKNOWN_QUALITY
    ci = getattr(evidence, "ci", None)
    ci_text = f" ±{ci:g}" if isinstance(ci, (int, float)) and not isinstance(ci, bool) else ""
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(rank, f"{rank}th")
    shown = f"{value:g}" if _scale_kind(catalog, scale) == "elo" else f"{value:g}/100"
    text = f"{task}: {_scale_title(catalog, scale)} {shown}{ci_text}, {ordinal} of {len(peers)} ({_clamp(score):g})"
    return _clamp(score), text


def quality_overlap(a: Model, b: Model, tasks: tuple[str, ...], catalog: Catalog) -> bool:
    """True when, on every task, both have evidence on the same scale with published intervals that overlap."""
    if not tasks:
        return False
    for task in tasks:
        ea, eb = _evidence(a, task), _evidence(b, task)
        va, vb = _value(ea), _value(eb)
        if va is None or vb is None or getattr(ea, "scale", None) != getattr(eb, "scale", None):
            return False
        ca, cb = getattr(ea, "ci", None), getattr(eb, "ci", None)
        if not isinstance(ca, (int, float)) or not isinstance(cb, (int, float)):
            return False
        if abs(va - vb) > ca + cb:
            return False
    return True


# --- factor scores ---------------------------------------------------------------------------


def _sentence(notes: list[str], suffix: str = "") -> str:
    text = "; ".join(notes) + suffix
    return text[:1].upper() + text[1:] + "."


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, round(value, 1))) + 0.0  # + 0.0: never -0.0


def requirement_fit(model: Model, req: Requirements, tasks: tuple[str, ...]) -> tuple[float, list[str]]:
    """Fit to the stated needs (languages, customization, legacy, toolkit): 0-100 and its notes."""
    score = 100.0
    notes = [f"covers {', '.join(tasks)}"]
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
    return _clamp(score), notes


def requirements_fit(model: Model, deployment: Deployment, req: Requirements, tasks: tuple[str, ...],
                     catalog: Catalog | None = None, best_case: bool = False) -> FactorScore:
    """requirements = 50% fit + 50% mean task quality over the candidate's tasks (README "Methodology").

    best_case: unknown quality counts as the best score on its scale (100) instead of UNKNOWN_QUALITY.
    """
    fit, notes = requirement_fit(model, req, tasks)
    qualities = [task_quality(model, t, catalog) if catalog is not None
                 else (UNKNOWN_QUALITY, f"no public quality evidence for {t}: {UNKNOWN_QUALITY:g}, conservative")
                 for t in tasks]
    if best_case:
        qualities = [(100.0, text) if _value(_evidence(model, t)) is None else (q, text)
                     for t, (q, text) in zip(tasks, qualities)]
    quality = sum(q for q, _ in qualities) / len(qualities) if qualities else UNKNOWN_QUALITY
    score = (1 - QUALITY_SHARE) * fit + QUALITY_SHARE * quality
    evidence = "; ".join(text for _, text in qualities)
    return FactorScore(_clamp(score), _sentence(
        [f"fit {fit:g} ({'; '.join(notes)})", f"quality {_clamp(quality):g} ({evidence})"],
        f"; {1 - QUALITY_SHARE:.0%} fit + {QUALITY_SHARE:.0%} quality"))


def budget_fit(cost: CostEstimate, req: Requirements) -> tuple[FactorScore, bool | None]:
    """Score and over-budget flag. A floor below the budget is never 'within budget' (flag None)."""
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
    over: bool | None = figure > budget
    ratio_text = "" if budget == 0 else f", {figure / budget:.0%} of the budget"
    if cost.high is None:
        # A floor understates the cost (throughput or volume unknown): do not let it look cheap.
        score -= 10
        verdict = "over budget" if over else "may exceed the budget"
        if not over:
            over = None
        return FactorScore(_clamp(score), f"At least {usd(figure)}/month vs {usd(budget)}/month budget "
                                          f"({verdict}{ratio_text}); only a floor is known (-10)."), over
    basis = "estimated" if cost.is_point else "midpoint"
    verdict = "over budget" if over else "within budget"
    return FactorScore(_clamp(score), f"{basis[:1].upper() + basis[1:]} {usd(figure)}/month vs {usd(budget)}/month budget "
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
    return FactorScore(_clamp(score), _sentence(notes))


def security_fit(model: Model, deployment: Deployment, req: Requirements, best_case: bool = False) -> FactorScore:
    level = req.sensitivity_level
    if not deployment.is_api:
        notes = ["data stays on your infrastructure"]
        if model.has_open_weights:
            notes.append("weights inspectable")
        return FactorScore(100.0, _sentence(notes, f" ({req.data_sensitivity} data)"))
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
    return sum(factors[f].score * weights[f] for f in FACTORS) / weight_sum + 0.0


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
                      unknown_quality=tuple(t for t in tasks if _value(_evidence(model, t)) is None),
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


def _rank(scores: list[ModelScore]) -> list[ModelScore]:
    return sorted(scores, key=candidate_key)


def _best_per_model(ranked: list[ModelScore]) -> dict[str, ModelScore]:
    best: dict[str, ModelScore] = {}
    for score in ranked:
        best.setdefault(score.model_id, score)
    return best


def rests_on_missing_evidence(top: ModelScore, other: ModelScore) -> bool:
    """True when `other` would come within TIE_MARGIN of `top` if its unknown facts were at their best."""
    if other.best_case_total is None:
        return False
    return rank_key(top.total) - rank_key(other.best_case_total) <= TIE_MARGIN + 1e-9


def is_tie(top: ModelScore, other: ModelScore, catalog: Catalog) -> bool:
    """Within TIE_MARGIN; or within the close-call margin with overlapping quality CIs on every task;
    or a lead that rests on missing evidence (the other's unknown facts at their best would close it)."""
    gap = rank_key(top.total) - rank_key(other.total)
    if gap <= TIE_MARGIN + 1e-9:
        return True
    if gap <= CLOSE_CALL_MARGIN + 1e-9 and quality_overlap(top.model, other.model, top.tasks, catalog):
        return True
    return rests_on_missing_evidence(top, other)


def tie_reason(top: ModelScore, other: ModelScore, catalog: Catalog) -> str:
    """Why `other` is tied with `top`, in words (for a pair that `is_tie`)."""
    gap = rank_key(top.total) - rank_key(other.total)
    if gap <= TIE_MARGIN + 1e-9:
        return f"within {TIE_MARGIN:g} points"
    if gap <= CLOSE_CALL_MARGIN + 1e-9 and quality_overlap(top.model, other.model, top.tasks, catalog):
        return "their quality evidence overlaps within its published intervals"
    return f"{other.model.name}'s deficit rests on missing quality evidence"


def _ties(best: list[ModelScore], lead: ModelScore, catalog: Catalog, skip: set[str]) -> list[ModelScore]:
    return [s for s in best if s.model_id not in skip and s.model_id != lead.model_id and is_tie(lead, s, catalog)]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def separation(scores: list[ModelScore]) -> str:
    """What would separate tied candidates: the missing evidence a lead rests on, else the cheaper
    one, else the factor where they differ most."""
    if len(scores) < 2:
        return ""
    top = scores[0]
    missing = [s for s in scores[1:] if rank_key(top.total) - rank_key(s.total) > TIE_MARGIN + 1e-9
               and rests_on_missing_evidence(top, s)]
    if missing:
        return "; ".join(
            f"{top.model.name} leads {s.model.name} by {top.total - s.total:.1f} points only because "
            f"{s.model.name} has no published quality score for {_and(list(s.unknown_quality))} (scored "
            f"{UNKNOWN_QUALITY:g}); with scores at the best peer's level it would reach {s.best_case_total:.1f}: "
            "a pilot on your own tasks decides" for s in missing)
    names = [s.model.name for s in scores]
    figures = [s.cost.planning_figure for s in scores]
    if all(f is not None for f in figures) and len({round(f, 2) for f in figures}) > 1:
        cheapest = min(scores, key=lambda s: s.cost.planning_figure)
        others = ", ".join(f"{s.model.name} {s.cost.label()}" for s in scores if s is not cheapest)
        return f"{cheapest.model.name} is cheaper ({cheapest.cost.label()} vs {others})"
    diffs = [(max(s.factors[f].score for s in scores) - min(s.factors[f].score for s in scores), f) for f in FACTORS]
    gap, factor = max(diffs, key=lambda d: (d[0], -FACTORS.index(d[1])))
    if gap > 0:
        parts = " vs ".join(f"{s.model.name} {s.factors[factor].score:g}" for s in scores)
        return f"they differ most on {FACTOR_LABELS[factor]} ({parts})"
    return (f"{_and(names)} score the same on every factor and cost the same; only a pilot on your own tasks "
            "separates them")


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
        picks.append(_rank(found)[0])
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
    parts = ", ".join(f"{p.model.name} for {p.tasks[0]} ({p.total:.1f} on that task alone, {p.cost.label()})"
                      for p in picks)
    article = "an" if other_open else "a"
    return (f"No single {side} model covers every task, but {article} {side} combination does: {parts}. It means "
            "running and paying for several models; scores on one task are not comparable with the "
            "single-model totals above.")


def canonical(req: Requirements) -> Requirements:
    """Tasks in the schema's order and languages sorted: the order in the file never matters."""
    tasks = tuple(sorted(req.tasks, key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER else len(TASK_ORDER), t)))
    return replace(req, tasks=tasks, languages=tuple(sorted(req.languages)))


def decide(req: Requirements, catalog: Catalog) -> Decision:
    """Score every candidate for the project and choose. Pure: same inputs, same decision."""
    req = canonical(req)
    excluded: dict[str, list[str]] = {}
    eligible: list[ModelScore] = []
    for model in catalog.models.values():
        reasons = model_exclusions(model, req)
        if not reasons:
            candidates, reasons = model_candidates(model, req, catalog, req.tasks)
            if candidates:
                eligible.extend(candidates)
                continue
        excluded[model.id] = reasons
    ranked = _rank(eligible)
    if ranked:
        best = _best_per_model(ranked)
        models = list(best.values())
        top = models[0]
        tied = _ties(models, top, catalog, set())
        rest = [s for s in models[1:] if s not in tied]
        runner = rest[0] if rest else None
        runner_tied = _ties(rest[1:], runner, catalog, set()) if runner else []
        verdict, best_open, best_closed, reason = _verdict(models)
        if tied:  # never name an order-decided winner: the tie is the best
            group = [top, *tied]
            totals = ", ".join(f"{s.total:.1f}" for s in group)
            reason = reason.replace(f"the best is {top.model.name} ({top.total:.1f})",
                                    f"the best are {_and([s.model.name for s in group])}, tied ({totals})")
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
            sides = _and([f"{s.model.name} ({'open' if s.model.is_open else 'closed'} source)" for s in [top, *tied]])
            decision = replace(decision, verdict="close-call",
                               verdict_reason=f"{sides} are tied, so neither side wins: pilot both.")
    else:
        decision = _combination(req, catalog, excluded)
    notes = _tie_notes(decision) + _unconfirmed_notes(decision) + _retired_notes(req, catalog, decision)
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
        candidates.extend(found)
    ranked_all = _rank(candidates)
    per_model = _best_per_model(ranked_all)
    picks: list[TaskPick] = []
    separations: list[str] = []
    for task in req.tasks:
        ranked = [s for s in per_model.values() if task in s.tasks]
        if not ranked:
            continue
        top = ranked[0]
        tied = _ties(ranked, top, catalog, set())
        rest = [s for s in ranked[1:] if s not in tied]
        runner = rest[0] if rest else None
        runner_tied = _ties(rest[1:], runner, catalog, set()) if runner else []
        picks.append(TaskPick(task, top.model_id, runner.model_id if runner else None, top.deployment_id,
                              tuple(s.model_id for s in tied), tuple(s.model_id for s in runner_tied)))
        if tied:
            separations.append(f"for {task}: " + separation([top, *tied]))
    chosen = {pick.model_id for pick in picks}
    openness = {per_model[m].model.is_open for m in chosen}
    uncovered = [t for t in req.tasks if t not in {p.task for p in picks}]
    names = ", ".join(f"{_and([per_model[m].model.name for m in (p.model_id, *p.tied)])}"
                      f"{' (tied)' if p.tied else ''} for {p.task}" for p in picks)
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


def _tie_notes(decision: Decision) -> list[str]:
    """Call out ties at the top: the order between them is not a real preference."""
    notes = []
    if decision.tied and not decision.combination:
        top = decision.scores[decision.recommended]
        tied = [decision.scores[m] for m in decision.tied]
        names = _and([top.model.name] + [s.model.name for s in tied])
        totals = ", ".join(f"{s.total:.1f}" for s in [top, *tied])
        reasons = "; ".join(dict.fromkeys(decision.tie_reasons)) or "within the tie margin"
        notes.append(f"Tie: {names} ({totals}): {reasons}; pilot both. "
                     f"What would separate them: {decision.separation}.")
    for pick in decision.combination:
        if pick.tied:
            names = _and([decision.scores[m].model.name for m in (pick.model_id, *pick.tied)])
            notes.append(f"Tie for {pick.task}: {names}; pilot both.")
    if decision.runner_up_tied:
        names = _and([decision.scores[m].model.name for m in (decision.runner_up, *decision.runner_up_tied)])
        notes.append(f"The runner-up is a tie: {names}.")
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
    notes = []
    for other in overtakers:
        outcome = ("lead" if rank_key(other.confirmed_total) > rank_key(top.confirmed_total) + TIE_MARGIN + 1e-9
                   else "tie")
        ours = f" ({_and(list(top.unknown_facts))} unknown for it too)" if top.unknown_facts else ""
        notes.append(f"Unconfirmed facts could change the pick: {other.deployment.provider} has not published "
                     f"its {_and(list(other.unknown_facts))} for this offer. If every vendor's unknown facts "
                     f"were confirmed, {other.model.name} would score {other.confirmed_total:.1f} vs "
                     f"{top.model.name}'s {top.confirmed_total:.1f}{ours} and {outcome}: ask "
                     f"{other.model.vendor} before you decide.")
    return notes


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
