"""What page 1, the index and the email say about a memo: derived from the memo dict alone (never
stored), so a memo read back from disk (an unchanged memo in the index, an email built from a
stored memo) gets the same statements as a fresh one. Also the chart's geometry and the PDF's
compact facts."""

from __future__ import annotations

from typing import Any

from modelmemo.decision.decide import UNMEASURED_NOTE, UNMEASURED_PICK_NOTE
from modelmemo.decision.words import join_and, language_name, sentence, task_label
from modelmemo.memo.budget_words import cost_lines, cost_statement
from modelmemo.memo.document import SLA_RISK
from modelmemo.inputs.requirements import FACTOR_LABELS
# The stale-fact age and the "fragile" multipliers are in the settings table (modelmemo/settings.py).
from modelmemo.settings import FRAGILE_LESS, FRAGILE_MORE, STALE_AFTER_DAYS


def _where(score: dict[str, Any]) -> str:
    if score.get("deployment_kind") == "api":
        return f"managed API via {score.get('provider')}"
    provider = score.get("provider")
    return "self-hosted on your infrastructure" if provider in (None, "", "your infrastructure") \
        else f"self-hosted via {provider}"


def _cost_words(label: str) -> str:
    # A cost label alone after a score ("score 87.2, unknown") does not say what is unknown.
    return "cost unknown" if label == "unknown" else label


# Engine notes a reader must see on page 1 (their openings, as decision.decide writes them): an
# open-source combination that covers every task when no single open-source model does, and a
# runner-up that is itself a tie. The PDF's Appendix leaves out the notes page 1 states.
ALTERNATIVE_NOTE = "No single open-source model covers every task"
RUNNER_UP_TIE_NOTE = "The runner-up is a tie"

# decision.decide's notes that say what could make the pick wrong (their openings): a model whose
# unmeasured quality could overtake it, vendor facts nobody confirmed. (A pick without quality
# evidence is a flag: "Quality unmeasured".)
RISK_NOTES = (UNMEASURED_NOTE, "Unconfirmed facts could change the pick")


def pick_risk_notes(memo: dict[str, Any]) -> list[str]:
    return [str(n) for n in memo.get("notes") or [] if str(n).startswith(RISK_NOTES)]


