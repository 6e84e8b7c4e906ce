"""What relaxing each hard constraint would allow, when the constraints exclude every model (the
`no-eligible-model` verdict): one requirement field at a time, the models that would then become
eligible. Typed (constraint, change, allows); the memo writes the words."""

from __future__ import annotations

from dataclasses import dataclass, replace

from modelmemo.catalog.load import Catalog
from modelmemo.inputs.requirements import Requirements, Volume
from modelmemo.decision.eligibility import Exclusion, LIFECYCLE, CATALOG, context_limits, deployment_exclusions, model_exclusions


# A constraint (its dotted path in the requirement file) in the words a memo uses for it.
FIELD_WORDS = {"security.on_premises_only": "on-premises only", "security.data_residency": "data residency",
               "security.data_sensitivity": "regulated data", "security.transparency_required": "transparency",
               "needs.customization": "customization", "support.ml_expertise": "ML expertise",
               "budget.volume.tokens_per_request": "tokens per request", "needs.tasks": "tasks"}


def field_words(constraint: str) -> str:
    """"on-premises only and transparency" for "security.on_premises_only + security.transparency_required"."""
    return " and ".join(FIELD_WORDS.get(c, c) for c in constraint.split(" + "))


@dataclass(frozen=True)
class Relaxation:
    constraint: str  # the requirement field, as its dotted path in the file
    change: str  # what to set it to, in words
    allows: tuple[str, ...]  # model ids that would become eligible (within the budget stretch, for a budget)
    cheapest: str = ""  # with a budget: the cheapest offer it allows, in words with its cost


def eligible_models(req: Requirements, catalog: Catalog, tasks: tuple[str, ...] | None = None) -> list[str]:
    """Models with at least one offer that passes every hard constraint for `tasks` (all tasks by default)."""
    tasks = req.tasks if tasks is None else tasks
    found = []
    for model in catalog.models.values():
        if any(t not in model.tasks for t in tasks):
            continue
        if model_exclusions(model, req, check_tasks=False, catalog=catalog):
            continue
        if any(not deployment_exclusions(d, model, req, tasks, catalog) for d in model.deployments):
            found.append(model.id)
    return found


def _variants(req: Requirements, constraint: str, catalog: Catalog) -> list[tuple[str, Requirements]]:
    if constraint == "security.on_premises_only" and req.on_premises_only:
        return [("false (allow hosted APIs)", replace(req, on_premises_only=False))]
    if constraint == "security.data_residency" and req.data_residency:
        return [("any region (remove data_residency)", replace(req, data_residency=()))]
    if constraint == "security.data_sensitivity" and req.data_sensitivity == "regulated":
        return [("confidential (not regulated)", replace(req, data_sensitivity="confidential"))]
    if constraint == "security.transparency_required" and req.transparency_required:
        return [("false", replace(req, transparency_required=False))]
    if constraint == "needs.customization":
        return [(value, replace(req, customization=value))
                for value in ("prompting", "fine-tuning", "full-control") if value != req.customization]
    if constraint == "support.ml_expertise" and req.ml_expertise != "strong":
        return [("strong (hire or partner for ML expertise)", replace(req, ml_expertise="strong"))]
    if constraint == "budget.volume.tokens_per_request" and req.volume and req.volume.tokens_per_request:
        windows = [w for m in catalog.models.values() for d in m.deployments
                   for w in [context_limits(m, d)[0]] if w and w < req.volume.tokens_per_request]
        if windows:
            fits = max(windows)
            smaller = Volume(req.volume.requests_per_month, fits, req.volume.images_per_month)
            return [(f"at most {fits:,} tokens per request (split longer inputs)", replace(req, volume=smaller))]
    return []


