"""What page 1, the index and the email say about a memo: derived from the memo dict alone (never
stored), so a memo read back from disk (an unchanged memo in the index, an email built from a
stored memo) gets the same statements as a fresh one. (The chart's geometry is in memo/chart.py,
the PDF's compact forms in memo/compact.py.)"""

from __future__ import annotations

from typing import Any

from modelmemo.decision.costs import usd
from modelmemo.decision.pilot import examples_split
from modelmemo.decision.policy import policy
from modelmemo.decision.relax import field_words
from modelmemo.decision.words import join_and, task_label
from modelmemo.memo.budget_words import cost_lines, cost_statement
from modelmemo.inputs.requirements import FACTOR_LABELS
# The stale-fact age and the "fragile" multipliers are in the settings table (modelmemo/settings.py).
from modelmemo.settings import FRAGILE_LESS, FRAGILE_MORE, STALE_AFTER_DAYS

BUDGET_STRETCH = policy("BUDGET_STRETCH")
ROBUST_BEYOND = 10.0  # a weight that must move more than 10x to change the pick is no page-1 concern
SEPARATOR_MIN_SWING = 1.0  # total points: an unknown that moves less, and cannot change the order, is no top risk
FLOOR_SPREAD = policy("FLOOR_SPREAD")


def _where(score: dict[str, Any]) -> str:
    if score.get("deployment_kind") == "api":
        return f"managed API via {short_provider(score.get('provider'))}"
    provider = score.get("provider")
    return "self-hosted on your infrastructure" if provider in (None, "", "your infrastructure") \
        else f"self-hosted via {provider}"


def short_provider(provider: Any) -> str:
    """"Google Cloud" for "Google Cloud (Vertex AI / Gemini Enterprise Agent Platform)"."""
    return str(provider or "").split(" (")[0]


def short_name(name: str) -> str:
    """A model's name without its parenthesised version or route: "ChatGPT" for "ChatGPT (GPT-6.2 Sol)"."""
    cut = name.find(" (")
    return name[:cut] if cut > 0 else name


def _cost_words(label: str) -> str:
    # A cost label alone after a score ("score 87.2, unknown") does not say what is unknown.
    return "cost unknown" if label == "unknown" else label


BLOCKING, CAUTION = "blocking", "caution"


def _fmt(value: Any) -> str:
    """One number format on page 1: one decimal."""
    return "n/a" if value is None else f"{float(value):.1f}"


