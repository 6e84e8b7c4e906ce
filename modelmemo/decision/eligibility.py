"""Hard constraints: why a model, or one of its deployment options, can never serve a project.

Each reason is a sentence naming the fact and the input field it rests on (README "Methodology", 1).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from modelmemo.catalog.load import Catalog, Deployment, Model
from modelmemo.inputs.requirements import Requirements
from modelmemo.decision.costs import IMAGE_TASK
from modelmemo.decision.lifecycle import regions_of, residency_reason, retired_reason
from modelmemo.decision.words import task_names


class Exclusion(str):
    """An exclusion reason: its words, and the requirement field (or catalog fact) it rests on, so
    a verdict can say which constraint to relax (decision.relax)."""

    constraint: str

    def __new__(cls, text: str, constraint: str) -> "Exclusion":
        reason = super().__new__(cls, text)
        reason.constraint = constraint
        return reason

    def __reduce__(self):  # picklable (decisions cross process boundaries in a batch)
        return (Exclusion, (str(self), self.constraint))


# The constraints a verdict may suggest relaxing, as requirement fields; "lifecycle" and "catalog"
# are facts of the offer, not of the project.
LIFECYCLE, CATALOG = "lifecycle", "catalog"


def model_exclusions(model: Model, req: Requirements, check_tasks: bool = True,
                     catalog: Catalog | None = None) -> list[Exclusion]:
    """Reasons a model can never serve this project, whatever the deployment. With the catalog,
    a retired model's successor is named as readers know it (else by its catalog id)."""
    reasons: list[Exclusion] = []
    if model.lifecycle == "retired":
        note = (model.facts["lifecycle"].note or "").rstrip(". ")
        successor = catalog.models.get(model.successor or "") if catalog else None
        successor_name = successor.name if successor else model.successor
        reasons.append(Exclusion("retired: no longer offered" + (f" ({note})" if note else "")
                       + (f"; its successor is {successor_name}" if successor_name else ""), LIFECYCLE))
    if check_tasks:
        missing = [t for t in req.tasks if t not in model.tasks]
        if missing:
            reasons.append(Exclusion(f"does not cover required task(s): {task_names(missing)} (covers {task_names(model.tasks)})",
                                      "needs.tasks"))
    if req.transparency_required and not model.has_open_weights:
        reasons.append(Exclusion("transparency required, but the weights are not published (open weights: "
                                 f"{model.value('open_weights')})", "security.transparency_required"))
    if req.customization == "full-control" and not model.has_open_weights:
        reasons.append(Exclusion("full control of the weights required, but the weights are not published",
                                 "needs.customization"))
    if req.customization == "fine-tuning" and not model.has_open_weights and not any(
        d.value("vendor_fine_tuning", "no") == "yes" for d in model.deployments
    ):
        reasons.append(Exclusion("fine-tuning required, but there are no open weights and no vendor fine-tuning offer",
                                 "needs.customization"))
    if model.is_toolkit and req.ml_expertise != "strong":
        reasons.append(Exclusion(f"a toolkit you must train on your own data; that needs strong ML expertise "
                                 f"(the team has {req.expertise_phrase})", "support.ml_expertise"))
    if model.is_toolkit and req.customization == "prompting":
        reasons.append(Exclusion("a toolkit you must train on your own data, and the project asks for prompting only "
                                 "(no training)", "needs.customization"))
    restricted = regions_of(model.value("licence_restricted_regions", "no")) or set()
    if req.data_residency and restricted & set(req.data_residency):
        reasons.append(Exclusion(f"its licence restricts use in {' and '.join(sorted(restricted & set(req.data_residency)))}, "
                                 "where the data must stay", "security.data_residency"))
    if not model.deployments:
        reasons.append(Exclusion("no deployment option is available", CATALOG))
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
        reasons.append(Exclusion(f"context {context:,} tokens < {per_request:,} tokens per request",
                                 "budget.volume.tokens_per_request"))
    output = _output_tokens(req, catalog)
    if max_output is not None and output is not None and max_output < output:
        reasons.append(Exclusion(f"max output {max_output:,} tokens < {output:,} output tokens per request "
                                 f"(the output share of {per_request:,})", "budget.volume.tokens_per_request"))
    return reasons


