"""The PDF's compact forms of what the HTML and JSON state in full: facts grouped per offer with
their short labels, the sources a PDF fact cites, exclusions grouped by their first reason, and a
factor reason reduced to what differs between two models. Derived from the memo dict alone."""

from __future__ import annotations

import re

from typing import Any

from modelmemo.decision.words import join_and, language_name, sentence, task_label


def fact_groups(memo: dict[str, Any], digest: dict[str, Any]) -> list[dict[str, Any]]:
    """Facts grouped by (model, deployment) in memo order; `own_date` when a fact's as-of date
    differs from its numbered source's check date (then the date is printed beside the fact).
    `web_only`: a runner-up's facts, which the HTML and JSON carry but the PDF leaves out."""
    source_dates = {s["n"]: s["as_of"] for s in memo.get("sources") or []}
    picked = set(digest["picked"])
    groups: list[dict[str, Any]] = []
    for fact in memo.get("facts") or []:
        key = (fact.get("model", ""), fact.get("deployment", ""))
        if not groups or groups[-1]["key"] != key:
            groups.append({"key": key, "model": key[0], "deployment_label": fact.get("deployment_label")
                           or key[1], "facts": [], "web_only": bool(key[0]) and key[0] not in picked})
        groups[-1]["facts"].append({**fact, "own_date": source_dates.get(fact.get("source_ref")) != fact.get("as_of"),
                                    **_pdf_fact_text(fact, memo)})
    for group in groups:
        shown = [f for f in group["facts"] if f["in_pdf"]]
        group["web_only"] = group["web_only"] or not shown  # nothing of it in the PDF's compact list
        for f in group["facts"]:  # the PDF's last fact of a group ends without a separator
            f["pdf_last"] = bool(shown) and f is shown[-1]
    return groups


def _pdf_fact_text(fact: dict[str, Any], memo: dict[str, Any]) -> dict[str, str]:
    """The PDF's compact wording of a fact (the HTML prints the full label and value): a quality
    fact without its scale's description, a long language list as the asked languages plus a count."""
    label, value = str(fact.get("label", "")), str(fact.get("value", ""))
    name = str(fact.get("fact", ""))
    if name.startswith("quality."):
        label = f"Quality, {task_label(name.split('.', 1)[1])}"
    if name == "languages" and value.count(", ") >= 6:
        listed = value.split(", ")
        asked = [language_name(c) for c in (memo.get("requirements") or {}).get("languages") or []
                 if language_name(c) in listed]
        value = f"{len(listed)} languages" + (f", including {', '.join(asked)}" if asked else "")
    return {"pdf_label": label, "pdf_value": value, "in_pdf": name in PDF_FACTS or name.startswith("quality.")}


# The facts the PDF's compact list prints for each pick: what the scores and costs turn on (price,
# capacity, licence, data handling, SLA, quality). The rest (openness, tasks, languages, lifecycle,
# ...) is stated on pages 1-3 already or is background; the HTML and JSON list every fact.
PDF_FACTS = frozenset({"license", "commercial_use", "context_tokens", "input_usd_per_1m", "output_usd_per_1m",
                       "embedding_usd_per_1m", "usd_per_image", "gpu_class", "gpu_hour_usd", "tokens_per_second",
                       "images_per_hour", "data_residency", "trains_on_prompts", "soc2", "hipaa_baa", "sla",
                       "input_token_share", "hours_per_month"})


def pdf_sources(memo: dict[str, Any], groups: list[dict[str, Any]]) -> dict[int, str]:
    """The sources a fact printed in the PDF cites, by number, each with its PDF title (the others
    are HTML-only)."""
    cited = {f["source_ref"] for g in groups if not g["web_only"] for f in g["facts"] if f.get("in_pdf", True)}
    return {s["n"]: pdf_source_title(str(s.get("title", ""))) for s in memo.get("sources") or [] if s["n"] in cited}


def pdf_source_title(title: str) -> str:
    """A source's title without the catalog's parenthesised annotations (what the copy is, what it
    says, when it was verified), for the PDF's list; "third party" is kept, as it changes how far
    a reader trusts the fact. The annotations average 100 characters a source, which made the
    PDF's source list a tenth of its render work; the HTML and JSON print each title whole."""
    cut = title.find(" (")
    if cut < 0:
        return title
    if cut >= 15:
        short = title[:cut].rstrip(" ,;:")
    else:  # a bare name ("Service tiers"): keep the annotation's first clause, whose page it is
        ends = [i for i in (title.find(mark, cut) for mark in (")", ";", ":", ",")) if i > 0]
        short = title[:min(ends)] + ")" if ends else title
    return short + " (third party)" if "third party" in title[len(short):].lower() else short


def short_reason(reasons: list[str]) -> str:
    """An exclusion's first reason without its parenthesised detail, for the PDF's one-paragraph
    list of excluded models (the HTML and JSON keep every reason in full)."""
    first = str(reasons[0]) if reasons else "excluded"
    # Parenthesised detail goes ("Mistral AI (La Plateforme) API: ..." keeps its "API: ..." part).
    head = re.sub(r"\s+\([^()]*\)", "", first).split("; ", 1)[0].rstrip(" .:")
    return head


def excluded_groups(memo: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The excluded models grouped by their first reason (short form), largest group first: the
    PDF names five models that lack image generation in one line instead of five clauses."""
    names = memo.get("model_names") or {}
    groups: dict[str, list[str]] = {}
    for model_id, reasons in (memo.get("excluded") or {}).items():
        head = short_reason(reasons)
        missing = head.removeprefix("does not cover required task(s): ")
        if missing != head:  # "Lacks image generation" reads better than the engine's full phrase
            head = "lacks " + join_and(missing.split(", "))
        groups.setdefault(head[:1].upper() + head[1:], []).append(names.get(model_id, model_id))
    return sorted(groups.items(), key=lambda g: -len(g[1]))


def _clauses(reason: str) -> list[str]:
    """A factor reason's top-level clauses: split at "; " outside parentheses, full stop removed."""
    clauses, depth, start = [], 0, 0
    text = str(reason).strip().rstrip(".")
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and text.startswith("; ", i):
            clauses.append(text[start:i])
            start = i + 2
    clauses.append(text[start:])
    return [c.strip() for c in clauses if c.strip()]


def differences(reason_a: str, reason_b: str) -> tuple[str, str]:
    """Two models' reasons for one factor, each reduced to the clauses the other does not share
    ("only a floor is known (-10)" or "50% fit + 50% quality" said of both explains nothing about
    the gap). For the PDF's pick-vs-runner-up table; the HTML and JSON keep the full reasons. When
    every clause is shared (the scores then differ for a reason the words do not show), both are
    returned whole."""
    a, b = _clauses(reason_a), _clauses(reason_b)
    key = (lambda c: c[:1].lower() + c[1:])
    shared = {key(c) for c in a} & {key(c) for c in b}
    only_a = [c for c in a if key(c) not in shared]
    only_b = [c for c in b if key(c) not in shared]
    if not only_a and not only_b:
        return str(reason_a), str(reason_b)
    # A side with nothing of its own (the other adds a penalty) is shown whole, never as blank.
    return sentence(only_a or a), sentence(only_b or b)
