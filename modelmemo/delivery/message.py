"""Build the email that carries one decision memo (pure: no network, no files written).

The message is a function of the memo: its Message-ID is derived from the decision it announces
(delivery.decision_key: verdict, picks, cost vs budget), so the same decision rendered again in a
later run, with --force, with new templates or a new memo format gets the same Message-ID. That is
what the delivery ledger keys on, and it lets mail clients fold a rare duplicate into one message.

Every header value and every text value of the email body passes through one_line, which removes
line breaks (header injection), control characters and bidi formatting characters (a right-to-left
override in a project name would make a Subject read differently from what it says).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from modelmemo.memo.render import brand_for, jinja_environment

TEXT_TEMPLATE = "email.txt.j2"
HTML_TEMPLATE = "email.html.j2"

# The memo keys the ledger of release 0.1 (memo format 2) keyed on: kept so that its entries can
# be mapped onto today's key (delivery.decision_key) without a mail storm. An allow-list, not a deny-list, on purpose: bookkeeping keys (run_id,
# generated_at, the "changes" block, templates/input/catalog hashes, catalog_as_of, memo_version,
# facts, sources, chart, model_names, input_file, and any key added later) must never cause a
# resend to every recipient; `run --force` or a CSS edit re-renders a memo that says the same thing.
# ranking, best_open, best_closed and weight_shares follow from scores and weights; they are listed
# so that anything the decision part of the memo shows is covered.
V2_DECISION_KEYS: tuple[str, ...] = (
    "project", "requirements",
    "verdict", "verdict_label", "verdict_reason",
    "recommended", "tied", "runner_up", "best_open", "best_closed", "ranking", "scores",
    "combination_cost", "cost_options",
    "risks", "excluded", "weights", "weight_shares", "sensitivity", "next_steps", "notes",
)
V2_RANKING_KEYS = frozenset({"model", "deployment", "total", "factors", "monthly_cost_usd", "cost_is_floor"})
# Header values must not span lines: these become a space ...
_LINE_BREAKS = re.compile(r"[\t\n\x0b\x0c\r\x1c-\x1e\x85\u2028\u2029]+")
# ... and these are removed: the other C0/C1 controls and DEL, and the bidi formatting characters
# (embeddings, overrides, isolates, and the LRM/RLM/ALM marks).
_CONTROLS_AND_BIDI = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def memo_content_sha(memo: dict[str, Any]) -> str:
    """What the ledger keys on: the decision the memo announces (delivery.decision_key)."""
    from modelmemo.delivery.decision_key import decision_sha

    return decision_sha(memo)


def version_2_content_sha(memo: dict[str, Any]) -> str:
    """sha256 of the memo's V2_DECISION_KEYS: the key ledgers of memo format 2 were written with."""
    decision = {key: memo.get(key) for key in V2_DECISION_KEYS}
    if isinstance(decision.get("ranking"), list):
        # The offer's provenance (listing ids, route, lifecycle, SLA and residency as data) came with
        # the synced catalog; what it decided is in the totals, costs, exclusions and notes. Keyed on
        # the scored figures only, a memo that decides the same is not emailed again for them.
        decision["ranking"] = [{k: v for k, v in entry.items() if k in V2_RANKING_KEYS}
                               if isinstance(entry, dict) else entry for entry in decision["ranking"]]
    requirements = decision.get("requirements")
    if isinstance(requirements, dict) and not requirements.get("data_residency"):
        decision["requirements"] = {k: v for k, v in requirements.items() if k != "data_residency"}
    project = decision.get("project")
    if isinstance(project, dict):
        # Who receives the memo is not part of what it says: the ledger is per recipient, so adding
        # a `notify` address sends the memo to that address only, not again to everyone.
        owner = project.get("owner")
        decision["project"] = {**{k: v for k, v in project.items() if k != "notify"},
                               "owner": {k: v for k, v in owner.items() if k != "email"}
                               if isinstance(owner, dict) else owner}
    return hashlib.sha256(json.dumps(decision, sort_keys=True).encode("utf-8")).hexdigest()


