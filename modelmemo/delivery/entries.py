"""The send ledger's rows: what one entry holds, how a row read from the file is checked, what a
row left by an interrupted send means, and how rows of older ledger versions are re-keyed.

A row is trusted only whole: every field present with its type (text, whole numbers of at least
0, a list of transport names), or the ledger is corrupt. A hand-edited ledger that is read as
something else (`"deliveries": {}` read as "nothing sent yet") would email every memo again.

Version-1 and version-2 ledgers are read and migrated once (version 2 keyed on everything a memo
of format 2 said, so an upgrade to memo format 3 would otherwise have re-sent every memo): the
transport of an old accepted entry is inferred from its detail ("written to ..." = outbox, else
smtp), and each entry is re-keyed on the decision sha of the memo it was about, found among the
run folders next to the memos being delivered (<output>/<run-id>/<project-id>.json). So the
upgrade resends nothing that was sent, even when the memos are re-rendered by it. An entry whose
memo is gone (pruned) keeps its old key and is ignored: that memo is sent once more.

The "sending" status came without a version bump (the ledger is still version 3): a ledger holds
one only while a send is in flight, or after a run was killed mid-send, and the next run of this
version replaces it. An older modelmemo that meets one refuses the ledger as corrupt (it knows
no such status), which stops its delivery and resends nothing; a bump to 4 would have made it
refuse every ledger, in flight or not, so a downgrade would always need a hand edit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from modelmemo.batch.layout import memo_file
from modelmemo.delivery.message import memo_content_sha
from modelmemo.settings import MAX_ATTEMPTS_PER_RECIPIENT

# "sending": written before a send starts (the write-ahead), replaced by the send's result once it
# is known. Found on load, it means the process stopped while a send was in flight.
STATUSES = ("accepted", "transient", "permanent", "uncertain", "undelivered", "sending")
_TEXT_FIELDS = ("project_id", "content_sha", "recipient", "message_id", "first_attempt", "last_attempt", "detail")
UNDELIVERED = ("; {copies} sends without a confirmation, not retried automatically (check with the "
               "recipient or the mail server; `modelmemo send` resends)")


@dataclass
class LedgerEntry:
    project_id: str
    content_sha: str
    recipient: str
    status: str  # one of STATUSES
    attempts: int  # every send, across runs
    # sends over a mail server (not the outbox) that may have left a copy: counted when the send
    # starts, taken back when it ends refused or before the server had the message
    possible_copies: int
    accepted_by: list[str]  # transports that accepted it: "outbox", "smtp"
    message_id: str
    first_attempt: str
    last_attempt: str
    detail: str


Key = tuple[str, str, str]


def entry_key(project_id: str, content_sha: str, recipient: str) -> Key:
    # Mailbox case is not significant in practice; requirements.recipients dedupes the same way.
    return project_id, content_sha, recipient.strip().lower()


def entry_from_row(raw: Any, version: int) -> LedgerEntry:
    """One row of a ledger file, checked field by field. Raises ValueError or TypeError."""
    if not isinstance(raw, dict):
        raise ValueError(f"a delivery is {type(raw).__name__}, not an object")
    entry = LedgerEntry(**(_from_version_1(raw) if version == 1 else raw))  # TypeError: a field missing or unknown
    where = f"{entry.project_id!r}/{entry.recipient!r}"
    for name in _TEXT_FIELDS:
        if not isinstance(getattr(entry, name), str):
            raise ValueError(f"{name} of {where} is {type(getattr(entry, name)).__name__}, not text")
    for name in ("attempts", "possible_copies"):
        value = getattr(entry, name)
        if type(value) is not int or value < 0:  # bool is an int to Python, not to a reader
            raise ValueError(f"{name} of {where} is {value!r}, not a whole number")
    if entry.status not in STATUSES:
        raise ValueError(f"status of {where} is {entry.status!r}, not one of {', '.join(STATUSES)}")
    if not isinstance(entry.accepted_by, list) or not all(isinstance(t, str) for t in entry.accepted_by):
        raise ValueError(f"accepted_by of {where} is not a list of transport names")
    return entry


def mark_interrupted(entry: LedgerEntry) -> None:
    """A "sending" row found on load: the process stopped (killed, power lost) after the send began
    and before its result was saved. The server may have queued the message, so the row counts as
    "uncertain" (retried on a later run while under the cap; the possible copy was counted when
    the send began), or "undelivered" once it holds MAX_ATTEMPTS_PER_RECIPIENT possible copies."""
    entry.detail = (f"a send started {entry.last_attempt} was cut off before its result was recorded: "
                    "a copy may already have arrived")
    if entry.possible_copies >= MAX_ATTEMPTS_PER_RECIPIENT:
        entry.status = "undelivered"
        entry.detail += UNDELIVERED.format(copies=entry.possible_copies)
    else:
        entry.status = "uncertain"


# --- older ledger versions -----------------------------------------------------------------------


def _from_version_1(raw: dict[str, Any]) -> dict[str, Any]:
    """A version-1 ledger row with the fields version 2 added, inferred from what it recorded."""
    detail = str(raw.get("detail", ""))
    transport = "outbox" if detail.startswith(("written to ", "cannot write ")) else "smtp"
    accepted = raw.get("status") == "accepted"
    return {**raw, "possible_copies": int(accepted and transport == "smtp"),
            "accepted_by": [transport] if accepted else []}


def _memos_of(output_dir: Path, project_id: str) -> Iterator[dict[str, Any]]:
    """Every readable memo of project_id in the run folders of output_dir."""
    try:
        run_dirs = [d for d in output_dir.iterdir() if d.is_dir()]
    except OSError:
        return
    for run_dir in run_dirs:
        try:
            memo = json.loads(memo_file(run_dir, project_id, "json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(memo, dict):
            yield memo


def _merge(a: LedgerEntry, b: LedgerEntry) -> LedgerEntry:
    """One entry for two version-1 entries of the same decision: an accepted one wins, else the later."""
    keep, other = sorted((a, b), key=lambda e: (e.status == "accepted", e.last_attempt), reverse=True)
    keep.attempts += other.attempts
    keep.possible_copies += other.possible_copies
    if keep.status == "accepted":
        keep.accepted_by = sorted(set(keep.accepted_by) | set(other.accepted_by))
    keep.first_attempt = min(keep.first_attempt, other.first_attempt)
    return keep


def version_1_content_sha(memo: dict[str, Any]) -> str:
    """The content sha version-1 ledgers keyed on (the whole memo but run_id and generated_at)."""
    stable = {key: value for key, value in memo.items() if key not in ("run_id", "generated_at")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode("utf-8")).hexdigest()


def rekeyed(entries: Iterable[LedgerEntry], old_sha: Any, output_dirs: Iterable[Path]) -> dict[Key, LedgerEntry]:
    """Older entries re-keyed on the decision key of the memo each was about, looked up in
    <output_dir>/*/<project-id>.json with `old_sha` (how that version keyed a memo). Two old
    entries for the same decision (a memo re-rendered and sent again) merge into one."""
    entries, output_dirs = list(entries), list(output_dirs)
    wanted = {(e.project_id, e.content_sha) for e in entries}
    decision_sha: dict[tuple[str, str], str] = {}
    for project_id in {p for p, _ in wanted}:
        if not project_id or project_id.startswith(".") or "/" in project_id or "\\" in project_id:
            continue  # never let a ledger value choose a path outside the run folders
        for output_dir in output_dirs:
            for memo in _memos_of(Path(output_dir), project_id):
                old = (project_id, old_sha(memo))
                if old in wanted:
                    decision_sha[old] = memo_content_sha(memo)
    migrated: dict[Key, LedgerEntry] = {}
    for entry in entries:
        entry.content_sha = decision_sha.get((entry.project_id, entry.content_sha), entry.content_sha)
        key = entry_key(entry.project_id, entry.content_sha, entry.recipient)
        migrated[key] = _merge(migrated[key], entry) if key in migrated else entry
    return migrated
