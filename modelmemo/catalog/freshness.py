"""Catalog freshness: which facts rest on sources that were last checked too long ago.

Every fact in the catalog (model facts, deployment facts and the methodology assumptions)
names a source with an `as_of` date. A fact is *stale* when its source was checked more than
`max_age_days` days before `today`, i.e. when `as_of < today - max_age_days`.

Quality evidence (`models.<id>.quality.<task>`) is checked like any fact.

A source may carry `stale_ok: <reason>` when no newer source was found for its facts (a dated
licence text, a paper, a page with no copy newer than the one used). Such facts are still listed
when old, with the reason, so a reader sees what is old and why. The report says "no newer source
found", in the reader's words: how the catalog's sources are stored is the maintainers' business.

`modelmemo catalog --check [--max-age-days N]` prints `format_report(...)` and exits 1 when
`stale_facts(...)` is not empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterator

from modelmemo.catalog.load import Catalog, Fact

DEFAULT_MAX_AGE_DAYS = 180


@dataclass(frozen=True)
class StaleFact:
    """One fact whose source is older than the allowed age.

    `model_id` and `deployment_id` are "" where they do not apply: a model-level fact has no
    deployment, and a methodology assumption has neither (its `fact` is then the dotted path,
    e.g. `assumptions.ops_usd_per_month.strong`).
    """

    model_id: str
    deployment_id: str
    fact: str
    source_key: str
    source_url: str
    as_of: date
    age_days: int
    reason: str = ""  # the source's `stale_ok`: why no newer source was found

    @property
    def label(self) -> str:
        """`model.fact`, `model.deployment.fact` or `assumptions.name` for reports."""
        return ".".join(part for part in (self.model_id, self.deployment_id, self.fact) if part)


def _assumption_facts(node: Any, path: str) -> Iterator[tuple[str, Fact]]:
    if isinstance(node, Fact):
        yield path, node
    elif isinstance(node, dict):
        for name, child in node.items():
            yield from _assumption_facts(child, f"{path}.{name}")


def all_facts(catalog: Catalog) -> Iterator[tuple[str, str, str, Fact]]:
    """Every (model id, deployment id, fact name, Fact), assumptions included (model and deployment "")."""
    yield from catalog.facts()
    for model in catalog.models.values():
        for task, evidence in model.quality.items():
            value = "unknown" if evidence.value is None else evidence.value
            yield model.id, "", f"quality.{task}", Fact(value, evidence.source, evidence.note)
    for path, fact in _assumption_facts(catalog.assumptions, "assumptions"):
        yield "", "", path, fact


def count_facts(catalog: Catalog) -> int:
    """How many facts `stale_facts` checks (for the "All N facts ..." line of the report)."""
    return sum(1 for _ in all_facts(catalog))


def cutoff(max_age_days: int, today: date) -> date:
    """Sources checked before this date are stale."""
    return today - timedelta(days=max_age_days)


def stale_facts(catalog: Catalog, max_age_days: int = DEFAULT_MAX_AGE_DAYS,
                today: date | None = None) -> list[StaleFact]:
    """Facts whose source was checked more than `max_age_days` days before `today`.

    Sorted oldest first (age descending), then by model id, deployment id and fact name.
    """
    if max_age_days < 0:
        raise ValueError(f"max_age_days must be 0 or more, got {max_age_days}")
    today = today or date.today()
    stale = []
    for model_id, deployment_id, name, fact in all_facts(catalog):
        age = (today - fact.source.as_of).days
        if age > max_age_days:
            stale.append(StaleFact(model_id, deployment_id, name, fact.source.key, fact.source.url,
                                   fact.source.as_of, age, fact.source.stale_ok))
    stale.sort(key=lambda s: (-s.age_days, s.model_id, s.deployment_id, s.fact))
    return stale


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_report(stale: list[StaleFact], max_age_days: int, today: date, *,
                  total_facts: int | None = None) -> str:
    """A readable report, grouped by source (oldest source first).

    With nothing stale: "All N facts were checked within the last 180 days." (N from
    `total_facts`, e.g. `count_facts(catalog)`; without it the sentence says "All facts").
    """
    if not stale:
        if total_facts == 1:
            what = "The only fact was"
        elif total_facts is None:
            what = "All facts were"
        else:
            what = f"All {total_facts} facts were"
        return f"{what} checked within the last {_plural(max_age_days, 'day')}."
    groups: dict[str, list[StaleFact]] = {}
    for item in stale:
        groups.setdefault(item.source_key, []).append(item)
    ordered = sorted(groups.items(), key=lambda kv: (kv[1][0].as_of, kv[0]))
    lines = [
        f"{_plural(len(stale), 'fact')} older than {_plural(max_age_days, 'day')} "
        f"(checked before {cutoff(max_age_days, today).isoformat()}):",
    ]
    for key, items in ordered:
        first = items[0]
        lines.append("")
        lines.append(f"source '{key}': {first.source_url}")
        lines.append(f"  checked {first.as_of.isoformat()}, {_plural(first.age_days, 'day')} ago; "
                     f"{_plural(len(items), 'fact')} {'relies' if len(items) == 1 else 'rely'} on it:")
        if first.reason:
            lines.append(f"  no newer source found: {first.reason}")
        for item in sorted(items, key=lambda s: (s.model_id, s.deployment_id, s.fact)):
            lines.append(f"    - {item.label}")
    lines.append("")
    open_keys = [key for key, items in ordered if not items[0].reason]
    if open_keys:
        lines.append(f"Re-check {_plural(len(open_keys), 'source')} and update their as_of dates "
                     "(and the facts, if the pages changed).")
    if len(open_keys) < len(ordered):
        kept = len(ordered) - len(open_keys)
        lines.append(f"{_plural(kept, 'source')} kept as {'it is' if kept == 1 else 'they are'}: no newer source "
                     "found (reason given above); refresh when a newer one appears.")
    return "\n".join(lines)


def passed_deprecations(catalog: Catalog, today: date | None = None) -> list[str]:
    """Offers still marked deprecated although their date has passed: the provider no longer serves
    them (the decision treats them as retired); the catalog should say so. One line each."""
    today = today or date.today()
    found = []
    for model in catalog.models.values():
        for deployment in model.deployments:
            life = deployment.lifecycle
            if life.status == "deprecated" and not life.unlisted and life.date is not None and life.date <= today:
                found.append(passed_deprecation(f"{model.id}/{deployment.id}", life.date, life.successor))
    return found


def passed_deprecation(offer: str, until: date, successor: str) -> str:
    """The line `catalog --check` and `catalog sync` print for an offer deprecated until `until`."""
    named = f"; successor {successor}" if successor else ""
    return (f"{offer}: deprecated until {until.isoformat()}, which has passed: the provider no longer serves "
            f"it{named}; mark it retired or remove it")