def decision_digest(memo: dict[str, Any]) -> dict[str, Any]:
    """Page 1 in data: headline, picks, cost vs budget, flags, top risks, next step."""
    from datetime import date as _date

    names: dict[str, str] = memo.get("model_names") or {}
    scores: dict[str, Any] = memo.get("scores") or {}
    req = memo.get("requirements") or {}
    budget = req.get("monthly_usd")
    recommended = memo.get("recommended") or []
    tied_ids = list(memo.get("tied") or [])
    combination = bool(recommended) and recommended[0].get("task") is not None
    name = lambda m: names.get(m, m)  # noqa: E731

    def pick_view(model_id: str, task: str | None = None) -> dict[str, Any]:
        s = scores.get(model_id) or {}
        return {"model": model_id, "deployment": s.get("deployment"), "name": name(model_id), "task": task, "task_label": task_label(task),
                "openness": s.get("openness"), "where": _where(s) if s else "", "total": s.get("total"),
                "cost_label": _cost_words((s.get("cost") or {}).get("label", "unknown"))}

    if not recommended:
        kind = "none"
        picks: list[dict[str, Any]] = []
        headline = "No catalog model meets the requirements"
    elif combination:
        kind = "combination"
        picks = [dict(pick_view(p["model"], p.get("task")), tied=[pick_view(t, p.get("task")) for t in p.get("tied") or []])
                 for p in recommended]
        parts = [(" or ".join([p["name"]] + [t["name"] for t in p["tied"]])) + f" for {p['task_label']}" for p in picks]
        headline = "Use " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])
    elif tied_ids:
        kind = "tie"
        picks = [dict(pick_view(m), tied=[]) for m in [recommended[0]["model"], *tied_ids]]
        headline = "Pilot both: " + " and ".join(p["name"] for p in picks) + " are tied"
    else:
        kind = "single"
        picks = [dict(pick_view(recommended[0]["model"]), tied=[])]
        headline = f"Choose {picks[0]['name']}, {picks[0]['where']}"

    # Cost vs budget: a combination adds its picks; a tie states each tied option's cost.
    unknown_why = "no volume in the requirement file" if not req.get("volume") else "a price the catalog does not know"
    costs = []
    if kind == "combination" and memo.get("combination_cost"):
        cc = memo["combination_cost"]
        low, high = cc.get("low_usd"), cc.get("high_usd")
        planning = None if low is None else (low if high is None else (low + high) / 2)
        costs.append(dict(cost_statement(low, high, planning, budget, cc.get("label", "unknown").split(" (")[0],
                                          unknown_why), who="together"))
    else:
        for p in picks:
            s = scores.get(p["model"]) or {}
            c = s.get("cost") or {}
            costs.append(dict(cost_statement(c.get("low_usd"), c.get("high_usd"), s.get("monthly_cost_usd"), budget,
                                              c.get("label", "unknown"), unknown_why), who=p["name"]))

    flags: list[dict[str, str]] = []

    def flag(key: str, label: str, detail: str) -> None:
        flags.append({"key": key, "label": label, "detail": detail})

    if kind == "tie":
        flag("tie", "Tie", memo.get("tie_separation") or "no factor separates them")
    elif kind == "combination" and tied_ids:
        flag("tie", "Tie for a task", memo.get("tie_separation") or "")
    statuses = {c["status"] for c in costs}
    if "over" in statuses:
        # Tied picks at the same cost have the same statement: said once.
        flag("over-budget", "Over budget", " ".join(dict.fromkeys(c["text"] for c in costs if c["status"] == "over")))
    if any(c.get("floor") for c in costs):
        flag("cost-floor", "Cost is a floor", "only a minimum is known; the real cost may exceed the budget")
    if "unknown" in statuses:
        flag("cost-unknown", "Cost unknown", unknown_why)
    sens = memo.get("sensitivity") or {}
    smallest = (sens.get("top_pick") or {}).get("smallest") or {}
    multiplier = smallest.get("multiplier")
    fragile = sens.get("applicable") and isinstance(multiplier, (int, float)) and (
        (smallest.get("direction") == "less" and multiplier >= FRAGILE_LESS)
        or (smallest.get("direction") == "more" and multiplier <= FRAGILE_MORE))
    if fragile:  # the threshold only: page 1's Robustness line has the whole sentence
        threshold = "0" if not smallest.get("threshold") else f"{smallest['threshold']:.1f}"
        move = "drops to" if threshold == "0" else "drops below" if smallest.get("direction") == "less" else "rises above"
        flag("fragile", "Fragile pick", f"{name(smallest.get('new_leader'))} comes first if the "
                                        f"{FACTOR_LABELS.get(smallest.get('factor'), smallest.get('factor'))} weight "
                                        f"{move} {threshold} (from {smallest.get('current', 0):g})")
    picked = {p["model"] for p in picks} | {t["model"] for p in picks for t in p.get("tied", [])}
    superseded = sorted({name(f["model"]) for f in memo.get("facts") or []
                         if f.get("fact") == "lifecycle" and f.get("model") in picked
                         and str(f.get("value")).lower() in ("legacy", "retired", "deprecated", "superseded")})
    if superseded:
        flag("superseded", "Superseded model", ", ".join(superseded) + " is superseded by newer releases")
    # A required SLA the pick's route does not publish blocks the decision until it is settled: say
    # which scored offers do have one.
    if req.get("vendor_sla_required"):
        picked_rows = [r for r in memo.get("ranking") or [] if (r.get("model"), r.get("deployment")) in
                       {(p["model"], p.get("deployment")) for p in picks}]
        lacking = [r for r in picked_rows if r.get("sla") != "yes"]
        if lacking:
            with_sla = [r for r in memo.get("ranking") or [] if r.get("sla") == "yes"][:2]
            alternatives = (" Scored offers with one: " + ", ".join(
                f"{name(r['model'])} via {r.get('provider', '')} ({r['total']:.1f})" for r in with_sla) + "."
                if with_sla else " No scored offer publishes one: relax the requirement or negotiate it.")
            flag("sla-unmet", "SLA required, not met", "; ".join(
                f"{name(r['model'])} via {r.get('provider', '')} "
                + ("has no published SLA" if r.get("sla") == "unknown" else "offers none")
                for r in lacking) + "." + alternatives)
    # A deprecated offer is picked only when nothing active fits (decision.decide): its end date and
    # successor belong on page 1.
    picked_offers = {(p["model"], p.get("deployment")) for p in picks}
    ending = [r for r in memo.get("ranking") or [] if (r.get("model"), r.get("deployment")) in picked_offers
              and (r.get("lifecycle") or {}).get("status") == "deprecated"]
    if ending:
        flag("deprecated", "Deprecated offer", " ".join(
            f"{name(r['model'])} via {r.get('provider', '')} ends {r['lifecycle'].get('date') or 'soon'}"
            + (f"; successor {r['lifecycle']['successor']}" if r["lifecycle"].get("successor") else "")
            + "; nothing active meets the hard constraints." for r in ending))
    if memo.get("verdict") == "close-call" and kind != "none":
        flag("close-call", "Close call", memo.get("verdict_reason", ""))
    missing = []
    if kind == "combination":
        covered = {p["task"] for p in picks}
        missing = [task_label(t) for t in req.get("tasks") or [] if t not in covered]
        if missing:
            flag("not-covered", "Task not covered", ", ".join(missing) + ": no eligible model")
    notes = [str(n) for n in memo.get("notes") or []]
    unmeasured = [n for n in notes if n.startswith(UNMEASURED_PICK_NOTE)]
    if unmeasured:  # the pick's quality is a conservative default, not a reading: pilot before committing
        flag("unmeasured", "Quality unmeasured", unmeasured[0][len(UNMEASURED_PICK_NOTE):].strip())
    alternative = [n for n in notes if n.startswith(ALTERNATIVE_NOTE)]
    if alternative:
        flag("alternative", "Open-source alternative", alternative[0])
    # Facts the pick rests on (its own and the shared assumptions): an old fact about the runner-up
    # does not make the pick wrong.
    rests_on = picked | {""}  # "": an assumption every model shares
    dated = sorted((f for f in memo.get("facts") or [] if f.get("as_of") and (f.get("model") or "") in rests_on),
                   key=lambda f: str(f["as_of"]))
    stale_days = None
    if dated:
        oldest_fact = dated[0]
        try:
            today = _date.fromisoformat(str(memo.get("generated_at", ""))[:10])
            stale_days = (today - _date.fromisoformat(str(oldest_fact["as_of"]))).days
        except ValueError:
            stale_days = None
        if stale_days is not None and stale_days > STALE_AFTER_DAYS:
            # Which fact: the reader can judge whether a GPU price or a release date has aged.
            label = str(oldest_fact.get("label") or "a fact")
            label = label if label[:2].isupper() else label[:1].lower() + label[1:]  # "GPU class", "license"
            whose = f" of {name(oldest_fact['model'])}" if oldest_fact.get("model") else ""
            flag("stale", "Stale facts", f"oldest fact used, {label}{whose}, "
                                         f"was checked {oldest_fact['as_of']}, {stale_days} days before this memo")

    # What could make the pick wrong, most decision-relevant first, three at most.
    risks = list(memo.get("risks") or [])
    if any(f["key"] == "sla-unmet" for f in flags):  # the flag states it, with the offers that have one
        risks = [r for r in risks if not r.startswith(SLA_RISK)]
    cost_words = ("over budget", "cannot be estimated", "is a floor")
    ordered: list[str] = []
    if kind == "tie":
        # The Tie flag above carries what would separate them; the risk says what it means.
        ordered.append(f"{' and '.join(p['name'] for p in picks)} are tied: the scores do not choose between "
                       "them; a pilot on your own tasks does.")
    # Missing quality evidence and vendor facts nobody has confirmed that, once known, could overturn
    # the pick (decision.decide's notes): literally "what could make this wrong", right after a tie.
    ordered += pick_risk_notes(memo)
    # One unknown-cost risk is enough on page 1 (the Cost unknown flag names the reason): a tie of
    # two models without a volume would otherwise spend two of the three risks on the same fact.
    cost_risks = [r for r in risks if any(w in r for w in cost_words)]
    unknown = [r for r in cost_risks if "cannot be estimated" in r]
    ordered += cost_risks
    if fragile:
        ordered.append("Fragile: " + sens["top_pick"]["sentence"])
    if superseded:
        ordered += [r for r in risks if "superseded" in r]
    ordered += risks
    top_risks = [r for r in dict.fromkeys(ordered) if r not in unknown[1:]][:3]
    if not top_risks and sens.get("applicable"):
        top_risks = [sens["top_pick"].get("sentence", "")]

    runner = []
    for r in memo.get("runner_up") or []:
        runner.append(pick_view(r["model"], r.get("task")))
    # The cost working for every model page 1 names (picks, tied, runner-up), each with its formula.
    cost_rows = []
    for model_id in dict.fromkeys([p["model"] for p in picks] + [t["model"] for p in picks for t in p.get("tied", [])]
                                  + [r["model"] for r in runner]):
        s = scores.get(model_id) or {}
        c = s.get("cost") or {}
        role = "runner-up" if model_id not in picked else ("tied first" if kind == "tie" or model_id in tied_ids
                                                             else "recommended")
        cost_rows.append(dict(cost_statement(c.get("low_usd"), c.get("high_usd"), s.get("monthly_cost_usd"), budget,
                                              c.get("label", "unknown"), unknown_why),
                              model=model_id, name=name(model_id), where=_where(s) if s else "", role=role,
                              openness=s.get("openness"), formula=list(c.get("formula") or [])))
    subject_flags = [f["label"].lower() for f in flags if f["key"] in
                     ("over-budget", "cost-floor", "cost-unknown", "fragile", "superseded", "not-covered")]
    # Notes page 1 already states (the tie note's content is the Tie flag; a note among the top risks).
    runner_note = next((n for n in notes if n.startswith(RUNNER_UP_TIE_NOTE)), None) if runner else None
    if kind == "tie" and runner and not runner_note:
        # A runner-up above a model tied first reads backwards unless page 1 says why.
        best_runner = max((r.get("total") or 0) for r in runner)
        below = [t for p in picks for t in [p, *p.get("tied", [])] if (t.get("total") or 0) < best_runner]
        if below:
            lower = join_and([f"{t['name']} ({t['total']:.1f})" for t in below])
            runner_note = (f"It scores above {lower}, "
                           f"which {'is' if len(below) == 1 else 'are'} tied first only by the tie rule above; "
                           "the pilot includes it.")
    page1_notes = [n for n in memo.get("notes") or [] if n in top_risks or (kind == "tie" and str(n).startswith("Tie:"))
                   or n in alternative or n == runner_note]
    return {
        "page1_notes": page1_notes, "runner_note": runner_note,
        # Risks page 1 states: the top three, and the other unknown-cost risks its Cost unknown flag covers.
        "page1_risks": top_risks + [r for r in unknown[1:] if r not in top_risks],
        "kind": kind, "headline": headline, "picks": picks, "runner_up": runner, "costs": costs, "cost_lines": cost_lines(costs),
        "flags": flags, "subject_flags": subject_flags, "top_risks": top_risks,
        "next_step": (memo.get("next_steps") or [""])[0], "robustness": (sens.get("top_pick") or {}).get("sentence")
        if sens.get("applicable") else sens.get("reason_not_applicable"),
        "budget": budget, "missing_tasks": missing, "cost_rows": cost_rows,
        "picked": sorted(picked), "runner_ids": [r["model"] for r in runner], "pairs": _pairs(kind, picks, runner, scores),
    }