def decision_digest(memo: dict[str, Any]) -> dict[str, Any]:
    """Page 1 in data: headline, decision table, cost vs budget, flags (blocking or caution), what
    could make the pick wrong, next step. Each fact is stated once."""
    from datetime import date as _date

    names: dict[str, str] = memo.get("model_names") or {}
    scores: dict[str, Any] = memo.get("scores") or {}
    req = memo.get("requirements") or {}
    budget = req.get("monthly_usd")
    recommended = memo.get("recommended") or []
    challengers = memo.get("challengers") or []
    tied_ids = list(memo.get("tied") or [])
    p_best: dict[str, float] = memo.get("p_best") or {}
    ranking = memo.get("ranking") or []
    combination = bool(recommended) and recommended[0].get("task") is not None
    name = lambda m: names.get(m, m)  # noqa: E731
    short = lambda m: short_name(name(m))  # noqa: E731
    unknown_why = "no volume in the requirement file" if not req.get("volume") else "a price the catalog does not know"

    def offer(model_id: str) -> dict[str, Any]:
        s = scores.get(model_id) or {}
        return next((r for r in ranking if r["model"] == model_id and r["deployment"] == s.get("deployment")), {})

    def pick_view(model_id: str, task: str | None = None) -> dict[str, Any]:
        s = scores.get(model_id) or {}
        return {"model": model_id, "deployment": s.get("deployment"), "name": name(model_id), "short": short(model_id),
                "task": task, "task_label": task_label(task), "openness": s.get("openness"),
                "where": _where(s) if s else "", "total": s.get("total"),
                "cost_label": _cost_words((s.get("cost") or {}).get("label", "unknown"))}

    def cost_of(model_id: str) -> dict[str, Any]:
        s = scores.get(model_id) or {}
        c = s.get("cost") or {}
        return cost_statement(c.get("low_usd"), c.get("high_usd"), s.get("monthly_cost_usd"), budget,
                              c.get("label", "unknown"), unknown_why)

    verdict = memo.get("verdict")
    relax = memo.get("relax") or []
    if not recommended:
        kind = "none"
        picks: list[dict[str, Any]] = []
        headline = "No catalog model meets the requirements"
        if relax:
            first = relax[0]
            headline += f": relaxing {field_words(first['constraint'])} would allow " + join_and([short(m) for m in first["allows"][:3]])
    elif combination:
        kind = "combination"
        picks = [dict(pick_view(p["model"], p.get("task")), tied=[pick_view(t, p.get("task")) for t in p.get("tied") or []])
                 for p in recommended]
        headline = "Use " + join_and([" or ".join([p["name"]] + [t["name"] for t in p["tied"]]) + f" for {p['task_label']}"
                                      for p in picks])
        if verdict == "budget-infeasible":
            headline = (f"Nothing fits the {usd(budget)}/month budget: the picks per task together need at least "
                        f"{usd(memo.get('budget_needed_usd'))}/month")
    else:
        picks = [dict(pick_view(recommended[0]["model"]), tied=[pick_view(t) for t in tied_ids])]
        kind = "tie" if tied_ids else "single"
        first = picks[0]
        if verdict == "budget-infeasible":
            needed = memo.get("budget_needed_usd")
            cheapest = memo.get("cheapest") or first["model"]
            floor = (scores.get(cheapest) or {}).get("cost_is_floor")
            headline = (f"Nothing fits the {usd(budget)}/month budget: the cheapest option, {name(cheapest)}, "
                        f"needs {'at least ' if floor else ''}{usd(needed)}/month")
        elif kind == "tie":
            same_cost = all((scores.get(t["model"]) or {}).get("monthly_cost_usd") ==
                            (scores.get(first["model"]) or {}).get("monthly_cost_usd") for t in first["tied"])
            same_odds = all((memo.get("head_to_head") or {}).get(t["model"], 0.5) < 0.52 for t in first["tied"])
            others = join_and([t["name"] for t in first["tied"]])
            headline = (f"Pilot both: {first['name']} and {others} are level on evidence and cost"
                        if same_cost and same_odds else
                        f"Start with {first['name']}; {others} {'is' if len(first['tied']) == 1 else 'are'} "
                        "level on the evidence, so pilot both")
        else:
            headline = f"Choose {first['name']}, {first['where']}"
            echoed = {i["model"] for i in (memo.get("pilot") or {}).get("identical") or []}
            if first["model"] in echoed:  # the pick rests on a pilot that copied the references: check it first
                headline = (f"Check the pilot before choosing {first['name']}, {first['where']}: its answers "
                            "copied the references word for word")

    # Cost vs budget: a combination adds its picks; otherwise the pick's own.
    costs = []
    if kind == "combination" and memo.get("combination_cost"):
        cc = memo["combination_cost"]
        low, high = cc.get("low_usd"), cc.get("high_usd")
        planning = None if low is None else (low if high is None else (low + high) / 2)
        costs.append(dict(cost_statement(low, high, planning, budget, cc.get("label", "unknown").split(" (")[0],
                                          unknown_why), who="together"))
    else:
        for p in picks:
            costs.append(dict(cost_of(p["model"]), who=p["short"]))

    flags: list[dict[str, str]] = []

    def flag(key: str, label: str, detail: str, level: str) -> None:
        flags.append({"key": key, "label": label, "detail": detail, "level": level})

    picked = {p["model"] for p in picks} | {t["model"] for p in picks for t in p.get("tied", [])}
    picked_offers = [r for r in ranking if (r.get("model"), r.get("deployment")) in
                     {(p["model"], p.get("deployment")) for p in picks}]
    # --- blocking: the decision cannot go ahead as it stands
    if verdict == "no-eligible-model":
        tasks = memo.get("uncovered_tasks") or []
        flag("no-eligible", "No eligible model", "the hard constraints exclude every model"
             + (f" for {join_and([task_label(t) for t in tasks])}" if tasks else "")
             + ("; the Why line says what relaxing each would allow" if relax else
                "; see Excluded models for every reason"), BLOCKING)
    if verdict == "budget-infeasible":
        flag("budget-infeasible", "Budget infeasible", f"no eligible option within {BUDGET_STRETCH:g}x the budget",
             BLOCKING)
    elif any(c["status"] == "over" for c in costs):
        flag("over-budget", "Over budget", " ".join(dict.fromkeys(c["text"] for c in costs if c["status"] == "over")),
             BLOCKING)
    if req.get("vendor_sla_required"):
        lacking = [r for r in picked_offers if r.get("sla") != "yes"]
        if lacking:
            with_sla = [r for r in ranking if r.get("sla") == "yes"][:2]
            alternatives = (" Offers with one: " + ", ".join(
                f"{short(r['model'])} via {short_provider(r.get('provider'))} ({_fmt(r['total'])})" for r in with_sla)
                + "." if with_sla else " No scored offer publishes one: relax the requirement or negotiate it.")
            flag("sla-unmet", "SLA required, not met", "; ".join(
                f"{short(r['model'])} via {short_provider(r.get('provider'))} "
                + ("has no published SLA" if r.get("sla") == "unknown" else "offers none")
                for r in lacking) + "." + alternatives, BLOCKING)
    if req.get("data_sensitivity") == "regulated":
        baa = [r for r in picked_offers if r.get("route") != "self-hosted" and (scores.get(r["model"]) or {})
               .get("deployment_kind") == "api" and not _has_fact(memo, r, "hipaa_baa", "yes")]
        if baa:
            flag("compliance", "HIPAA BAA not confirmed", "; ".join(
                f"{short(r['model'])} via {short_provider(r.get('provider'))}" for r in baa)
                + ": regulated data needs a signed BAA before real data is sent", BLOCKING)
    ending = [r for r in picked_offers if (r.get("lifecycle") or {}).get("status") == "deprecated"]
    if ending:
        flag("deprecated", "Deprecated offer", " ".join(
            f"{short(r['model'])} via {short_provider(r.get('provider'))} ends {r['lifecycle'].get('date') or 'soon'}"
            + (f"; successor {r['lifecycle']['successor']}" if r["lifecycle"].get("successor") else "")
            + "; nothing active meets the hard constraints." for r in ending), BLOCKING)
    # --- caution: go ahead, but settle this
    if kind == "tie":
        flag("tie", "Tie", memo.get("tie_separation") or "the evidence cannot separate them", CAUTION)
    elif kind == "combination" and tied_ids:
        flag("tie", "Tie for a task", memo.get("tie_separation") or "the evidence cannot separate them", CAUTION)
    restricted = [f for f in memo.get("facts") or [] if f.get("fact") == "licence_restricted_regions"
                  and f.get("model") in picked and str(f.get("value")).lower() not in ("no", "unknown")]
    for f in restricted:
        fallback = next((c["model"] for c in challengers if c["model"] != f["model"]), None)
        others = [m for m in scores if m != f["model"]]
        if fallback:
            then = f"; if it cannot, the next option is {short(fallback)}"
        elif others and all(scores[m].get("lifecycle") == "legacy" for m in others[:2]):
            then = ("; if it cannot, no current option remains (the other eligible ones, "
                    + join_and([short(m) for m in others[:2]]) + ", are superseded): re-run this memo with "
                    "the constraints relaxed")
        elif others:
            then = f"; if it cannot, the next eligible option is {short(others[0])}: see the scorecard"
        else:
            then = "; if it cannot, no other option in the catalog meets the hard constraints"
        flag("licence-region", "Licence limits by region", f"{short(f['model'])}'s licence restricts use in "
                                                            f"{f['value']}: legal must clear where the project's "
                                                            f"entity and users are before the pilot{then}", BLOCKING)
    proxied = [r for r in picked_offers if any(e.get("kind") == "proxy" for e in r.get("evidence") or [])]
    if proxied:
        r = proxied[0]
        tasks = [task_label(e["task"]) for e in r["evidence"] if e.get("kind") == "proxy"]
        flag("proxy", "Proxy evidence", f"{short(r['model'])}'s quality on {join_and(tasks)} is another model's "
                                        "score, with a wider interval; the pilot measures it", CAUTION)
    identical = (memo.get("pilot") or {}).get("identical") or []
    for model_id in dict.fromkeys(i["model"] for i in identical):
        counts = {i["task"]: i["n"] for i in identical if i["model"] == model_id}
        # the pick's own evidence: blocking until checked
        flag("pilot-identical", "Check the pilot",
             f"{short(model_id)}'s answers are identical to the references on all {examples_split(counts)}: "
             "references leaked into the prompt, or an echoing endpoint?", BLOCKING if model_id in picked else CAUTION)
    unmeasured_pick = [r for r in picked_offers if any(e.get("kind") == "unknown" for e in r.get("evidence") or [])]
    if unmeasured_pick:
        r = unmeasured_pick[0]
        tasks = [task_label(e["task"]) for e in r["evidence"] if e.get("kind") == "unknown"]
        flag("unmeasured", "Quality unmeasured", f"{short(r['model'])} has no published quality score for "
                                                 f"{join_and(tasks)}; the evaluation plan below settles it", CAUTION)
    floors = [c for c in costs if c.get("floor") and c["status"] != "over"
              and (c.get("share") or 0) * FLOOR_SPREAD > 1]
    if floors:
        flag("cost-floor", "Cost is a floor", "only a minimum is known, and up to "
                                              f"{FLOOR_SPREAD:g}x it would exceed the budget", CAUTION)
    if any(c["status"] == "unknown" for c in costs):
        flag("cost-unknown", "Cost unknown", unknown_why, CAUTION)
    sens = memo.get("sensitivity") or {}
    smallest = (sens.get("top_pick") or {}).get("smallest") or {}
    multiplier = smallest.get("multiplier")
    fragile = kind in ("single", "tie") and sens.get("applicable") and isinstance(multiplier, (int, float)) and (
        (smallest.get("direction") == "less" and multiplier >= FRAGILE_LESS)
        or (smallest.get("direction") == "more" and multiplier <= FRAGILE_MORE))
    if fragile:
        threshold = "0" if not smallest.get("threshold") else f"{smallest['threshold']:.1f}"
        move = "drops to" if threshold == "0" else "drops below" if smallest.get("direction") == "less" else "rises above"
        flag("fragile", "Fragile pick", f"{short(smallest.get('new_leader'))} comes first if the "
                                        f"{FACTOR_LABELS.get(smallest.get('factor'), smallest.get('factor'))} weight "
                                        f"{move} {threshold} (from {smallest.get('current', 0):g})", CAUTION)
    superseded = sorted({short(f["model"]) for f in memo.get("facts") or []
                         if f.get("fact") == "lifecycle" and f.get("model") in picked
                         and str(f.get("value")).lower() in ("legacy", "superseded")})
    if superseded:
        flag("superseded", "Superseded model", ", ".join(superseded) + " is superseded by newer releases", CAUTION)
    # Facts the pick rests on (its own and the shared assumptions).
    rests_on = picked | {""}
    dated = sorted((f for f in memo.get("facts") or [] if f.get("as_of") and (f.get("model") or "") in rests_on),
                   key=lambda f: str(f["as_of"]))
    if dated:
        oldest_fact = dated[0]
        try:
            today = _date.fromisoformat(str(memo.get("generated_at", ""))[:10])
            stale_days = (today - _date.fromisoformat(str(oldest_fact["as_of"]))).days
        except ValueError:
            stale_days = None
        if stale_days is not None and stale_days > STALE_AFTER_DAYS:
            label = str(oldest_fact.get("label") or "a fact")
            label = label if label[:2].isupper() else label[:1].lower() + label[1:]
            whose = f" of {short(oldest_fact['model'])}" if oldest_fact.get("model") else ""
            flag("stale", "Stale facts", f"oldest fact used, {label}{whose}, "
                                         f"was checked {oldest_fact['as_of']}, {stale_days} days before this memo", CAUTION)
    flags.sort(key=lambda f: f["level"] != BLOCKING)
    if restricted and kind == "single" and verdict != "budget-infeasible":
        headline += f", once legal clears its licence restriction on use in {restricted[0]['value']}"
    if any(f["key"] == "licence-region" for f in flags):
        robust_words = None  # "robust" beside a legal condition misleads: the proof section keeps it
    else:
        robust_words = _robustness(sens)

    # What could make the pick wrong: typed facts first, then the memo's risks no flag states.
    top_risks: list[str] = []
    separator = memo.get("separator")
    h2h = memo.get("head_to_head") or {}
    first_challenger = challengers[0]["model"] if challengers else None
    if separator and kind in ("single", "tie") and first_challenger and (
            separator["could_flip"] or separator["swing"] >= SEPARATOR_MIN_SWING):
        who = short(separator["model"])
        gap = (f"against a {_fmt(abs(separator['gap']))}-point difference between {short(picks[0]['model'])} and "
               f"{short(first_challenger)}" if abs(separator["gap"]) >= 0.05
               else f"and {short(picks[0]['model'])} and {short(first_challenger)} are level on points")
        state = separator.get("state") or "not published"
        top_risks.append(f"{who}'s {separator['label']} ({state}) moves {who}'s total by up to "
                         f"{_fmt(separator['swing'])} points, {gap}"
                         + (" (enough to change the order)" if separator["could_flip"] and abs(separator["gap"]) >= 0.05
                            else "")
                         + f"; {separator['settled_by']} settles it.")
    if memo.get("unconfirmed_facts"):
        top_risks.append(memo["unconfirmed_facts"])
    for c in challengers:
        offer_row = offer(c["model"])
        if c["model"] in tied_ids or not any(e.get("kind") == "unknown" for e in offer_row.get("evidence") or []):
            continue
        if separator and separator["model"] == c["model"] and separator["kind"] == "quality":
            continue  # said above
        beats = h2h.get(c["model"])
        if beats is not None and beats < 0.95:
            top_risks.append(f"{short(c['model'])} has no published quality score; {short(picks[0]['model'])} beats it "
                             f"in {beats:.0%} of draws over its possible quality. Include it in the pilot.")
    flagged = {f["key"] for f in flags}
    covered_by_flags = {"over-budget": {"over-budget", "budget-infeasible"}, "cost-unknown": {"cost-unknown"},
                        "cost-floor": {"cost-floor", "over-budget", "budget-infeasible"}, "sla": {"sla-unmet"},
                        "superseded": {"superseded"}, "license": {"licence-region"}}
    for r in memo.get("risks") or []:
        key, text = (r.get("key"), r.get("text")) if isinstance(r, dict) else ("", str(r))
        # Said by a flag already; a floor well within budget is said by the cost line.
        if covered_by_flags.get(key, set()) & flagged or key in ("cost-floor", "pilot-route"):
            continue  # the route a pilot ran through is said by the "Your pilot" line
        top_risks.append(text)
    top_risks = list(dict.fromkeys(top_risks))[:3]
    sample = next((r.get("text") for r in memo.get("risks") or [] if isinstance(r, dict) and r.get("key") == "pilot-sample"),
                  None)
    if sample and sample not in top_risks:  # after a pilot, page 1 always says how far its examples go
        top_risks = top_risks[:2] + [sample]
    if not top_risks and sens.get("applicable"):
        top_risks = [sens["top_pick"].get("sentence", "")]

    # The decision table: the pick, its challengers, and the best option of the other side.
    table = []
    if kind in ("single", "tie"):
        rows = [("Pick", picks[0]["model"])] + [("Tied" if c["model"] in tied_ids else "Challenger", c["model"])
                                                 for c in challengers]
        pick_open = (scores.get(picks[0]["model"]) or {}).get("openness") == "open-source"
        other_id = memo.get("best_closed") if pick_open else memo.get("best_open")
        if other_id and other_id not in [m for _, m in rows]:
            rows.append((f"Best {'closed' if pick_open else 'open'}-source", other_id))
        for role, model_id in rows:
            s = scores.get(model_id) or {}
            o = offer(model_id)
            interval = o.get("interval") or [s.get("total"), s.get("total")]
            table.append({"role": role, "model": model_id, "name": short(model_id), "full_name": name(model_id),
                          "where": _where(s), "openness": s.get("openness"), "total": s.get("total"),
                          "low": interval[0], "high": interval[1], "p_best": p_best.get(model_id, 0.0),
                          "cost": cost_of(model_id), "risk": _row_risk(role, model_id, picks[0]["model"], memo, o)})

    runner = [pick_view(c["model"], c.get("task")) for c in challengers]
    cost_rows = []
    for model_id in dict.fromkeys([p["model"] for p in picks] + [t["model"] for p in picks for t in p.get("tied", [])]
                                  + [r["model"] for r in runner]):
        s = scores.get(model_id) or {}
        c = s.get("cost") or {}
        role = "challenger" if model_id not in picked else ("tied" if model_id in tied_ids else "pick")
        cost_rows.append(dict(cost_of(model_id), model=model_id, name=name(model_id), where=_where(s) if s else "",
                              role=role, openness=s.get("openness"), formula=list(c.get("formula") or [])))
    subject_flags = [f["label"].lower() for f in flags if f["level"] == BLOCKING]
    # What the team's pilot measured ("measured on your N examples", each reading with its interval).
    pilot_said = (memo.get("pilot") or {}).get("sentence") or ""
    return {
        # Notes page 1 states (the PDF's Appendix leaves them out; the HTML keeps every note).
        "page1_notes": [n for n in memo.get("notes") or [] if n and n in (memo.get("other_side"), memo.get("unconfirmed_facts"),
                                                                           pilot_said)],
        "pilot": pilot_said,
        "page1_risks": top_risks,
        "kind": kind, "headline": headline, "picks": picks, "runner_up": runner, "costs": costs,
        "cost_lines": cost_lines(costs), "flags": flags, "subject_flags": subject_flags, "top_risks": top_risks,
        "blocking": [f for f in flags if f["level"] == BLOCKING], "cautions": [f for f in flags if f["level"] == CAUTION],
        "table": table, "other_side": memo.get("other_side") or "",
        # Page 1's Robustness line only when the weights can move the pick (the proof says why not),
        # and plainly when no plausible change does.
        "next_step": (memo.get("next_steps") or [""])[0], "robustness": robust_words,
        "budget": budget, "missing_tasks": [task_label(t) for t in memo.get("uncovered_tasks") or []],
        "cost_rows": cost_rows, "picked": sorted(picked), "runner_ids": [r["model"] for r in runner],
        "pairs": _pairs(kind, picks, runner, scores),
    }