_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
FALLBACK_MESSAGE_ID_DOMAIN = "modelmemo.invalid"  # RFC 2606: reserved, can never clash with a real host


def message_id_domain(sender: str | None) -> str:
    """The right-hand side of our Message-IDs: the sender address's domain (RFC 5322 wants a name
    the sender controls), or a reserved .invalid name when there is no usable sender address."""
    from email.utils import getaddresses

    address = (getaddresses([sender or ""]) or [("", "")])[0][1]
    domain = address.rpartition("@")[2].strip().lower() if "@" in address else ""
    return domain if domain and _HOSTNAME.fullmatch(domain) else FALLBACK_MESSAGE_ID_DOMAIN


def memo_message_id(memo: dict[str, Any], sender: str | None = None) -> str:
    """Deterministic Message-ID: "<memo-{project_id}-{content_sha[:20]}@{sender's domain}>"."""
    project_id = one_line(str(memo["project"]["id"])).replace(" ", "")
    return f"<memo-{project_id}-{memo_content_sha(memo)[:20]}@{message_id_domain(sender)}>"


def one_line(value: str) -> str:
    """Collapse any line break (and tab) to a space: header values must never span lines (no
    injection); drop control characters and bidi formatting characters (no spoofed Subject)."""
    return _CONTROLS_AND_BIDI.sub("", _LINE_BREAKS.sub(" ", value)).strip()


def attachment_filename(project_id: str) -> str:
    return f"{project_id}-decision-memo.pdf"


def _picks(memo: dict[str, Any], picks: Any) -> list[dict[str, str]]:
    """`recommended`/`runner_up` as [{name, task}]: v2 lists of {task, model, deployment} (v1: a model
    id or a list of {task, model}). For `recommended`, models tied with a pick follow it, marked tied."""
    names: dict[str, str] = memo.get("model_names") or {}
    if not picks:
        return []
    if isinstance(picks, str):
        picks = [picks]
    if not isinstance(picks, list):
        return []
    name = lambda model: one_line(str(names.get(model, model)))  # noqa: E731
    result = []
    for pick in picks:
        if isinstance(pick, dict):
            model, task = str(pick.get("model", "")), one_line(str(pick.get("task") or ""))
            result.append({"name": name(model), "task": task})
            for other in pick.get("tied") or []:
                result.append({"name": name(str(other)), "task": task, "tied": "yes"})
        else:
            result.append({"name": name(str(pick)), "task": ""})
    if picks is memo.get("recommended") and not any(isinstance(p, dict) and p.get("task") for p in picks):
        shown = {r["name"] for r in result}
        for other in memo.get("tied") or []:
            if name(str(other)) not in shown:
                result.append({"name": name(str(other)), "task": "", "tied": "yes"})
    return result


def _digest(memo: dict[str, Any]) -> dict[str, Any] | None:
    from modelmemo.memo.digest import decision_digest

    try:
        return decision_digest(memo)
    except (KeyError, TypeError, AttributeError, ValueError):  # an old or partial memo: no summary lines
        return None


def memo_subject(memo: dict[str, Any]) -> str:
    """"<project name>: <verdict label> — <top model name(s)>" ("tie: A / B" for a tie; or "no eligible
    model"), then the flags a reader must see before opening it: "[over budget, fragile pick]"."""
    picks = _picks(memo, memo.get("recommended"))
    if any(p.get("tied") for p in picks) and not any(p["task"] for p in picks):
        top = "tie: " + " / ".join(p["name"] for p in picks)
    else:
        top = " + ".join(p["name"] + (" (tie)" if p.get("tied") else "") for p in picks) or "no eligible model"
    digest = _digest(memo)
    if memo.get("verdict") == "no-eligible-model":
        top = "relax a constraint"
    elif memo.get("verdict") == "budget-infeasible" and memo.get("budget_needed_usd") is not None:
        top = f"{top} needs ${memo['budget_needed_usd']:,.0f}/month"
    # The verdict is not said twice: its own flag is left out of the brackets.
    shown = [f for f in (digest or {}).get("subject_flags", []) if f not in ("no eligible model", "budget infeasible")]
    flags = f" [{', '.join(shown)}]" if shown else ""
    return one_line(f"{memo['project']['name']}: {memo.get('verdict_label') or 'No verdict'} — {top}{flags}")


