"""Build the email that carries one decision memo (pure: no network, no files written).

The message is a function of the memo: its Message-ID is derived from the memo's *content*
(everything but the run id and timestamp), so the same memo rendered again in a later run gets
the same Message-ID. That is what the delivery ledger keys on, and it lets mail clients fold a
rare duplicate into one message.
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

from .rendering import brand_for, jinja_environment

TEXT_TEMPLATE = "email.txt.j2"
HTML_TEMPLATE = "email.html.j2"

# Keys that change on every run without changing what the memo says.
_VOLATILE_KEYS = ("run_id", "generated_at")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")


def memo_content_sha(memo: dict[str, Any]) -> str:
    """sha256 of the memo without run_id/generated_at: identical memos from two runs match."""
    stable = {key: value for key, value in memo.items() if key not in _VOLATILE_KEYS}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode("utf-8")).hexdigest()


def memo_message_id(memo: dict[str, Any]) -> str:
    """Deterministic Message-ID: "<memo-{project_id}-{content_sha[:20]}@modelmemo>"."""
    project_id = one_line(str(memo["project"]["id"])).replace(" ", "")
    return f"<memo-{project_id}-{memo_content_sha(memo)[:20]}@modelmemo>"


def one_line(value: str) -> str:
    """Collapse any line break to a space: header values must never span lines (no injection)."""
    return _LINE_BREAKS.sub(" ", value).strip()


def attachment_filename(project_id: str) -> str:
    return f"{project_id}-decision-memo.pdf"


def _picks(memo: dict[str, Any], picks: Any) -> list[dict[str, str]]:
    """`recommended`/`runner_up` as [{name, task}]: they are a model id, a list of {task, model}, or empty."""
    names: dict[str, str] = memo.get("model_names") or {}
    if not picks:
        return []
    if isinstance(picks, str):
        picks = [picks]
    result = []
    for pick in picks:
        model, task = (str(pick.get("model", "")), str(pick.get("task") or "")) if isinstance(pick, dict) else (str(pick), "")
        result.append({"name": one_line(str(names.get(model, model))), "task": one_line(task)})
    return result


def memo_subject(memo: dict[str, Any]) -> str:
    """"<project name>: <verdict label> — <top model name(s)>" (or "no eligible model")."""
    top = " + ".join(pick["name"] for pick in _picks(memo, memo.get("recommended"))) or "no eligible model"
    return one_line(f"{memo['project']['name']}: {memo.get('verdict_label') or 'No verdict'} — {top}")


def _top_score(memo: dict[str, Any]) -> float | None:
    recommended = memo.get("recommended")
    if isinstance(recommended, str):
        total = (memo.get("scores") or {}).get(recommended, {}).get("total")
        return float(total) if isinstance(total, (int, float)) else None
    return None


def build_memo_email(
    memo: dict[str, Any],
    pdf_bytes: bytes,
    sender: str,
    recipients: list[str],
    templates_dir: Path,
    now: datetime | None = None,
) -> EmailMessage:
    """multipart/mixed: [multipart/alternative (text, html), the PDF memo as an attachment]."""
    project = memo["project"]
    project_id = one_line(str(project["id"]))
    context = {
        "project_name": one_line(str(project["name"])),
        "owner_name": one_line(str((project.get("owner") or {}).get("name", ""))),
        "verdict_label": memo.get("verdict_label") or "No verdict",
        "top_models": _picks(memo, memo.get("recommended")),
        "runner_up": _picks(memo, memo.get("runner_up")),
        "top_score": _top_score(memo),
        "filename": attachment_filename(project_id),
        "run_id": str(memo.get("run_id", "")),
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
    message["Message-ID"] = memo_message_id(memo)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(pdf_bytes, maintype="application", subtype="pdf",
                           filename=attachment_filename(project_id))
    return message
