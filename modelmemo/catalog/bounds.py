"""Sane bounds for every number and date in a catalog file, checked when the file is read.

The schema says a price is a number of at least 0; a figure of 1e308 is one, and it turned into
infinite costs, `Infinity` in memo JSON and failed memos (issue 23). Every numeric fact has a
range here far beyond any real offer, so a slip of the digits or of the unit (USD per token for
USD per 1M tokens) is refused when the catalog is read, in one line naming the file, the line, the
field and what to write instead: before any input is touched. `.inf`, `.nan` and the like (text to
the strict YAML reader, and to the schema only "not a number") get the same one line.

One table (BOUNDS, QUALITY_BOUNDS, DATES), rendered into README "The catalog" (`readme_table`;
tests/test_catalog_bounds.py fails when they differ). `catalog sync` holds a listed figure outside
its range for review instead of applying it (catalog/sync.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator

from modelmemo.inputs.loading import JsonPath, LoadedDocument
from modelmemo.inputs.validation import dotted


@dataclass(frozen=True)
class Bound:
    """The values one kind of figure may take (both ends allowed)."""

    what: str  # "token price"
    unit: str  # "USD per 1M tokens"
    low: float
    high: float
    why: str  # why the upper end is far enough (README)

    def admits(self, value: float) -> bool:
        return self.low <= value <= self.high  # nan fails both

    def range_text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{_number(self.low)} to {_number(self.high)}{unit}"


TOKEN_PRICE = Bound("token price", "USD per 1M tokens", 0, 10_000,
                    "the dearest listed model charges a few hundred USD per 1M output tokens")
# fact name -> its bound: where it is a model fact, a deployment fact, a synced fact or an assumption
BOUNDS: dict[str, Bound] = {
    "input_usd_per_1m": TOKEN_PRICE,
    "output_usd_per_1m": TOKEN_PRICE,
    "embedding_usd_per_1m": TOKEN_PRICE,
    "usd_per_image": Bound("image price", "USD per image", 0, 1_000, "image APIs charge cents per image"),
    "gpu_hour_usd": Bound("GPU instance price", "USD per hour", 0, 10_000,
                          "an 8-GPU H100 instance lists at about 100 USD an hour"),
    "tokens_per_second": Bound("throughput", "tokens per second", 0, 1_000_000,
                               "one instance generates thousands of tokens a second, batched"),
    "images_per_hour": Bound("image throughput", "images per hour", 0, 1_000_000,
                             "one instance generates thousands of images an hour"),
    "context_tokens": Bound("context window", "tokens", 0, 100_000_000, "the longest context offered is 10M tokens"),
    "max_output_tokens": Bound("output limit", "tokens", 0, 100_000_000, "no output limit is near the context limits"),
    "hours_per_month": Bound("hours per month", "hours", 0, 744, "31 days of 24 hours"),
    "ops_usd_per_month": Bound("operations cost", "USD per month", 0, 10_000_000,
                               "a full team's engineering time is far below it"),
    "input_token_share": Bound("input token share", "", 0, 1, "a share"),
}
# quality evidence (value, ci, proxy value and ci), by the kind of its scale
QUALITY_BOUNDS: dict[str, tuple[Bound, Bound]] = {
    "percent": (Bound("score", "on a 0-100 scale", 0, 100, "a percentage"),
                Bound("interval half-width", "points", 0, 100, "a percentage")),
    "elo": (Bound("rating", "rating points", 0, 10_000, "arena boards rate models around 1,000 to 1,500"),
            Bound("interval half-width", "rating points", 0, 1_000, "arena boards publish intervals of a few points")),
}
DATES = (date(2000, 1, 1), date(2100, 12, 31))  # sources' as_of and lifecycle dates: a wrong century is a typo
_DATE_WHY = "a source checked, or an offer ending, outside these years is a typo"

_NON_FINITE = {"inf", "+inf", "-inf", ".inf", "+.inf", "-.inf", "infinity", "+infinity", "-infinity", "nan", ".nan",
               "+nan", "-nan"}
_TAKES_UNKNOWN = {"input_usd_per_1m", "output_usd_per_1m", "embedding_usd_per_1m", "usd_per_image",
                  "tokens_per_second", "images_per_hour", "context_tokens", "max_output_tokens"}


@dataclass(frozen=True)
class BoundProblem:
    path: JsonPath
    message: str  # what is wrong and what to write instead


def number_problems(document: LoadedDocument, scale_kinds: dict[str, str]) -> list[BoundProblem]:
    """Every number or date of a catalog file outside its bounds, and every non-finite one, in the
    file's order. `scale_kinds`: the kind of each quality scale declared so far (this file's and
    earlier files'); evidence on a scale declared nowhere is load_catalog's to report."""
    data = document.data
    if not isinstance(data, dict):
        return []  # the schema says what is wrong with it
    problems = [p for path, name, value in _facts(data) if (p := _fact_problem(path, name, value))]
    problems += [p for path, kind, which, value in _quality(data, scale_kinds)
                 if (p := _quality_problem(path, kind, which, value))]
    problems += [p for path, value in _dates(data) if (p := _date_problem(path, value))]

    def order(problem: BoundProblem) -> tuple[int, int]:
        return document.position_of(problem.path) or (0, 0)

    return sorted(problems, key=order)


def describe(problems: list[BoundProblem], document: LoadedDocument, label: str) -> str:
    """One line for the first problem: file:line:column: field: what is wrong; what to write."""
    first = problems[0]
    line, column = document.position_of(first.path) or (None, None)
    where = f"{label}:{line}:{column}" if line else label
    more = f" (and {len(problems) - 1} more in this file)" if len(problems) > 1 else ""
    return f"{where}: {_field(first.path)}: {first.message}{more}"


def out_of_bounds(name: str, value: Any) -> Bound | None:
    """The bound a synced figure for fact `name` breaks, or None (catalog/sync.py holds it then)."""
    bound = BOUNDS.get(name)
    if bound is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return None if bound.admits(float(value)) else bound


def readme_table() -> str:
    """The Markdown table README "The catalog" shows."""
    rows: dict[str, list[str]] = {}
    for name, bound in BOUNDS.items():
        rows.setdefault(f"| {bound.what} | {bound.range_text()} | {{names}} | {bound.why} |", []).append(f"`{name}`")
    lines = [row.format(names=", ".join(names)) for row, names in rows.items()]
    for kind, (value, ci) in QUALITY_BOUNDS.items():
        lines.append(f"| quality {value.what} ({kind} scale) | {value.range_text()} | `quality.*.value`, "
                     f"`proxy.value` | {value.why} |")
        lines.append(f"| quality {ci.what} ({kind} scale) | {ci.range_text()} | `quality.*.ci`, `proxy.ci` | {ci.why} |")
    lines.append(f"| date | {DATES[0].isoformat()} to {DATES[1].isoformat()} | `sources.*.as_of`, `lifecycle.date` "
                 f"| {_DATE_WHY} |")
    return "\n".join(["| Figure | Allowed | Fields | Why that is far enough |", "|---|---|---|---|", *lines])


# --- where the figures are ---------------------------------------------------------------------


def _facts(data: dict[str, Any]) -> Iterator[tuple[JsonPath, str, Any]]:
    """(path of the value, fact name, value) of every fact with a bound."""
    def fact(path: JsonPath, name: str, raw: Any) -> Iterator[tuple[JsonPath, str, Any]]:
        if name in BOUNDS and isinstance(raw, dict) and "value" in raw:
            yield path + ("value",), name, raw["value"]

    for model_id, model in _items(data.get("models")):
        for name, raw in _items(model.get("facts") if isinstance(model, dict) else None):
            yield from fact(("models", model_id, "facts", name), name, raw)
        deployments = model.get("deployments") if isinstance(model, dict) else None
        for index, deployment in enumerate(deployments if isinstance(deployments, list) else []):
            for name, raw in _items(deployment):
                yield from fact(("models", model_id, "deployments", index, name), name, raw)
    for offer, update in _items(data.get("offer_updates")):
        for name, raw in _items(update.get("facts") if isinstance(update, dict) else None):
            yield from fact(("offer_updates", offer, "facts", name), name, raw)
    assumptions = data.get("assumptions")
    for name, raw in _items(assumptions):
        if name == "ops_usd_per_month":
            for level, cost in _items(raw):
                yield from fact(("assumptions", name, level), name, cost)
        else:
            yield from fact(("assumptions", name), name, raw)


def _quality(data: dict[str, Any], scale_kinds: dict[str, str]) -> Iterator[tuple[JsonPath, str, int, Any]]:
    """(path, scale kind, 0 for a value or 1 for an interval, figure) of every quality figure."""
    kinds = dict(scale_kinds)
    for key, scale in _items(data.get("quality_scales")):
        if isinstance(scale, dict) and scale.get("kind") in QUALITY_BOUNDS:
            kinds[key] = scale["kind"]
    for model_id, model in _items(data.get("models")):
        for task, entry in _items(model.get("quality") if isinstance(model, dict) else None):
            kind = kinds.get(entry.get("scale")) if isinstance(entry, dict) else None
            if kind is None:
                continue
            path = ("models", model_id, "quality", task)
            for owner, at in ((entry, path), (entry.get("proxy"), path + ("proxy",))):
                if isinstance(owner, dict):
                    for which, field in enumerate(("value", "ci")):
                        if field in owner:
                            yield at + (field,), kind, which, owner[field]


def _dates(data: dict[str, Any]) -> Iterator[tuple[JsonPath, Any]]:
    for key, source in _items(data.get("sources")):
        if isinstance(source, dict) and "as_of" in source:
            yield ("sources", key, "as_of"), source["as_of"]
    for model_id, model in _items(data.get("models")):
        deployments = model.get("deployments") if isinstance(model, dict) else None
        for index, deployment in enumerate(deployments if isinstance(deployments, list) else []):
            lifecycle = deployment.get("lifecycle") if isinstance(deployment, dict) else None
            if isinstance(lifecycle, dict) and "date" in lifecycle:
                yield ("models", model_id, "deployments", index, "lifecycle", "date"), lifecycle["date"]
    for offer, update in _items(data.get("offer_updates")):
        lifecycle = update.get("lifecycle") if isinstance(update, dict) else None
        if isinstance(lifecycle, dict) and "date" in lifecycle:
            yield ("offer_updates", offer, "lifecycle", "date"), lifecycle["date"]


# --- what is wrong with one figure ---------------------------------------------------------------


def _fact_problem(path: JsonPath, name: str, value: Any) -> BoundProblem | None:
    bound = BOUNDS[name]
    unknown = ", or write `unknown` if no source gives it" if name in _TAKES_UNKNOWN else ""
    return _problem(path, bound, value, f"check the digits and the unit ({bound.unit or 'a share from 0 to 1'})"
                                        f"{unknown}")


def _quality_problem(path: JsonPath, kind: str, which: int, value: Any) -> BoundProblem | None:
    bound = QUALITY_BOUNDS[kind][which]
    return _problem(path, bound, value, f"check the figure and that its scale is a {kind} scale")


def _problem(path: JsonPath, bound: Bound, value: Any, fix: str) -> BoundProblem | None:
    if isinstance(value, str) and value.strip().lower() in _NON_FINITE:
        return BoundProblem(path, f"{value} is not a finite number; write the {bound.what} as a number from "
                                  f"{bound.range_text()}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # text, lists...: the schema's to report
    if not math.isfinite(value):
        return BoundProblem(path, f"{value} is not a finite number; write the {bound.what} as a number from "
                                  f"{bound.range_text()}")
    if bound.admits(value):
        return None
    return BoundProblem(path, f"{_number(value)} is not a sane {bound.what} (allowed: {bound.range_text()}); {fix}")


def _date_problem(path: JsonPath, value: Any) -> BoundProblem | None:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None  # not a date: the schema's to report
    if day is None or DATES[0] <= day <= DATES[1]:
        return None
    return BoundProblem(path, f"{value} is outside {DATES[0].isoformat()} to {DATES[1].isoformat()}; check the year")


def _items(mapping: Any) -> Iterator[tuple[str, Any]]:
    return iter(mapping.items()) if isinstance(mapping, dict) else iter(())


def _field(path: JsonPath) -> str:
    return dotted(path[:-1] if path and path[-1] == "value" else path)


def _number(value: float) -> str:
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:g}"