def _public_base_url(url: str | None) -> str | None:
    """The public base URL given by the caller (Settings.public_base_url), when it is http(s)."""
    if not url or not str(url).startswith(("https://", "http://")):
        return None
    return str(url).rstrip("/")


def _top_score(memo: dict[str, Any]) -> float | None:
    """The total of the single recommended candidate (None for a combination, a tie or no pick)."""
    if memo.get("tied"):
        return None
    recommended = memo.get("recommended")
    if isinstance(recommended, list) and len(recommended) == 1 and isinstance(recommended[0], dict) \
            and not recommended[0].get("task"):
        recommended = recommended[0].get("model")
    if isinstance(recommended, str):
        total = ((memo.get("scores") or {}).get(recommended) or {}).get("total")
        return float(total) if isinstance(total, (int, float)) and not isinstance(total, bool) else None
    return None


def build_memo_email(
    memo: dict[str, Any],
    pdf_bytes: bytes,
    sender: str,
    recipients: list[str],
    templates_dir: Path,
    now: datetime | None = None,
    public_base_url: str | None = None,
) -> EmailMessage:
    """multipart/mixed: [multipart/alternative (text, html), the PDF memo as an attachment].

    The body is a five-line summary (pick, cost vs budget, flags, top risk, next step) and never a
    server path the recipient cannot open; with a public base URL the memo's name links to its HTML."""
    from urllib.parse import quote

    project = memo["project"]
    project_id = one_line(str(project["id"]))
    digest = _digest(memo)
    base = _public_base_url(public_base_url)
    run_id = one_line(str(memo.get("run_id", "")))
    memo_url = f"{base}/{quote(run_id)}/{quote(project_id)}.html" if base and run_id else None
    render_warnings = memo.get("render_warnings")
    render_warnings = render_warnings if isinstance(render_warnings, list) else []
    summary = None
    if digest:
        summary = {
            "pick": one_line(digest["headline"]),
            "cost": one_line(" ".join(f"{c['who']}: {c['text']}" if c["who"] else c["text"]
                                      for c in digest["cost_lines"])) or "no eligible model, no cost",
            "flags": one_line(", ".join(f["label"] for f in digest["flags"])) or "none",
            "risk": one_line(digest["top_risks"][0]) if digest["top_risks"] else "none found in the data",
            "next": one_line(digest["next_step"]) or "see the memo",
        }
    context = {
        "project_name": one_line(str(project["name"])),
        "owner_name": one_line(str((project.get("owner") or {}).get("name", ""))),
        "verdict_label": one_line(str(memo.get("verdict_label") or "No verdict")),
        "top_models": _picks(memo, memo.get("recommended")),
        "runner_up": _picks(memo, memo.get("challengers") or memo.get("runner_up")),
        "top_score": _top_score(memo),
        "filename": attachment_filename(project_id),
        "run_id": run_id,
        "summary": summary,
        # A re-sent memo says what changed since the one the recipient already has.
        "changed": one_line(str((memo.get("changes") or {}).get("summary") or "")) or None,
        "memo_url": memo_url,
        # A fault of the attached PDF (characters no installed font has print as empty boxes): the
        # memo says it above its name (render.render_memo), and so does the email that carries it.
        "warnings": [one_line(str(w)) for w in render_warnings if str(w).strip()],
    }
    env = jinja_environment(Path(templates_dir))
    brand = brand_for(Path(templates_dir))
    text = env.get_template(TEXT_TEMPLATE).render(brand=brand, **context)
    html = env.get_template(HTML_TEMPLATE).render(brand=brand, **context)

    message = EmailMessage()
    message["Subject"] = memo_subject(memo)
    message["From"] = one_line(sender)
    message["To"] = ", ".join(one_line(r) for r in recipients)
    message["Date"] = format_datetime(now or datetime.now(timezone.utc))
    message["Message-ID"] = memo_message_id(memo, sender)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(pdf_bytes, maintype="application", subtype="pdf",
                           filename=attachment_filename(project_id))
    return message