def relaxations(req: Requirements, catalog: Catalog, excluded: dict[str, list[str]]) -> list[Relaxation]:
    """Each constraint the exclusions rest on that, relaxed alone, makes some model eligible."""
    constraints = dict.fromkeys(r.constraint for reasons in excluded.values() for r in reasons
                                if isinstance(r, Exclusion) and r.constraint not in (LIFECYCLE, CATALOG))
    found: list[Relaxation] = []
    for constraint in constraints:
        if constraint == "needs.tasks":
            covered = [t for t in req.tasks if eligible_models(req, catalog, (t,))]
            if covered and len(covered) < len(req.tasks):
                dropped = [t for t in req.tasks if t not in covered]
                allows = tuple(dict.fromkeys(m for t in covered for m in eligible_models(req, catalog, (t,))))
                found.append(Relaxation(constraint, "drop " + ", ".join(dropped) + " (or serve it separately)", allows))
            continue
        for change, relaxed in _variants(req, constraint, catalog):
            allows = tuple(m for m in eligible_models(relaxed, catalog, _coverable(relaxed, catalog)))
            if allows:
                found.append(Relaxation(constraint, change, allows))
    if not found:  # no single change helps: the pairs of changes that do
        fields = [c for c in constraints if c != "needs.tasks"]
        for i, first in enumerate(fields):
            for second in fields[i + 1:]:
                for change_a, relaxed_a in _variants(req, first, catalog):
                    for change_b, relaxed in _variants(relaxed_a, second, catalog):
                        allows = tuple(eligible_models(relaxed, catalog, _coverable(relaxed, catalog)))
                        if allows:
                            found.append(Relaxation(f"{first} + {second}", f"{change_a}, and {second} to {change_b}",
                                                    allows))
    return found


def affordable_relaxations(req: Requirements, catalog: Catalog, limit: float) -> list[Relaxation]:
    """Nothing eligible fits the budget: each hard constraint that, relaxed alone, would allow an
    offer costing at most `limit` a month (the marketing team that must fine-tune may find the
    hosted API within budget once prompting is enough)."""
    from modelmemo.decision.costs import estimate

    constraints: dict[str, None] = {}
    covering = [m for m in catalog.models.values() if all(t in m.tasks for t in req.tasks)]
    for model in covering:
        reasons = list(model_exclusions(model, req, catalog=catalog))
        for d in model.deployments:
            reasons += deployment_exclusions(d, model, req, req.tasks, catalog)
        for r in reasons:
            if isinstance(r, Exclusion) and r.constraint not in (LIFECYCLE, CATALOG, "needs.tasks"):
                constraints.setdefault(r.constraint)
    found = []
    for constraint in constraints:
        for change, relaxed in _variants(req, constraint, catalog):
            offers = []
            for model in covering:
                if model_exclusions(model, relaxed, catalog=catalog):
                    continue
                for d in model.deployments:
                    if deployment_exclusions(d, model, relaxed, relaxed.tasks, catalog):
                        continue
                    cost = estimate(model, d, relaxed, catalog, relaxed.tasks)
                    if cost.low is not None and cost.low <= limit:
                        offers.append((cost.low, model, d, cost))
            if offers:
                offers.sort(key=lambda o: (o[0], o[1].id, o[2].id))
                _, model, d, cost = offers[0]
                where = f"via {d.provider}" if d.is_api else "self-hosted"
                trains = d.value("trains_on_prompts") if d.is_api else "no"
                caveat = ("" if trains == "no" else " (it trains on prompts by default)" if trains == "yes"
                          else " (whether it trains on prompts is not published)")
                found.append(Relaxation(constraint, change, tuple(dict.fromkeys(o[1].id for o in offers)),
                                        f"{model.name} {where} at {cost.label()}{caveat}"))
    return found


def _coverable(req: Requirements, catalog: Catalog) -> tuple[str, ...]:
    """All tasks when some model covers them all, else each task alone is judged (the combination)."""
    if any(all(t in m.tasks for t in req.tasks) for m in catalog.models.values()):
        return req.tasks
    return tuple(t for t in req.tasks if any(t in m.tasks for m in catalog.models.values()))[:1]