def name_of(memo: dict[str, Any], model_id: str) -> str:
    return (memo.get("model_names") or {}).get(model_id, model_id)


def _robustness(sens: dict[str, Any]) -> str | None:
    if not sens.get("applicable"):
        return None
    smallest = (sens.get("top_pick") or {}).get("smallest") or {}
    multiplier = smallest.get("multiplier")
    if isinstance(multiplier, (int, float)) and (multiplier > ROBUST_BEYOND or 0 < multiplier < 1 / ROBUST_BEYOND):
        return (f"Robust: no weight change short of {ROBUST_BEYOND:g}x moves the pick (the nearest needs "
                f"{multiplier:.1f}x the {FACTOR_LABELS.get(smallest.get('factor'), '')} weight).")
    return (sens.get("top_pick") or {}).get("sentence")


def _has_fact(memo: dict[str, Any], offer_row: dict[str, Any], fact: str, value: str) -> bool:
    return any(f.get("model") == offer_row["model"] and f.get("deployment") == offer_row["deployment"]
               and f.get("fact") == fact and str(f.get("value")).lower() == value for f in memo.get("facts") or [])


def _row_risk(role: str, model_id: str, pick_id: str, memo: dict[str, Any], offer_row: dict[str, Any]) -> str:
    """The one risk that matters for a row of the decision table."""
    if role != "Pick" and (offer_row.get("lifecycle") or {}).get("status") == "deprecated":
        return f"deprecated, ends {offer_row['lifecycle'].get('date')}"
    unknown = [task_label(e["task"]) for e in offer_row.get("evidence") or [] if e.get("kind") == "unknown"]
    if unknown:
        return f"quality unmeasured ({join_and(unknown)})"
    proxied = [task_label(e["task"]) for e in offer_row.get("evidence") or [] if e.get("kind") == "proxy"]
    if proxied:
        return f"quality by proxy ({join_and(proxied)}): another model's score"
    if role == "Pick":
        separator = memo.get("separator") or {}
        if separator.get("model") == model_id and separator.get("could_flip"):
            return f"{separator['label']} ({separator.get('state') or 'not published'})"
        facts = {f.get("fact"): f for f in memo.get("facts") or [] if f.get("model") == model_id}
        region = facts.get("licence_restricted_regions")
        if region and str(region.get("value")).lower() not in ("no", "unknown"):
            return f"licence restricts use in {region['value']}"
        if any((r.get("key") if isinstance(r, dict) else "") == "context" and short_name(name_of(memo, model_id)) in r["text"]
               for r in memo.get("risks") or []):
            return "context window of this build unconfirmed"
        budget = (memo.get("requirements") or {}).get("monthly_usd") or 0
        if offer_row.get("cost_is_floor") and (offer_row.get("monthly_cost_usd") or 0) * FLOOR_SPREAD > budget:
            return "cost is a floor that could pass the budget"
        if (offer_row.get("lifecycle") or {}).get("status") == "deprecated":
            return f"deprecated, ends {offer_row['lifecycle'].get('date')}"
        return "none found in the data"
    scores = memo.get("scores") or {}
    pick, other = (scores.get(pick_id) or {}).get("factors") or {}, (scores.get(model_id) or {}).get("factors") or {}
    shares = memo.get("weight_shares") or {}
    gaps = [((pick.get(f) or {}).get("score", 0) - (other.get(f) or {}).get("score", 0)) * shares.get(f, 0.2)
            for f in FACTOR_LABELS]
    worst = max(zip(gaps, FACTOR_LABELS), default=(0, ""))
    if worst[0] <= 0:
        return "not behind the pick on any factor's point score; behind on the odds"
    return f"behind on {FACTOR_LABELS[worst[1]].lower().replace(' fit', '')} ({_fmt(worst[0])} points)"


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