def context_risk(model: Model, deployment: Deployment, req: Requirements, tasks: tuple[str, ...]) -> str | None:
    """Unknown context is no exclusion, but a stated risk, worded with what is known: a build whose
    figure no source gives is not the model's published window."""
    if not _needs_context(tasks) or req.volume is None or not req.volume.tokens_per_request:
        return None
    context, _ = context_limits(model, deployment)
    if context is not None:
        return None
    # The option in words, not its catalog id: "(self-hosted on 1x NVIDIA H100 80GB, ...)".
    option = (f"via {deployment.provider}" if deployment.is_api
              else f"self-hosted on {deployment.value('gpu_class')}" if deployment.value("gpu_class") != "unknown"
              else "self-hosted")
    published = _known_int(model.value("context_tokens", None))
    if published is not None and deployment.value("context_tokens", None) is not None:
        return (f"{model.name} has a published context of {published:,} tokens, but no source gives the window of "
                f"this build ({option}); confirm that {req.volume.tokens_per_request:,}-token requests fit.")
    return (f"The context window of {model.name} is not documented in the catalog; confirm that "
            f"{req.volume.tokens_per_request:,}-token requests fit.")


def deployment_exclusions(deployment: Deployment, model: Model, req: Requirements,
                          tasks: tuple[str, ...] | None = None, catalog: Catalog | None = None) -> list[str]:
    """Reasons one deployment option cannot serve this project."""
    reasons: list[str] = []
    retired = retired_reason(deployment, catalog, catalog.today if catalog is not None else date.today())
    if retired:
        reasons.append(Exclusion(retired, LIFECYCLE))
    residency = residency_reason(deployment, model, req.data_residency)
    if residency:
        reasons.append(Exclusion(residency, "security.data_residency"))
    if req.on_premises_only and deployment.is_api:
        reasons.append(Exclusion(f"{deployment.provider} API: data would leave your infrastructure (on-premises only)",
                                 "security.on_premises_only"))
    if deployment.kind == "self-hosted" and not model.has_open_weights:
        reasons.append(Exclusion("self-hosting needs open weights", CATALOG))
    if req.customization == "fine-tuning" and deployment.is_api and deployment.value("vendor_fine_tuning") != "yes":
        # Weights you fine-tune yourself cannot be served by someone else's hosted API.
        reasons.append(Exclusion(f"{deployment.provider} API: fine-tuning required, but this hosted offer has no "
                                 f"fine-tuning (vendor fine-tuning: {deployment.value('vendor_fine_tuning')})"
                                 + ("; self-host the open weights to fine-tune them" if model.has_open_weights else ""),
                                 "needs.customization"))
    if req.customization == "full-control" and deployment.is_api:
        reasons.append(Exclusion(f"{deployment.provider} API: full control of the weights needs them on your own "
                                 "infrastructure, not behind a hosted API", "needs.customization"))
    if req.data_sensitivity == "regulated" and deployment.is_api:
        if deployment.value("soc2") != "yes":
            reasons.append(Exclusion(f"{deployment.provider} API: regulated data needs a SOC 2 report "
                                     f"(SOC 2: {deployment.value('soc2')})", "security.data_sensitivity"))
        if deployment.value("trains_on_prompts") != "no":
            reasons.append(Exclusion(f"{deployment.provider} API: regulated data must not be used for training "
                                     f"(trains on prompts: {deployment.value('trains_on_prompts')})",
                                     "security.data_sensitivity"))
    covered = tuple(t for t in (tasks if tasks is not None else req.tasks) if t in model.tasks)
    reasons.extend(context_exclusions(model, deployment, req, covered, catalog))
    return reasons