def dot_plot(memo: dict[str, Any], digest: dict[str, Any], limit: int = 10) -> dict[str, Any] | None:
    """Small multiples on one 0-100 baseline: a row per factor plus the total, a dot per model (its
    best candidate), the pick(s) highlighted. None below three models: a chart of one or two dots
    says nothing the scorecard does not."""
    scores: dict[str, Any] = memo.get("scores") or {}
    order = list(dict.fromkeys(c["model"] for c in memo.get("ranking") or [] if c["model"] in scores))[:limit]
    if len(order) < 3:
        return None
    picked = {p["model"] for p in digest["picks"]} | {t["model"] for p in digest["picks"] for t in p.get("tied", [])}
    weights = memo.get("weights") or {}
    labels = {"requirements": "Requirements fit", "budget": "Budget fit", "support": "Support fit",
              "security": "Security fit", "long_term": "Long-term fit"}
    rows = []
    for factor in list(weights) + ["total"]:
        points = []
        for model_id in order:
            s = scores[model_id]
            value = s["total"] if factor == "total" else (s["factors"].get(factor) or {}).get("score")
            if value is None:
                continue
            points.append({"model": model_id, "name": (memo.get("model_names") or {}).get(model_id, model_id),
                           "value": float(value), "open": s.get("openness") == "open-source",
                           "pick": model_id in picked})
        # Draw the picks last so they sit on top of any dot they overlap.
        points.sort(key=lambda p: p["pick"])
        # The total row labels each pick above its dot; when tied picks' totals sit close on the
        # axis (within 8 of 100, about two label widths) every other one goes below its dot (the
        # total is the last row: nothing below but the axis), so the labels do not overprint.
        for p in points:
            p["label_below"] = False
        labelled = sorted((p for p in points if p["pick"]), key=lambda p: -p["value"])
        for upper, lower in zip(labelled, labelled[1:]):
            lower["label_below"] = not upper["label_below"] and upper["value"] - lower["value"] < 8
        # A hollow dot drawn exactly where another of its shape is, or under a pick's larger filled
        # mark, cannot be seen: it is left out of the drawing (not of the alt text). Equal scores are
        # common (a budget fit of 50 for every model without a volume), and each SVG shape costs
        # render time.
        pick_values = {p["value"] for p in points if p["pick"]}
        drawn: set[tuple[float, bool]] = set()
        for p in points:
            key = (p["value"], p["open"])
            p["hidden"] = not p["pick"] and (p["value"] in pick_values or key in drawn)
            drawn.add(key)
        label = "Total" if factor == "total" else labels.get(factor, factor)
        rows.append({"factor": factor, "label": label, "weight": weights.get(factor), "points": points})
    alt_rows = []
    for row in rows:
        values = ", ".join(f"{p['name']} {p['value']:g}" for p in sorted(row["points"], key=lambda p: -p["value"]))
        alt_rows.append(f"{row['label']}: {values}")
    pick_names = " and ".join(p["name"] for p in digest["picks"]) or "none"
    alt = (f"Scores out of 100 for {len(order)} models; the pick ({pick_names}) is highlighted. "
           + ". ".join(alt_rows) + ".")
    return {"rows": rows, "alt": alt, "models": len(order)}


def _pairs(kind: str, picks: list[dict[str, Any]], runner: list[dict[str, Any]],
           scores: dict[str, Any]) -> list[tuple[str, str]]:
    """Which two models the "pick vs runner-up" table compares: the pick and its runner-up (for a
    combination, per task), or the first two tied models."""
    if kind == "tie":
        return [(picks[0]["model"], picks[1]["model"])] if len(picks) > 1 else []
    pairs = []
    for p in picks:
        other = next((r["model"] for r in runner if r["task"] == p["task"] and r["model"] != p["model"]), None)
        if other is None and p.get("tied"):
            other = p["tied"][0]["model"]
        if other and p["model"] in scores and other in scores:
            pairs.append((p["model"], other))
    return pairs


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
    head = first.split(" (", 1)[0].split("; ", 1)[0].rstrip(" .:")
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
