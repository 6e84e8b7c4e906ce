"""Deliver each memo once: a send ledger plus a delivery loop with retries.

The ledger (<state_dir>/deliveries.json) records, per (project id, memo content sha, recipient),
what happened to the memo: its status, how many sends were made, how many of them may have left a
copy with a mail server, and which transports ("smtp", "outbox") accepted it. It is saved
atomically right after every send, so a crash between two sends never causes a resend of what was
already accepted.

The sending rules (deliver with force=False):

* The key is the decision the memo announces (delivery.decision_key: verdict, picks, cost vs
  budget). A memo re-rendered with the same decision (`run --force`, a template or CSS edit, a new
  memo format, new wording) has the same key and is not sent again; a changed decision is a new
  key and goes out once.
* accepted: not sent again ("already-sent"). One exception: a memo only ever written to the outbox
  is sent once by SMTP when the mailer is SMTP (turning SMTP on after reviewing the outbox).
* permanent (a 5xx refusal): reported, not retried.
* transient (the message did not reach the server: connection refused or lost, or a timeout,
  before the message data was sent; a 4xx reply): retried in the same run with backoff, up to
  `retries` sends, and again on every later run. Not capped across runs: such a failure cannot
  have delivered a copy, and a cap would drop the memo for good after an outage of a few runs.
* uncertain (the whole message was sent, then the reply was lost: a timeout or dropped
  connection while waiting for the server's verdict): the server may have queued it, so it is not
  retried in the same run. Later runs retry it while fewer than MAX_ATTEMPTS_PER_RECIPIENT sends
  may have left a copy (sends that ended "accepted" or "uncertain" over SMTP, counting all runs);
  the send that reaches the cap without a confirmation is recorded as "undelivered".
* undelivered: final; reported as not delivered and never retried automatically.

force=True (`modelmemo send`, `modelmemo run --resend`) sends to every recipient whatever the
ledger says; its sends count towards the cap as well.

Version-1 and version-2 ledgers are read and migrated once (version 2 keyed on everything a memo
of format 2 said, so an upgrade to memo format 3 would otherwise have re-sent every memo): the transport of an old accepted entry is inferred from its detail ("written to ..." =
outbox, else smtp), and each entry is re-keyed on the decision sha of the memo it was about, found
among the run folders next to the memos being delivered (<output>/<run-id>/<project-id>.json). So
the upgrade resends nothing that was sent, even when the memos are re-rendered by it. An entry
whose memo is gone (pruned) keeps its old key and is ignored: that memo is sent once more.

A corrupt ledger stops delivery with LedgerError instead of starting fresh: starting fresh would
resend every memo to every recipient.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from modelmemo.batch.atomic import atomic_write_text
from modelmemo.delivery.message import build_memo_email, memo_content_sha, version_2_content_sha
from modelmemo.batch.layout import memo_file
from modelmemo.delivery.mailers import Mailer, RecipientResult
from modelmemo.settings import MAX_ATTEMPTS_PER_RECIPIENT

LEDGER_VERSION = 3
STATUSES = ("accepted", "transient", "permanent", "uncertain", "undelivered")  # in the ledger
# MAX_ATTEMPTS_PER_RECIPIENT (the settings table): sends per memo content and recipient that may
# have left a copy with the mail server ("accepted" or "uncertain" over SMTP), counting all runs.
# No automatic send goes beyond it: a server that queues the message but never confirms it
# delivers at most this many copies.
_MAILER_STATUSES = ("accepted", "transient", "permanent", "uncertain")


class LedgerError(Exception):
    """The ledger cannot be read or trusted; delivery stops rather than risk resending."""


@dataclass(frozen=True)
class DeliveryJob:
    """One memo to send: its JSON and PDF (from output/<run-id>/) and who gets it."""

    project_id: str
    memo_json_path: Path
    pdf_path: Path
    recipients: Sequence[str]


@dataclass(frozen=True)
class DeliveryRecord:
    """The outcome for one recipient of one memo in this call.

    status: "accepted" (sent now), "already-sent" (an earlier run did), "transient" (not
    delivered; retried next run), "uncertain" (sent, but the server's reply was lost: it may have
    been delivered; retried on a later run up to the cap), "undelivered" (no confirmation after
    MAX_ATTEMPTS_PER_RECIPIENT sends; never retried automatically), "permanent" (refused; not
    retried unless forced) or "error" (memo unreadable, nothing sent). Only "accepted" and
    "already-sent" mean delivered.
    attempts counts every send of this memo to this recipient, across runs.
    """

    project_id: str
    recipient: str
    status: str
    detail: str
    attempts: int
    message_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LedgerEntry:
    project_id: str
    content_sha: str
    recipient: str
    status: str  # one of STATUSES
    attempts: int  # every send, across runs
    possible_copies: int  # sends that ended "accepted" or "uncertain" over a mail server (not the outbox)
    accepted_by: list[str]  # transports that accepted it: "outbox", "smtp"
    message_id: str
    first_attempt: str
    last_attempt: str
    detail: str


def _from_version_1(raw: Any) -> Any:
    """A version-1 ledger row with the fields version 2 added, inferred from what it recorded."""
    if not isinstance(raw, dict):
        return raw
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


def _version_1_content_sha(memo: dict[str, Any]) -> str:
    """The content sha version-1 ledgers keyed on (the whole memo but run_id and generated_at)."""
    stable = {key: value for key, value in memo.items() if key not in ("run_id", "generated_at")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode("utf-8")).hexdigest()


def _key(project_id: str, content_sha: str, recipient: str) -> tuple[str, str, str]:
    # Mailbox case is not significant in practice; requirements.recipients dedupes the same way.
    return project_id, content_sha, recipient.strip().lower()


class Ledger:
    """The JSON send ledger. Load with Ledger.load(path); save() after every change."""

    def __init__(self, path: Path, entries: dict[tuple[str, str, str], LedgerEntry] | None = None) -> None:
        self.path = Path(path)
        self.entries = entries or {}
        self.from_version = LEDGER_VERSION  # older ledgers are keyed on older content shas until migrate()

    @classmethod
    def load(cls, path: Path) -> "Ledger":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise LedgerError(f"cannot read the delivery ledger {path}: {exc.strerror}") from None
        hint = ("; fix or restore it before delivering again (deleting it would resend every memo "
                "to every recipient)")
        try:
            data = json.loads(text)
            version = data.get("ledger_version") if isinstance(data, dict) else None
            if version not in (1, 2, LEDGER_VERSION):
                raise ValueError(f"expected ledger_version {LEDGER_VERSION} (or 1 or 2)")
            entries = {}
            for raw in data["deliveries"]:
                entry = LedgerEntry(**(_from_version_1(raw) if version == 1 else raw))
                if (entry.status not in STATUSES or not isinstance(entry.attempts, int)
                        or not isinstance(entry.possible_copies, int) or not isinstance(entry.accepted_by, list)
                        or not all(isinstance(t, str) for t in entry.accepted_by)):
                    raise ValueError(f"bad entry for {entry.project_id}/{entry.recipient}")
                entries[_key(entry.project_id, entry.content_sha, entry.recipient)] = entry
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LedgerError(f"the delivery ledger {path} is corrupt ({exc}){hint}") from None
        ledger = cls(path, entries)
        ledger.from_version = version
        return ledger

    def save(self) -> None:
        rows = [asdict(e) for _, e in sorted(self.entries.items())]
        atomic_write_text(self.path, json.dumps({"ledger_version": LEDGER_VERSION, "deliveries": rows},
                                                indent=2, ensure_ascii=False) + "\n")

    def get(self, project_id: str, content_sha: str, recipient: str) -> LedgerEntry | None:
        return self.entries.get(_key(project_id, content_sha, recipient))

    def migrate(self, output_dirs: Iterable[Path]) -> None:
        """Re-key older entries on the decision key of the memo each was about, looked up in
        <output_dir>/*/<project-id>.json: version 1 keyed on a sha of the whole memo, version 2 on
        a sha of everything the memo said (memo format 2). Two old entries for the same decision
        (a memo re-rendered and sent again) merge into one. So an upgrade re-sends only memos whose
        verdict, picks or cost vs budget changed."""
        if self.from_version == LEDGER_VERSION:
            return
        old_sha = _version_1_content_sha if self.from_version == 1 else version_2_content_sha
        self.from_version = LEDGER_VERSION
        wanted = {(e.project_id, e.content_sha) for e in self.entries.values()}
        decision_sha: dict[tuple[str, str], str] = {}
        for project_id in {p for p, _ in wanted}:
            if not isinstance(project_id, str) or not project_id or project_id.startswith(".") \
                    or "/" in project_id or "\\" in project_id:
                continue  # never let a ledger value choose a path outside the run folders
            for output_dir in output_dirs:
                for memo in _memos_of(Path(output_dir), project_id):
                    old = (project_id, old_sha(memo))
                    if old in wanted:
                        decision_sha[old] = memo_content_sha(memo)
        migrated: dict[tuple[str, str, str], LedgerEntry] = {}
        for entry in self.entries.values():
            entry.content_sha = decision_sha.get((entry.project_id, entry.content_sha), entry.content_sha)
            key = _key(entry.project_id, entry.content_sha, entry.recipient)
            migrated[key] = _merge(migrated[key], entry) if key in migrated else entry
        self.entries = migrated

    def record(self, project_id: str, content_sha: str, recipient: str, message_id: str,
               result: RecipientResult, when: str, transport: str = "smtp") -> LedgerEntry:
        """Record one send; an "uncertain" send that reaches the cap is recorded as "undelivered"."""
        entry = self.get(project_id, content_sha, recipient)
        if entry is None:
            entry = LedgerEntry(project_id, content_sha, recipient, result.status, 0, 0, [], message_id,
                                when, when, "")
            self.entries[_key(project_id, content_sha, recipient)] = entry
        entry.attempts += 1
        if result.status in ("accepted", "uncertain") and transport != "outbox":
            entry.possible_copies += 1
        if result.status == "accepted" and transport not in entry.accepted_by:
            entry.accepted_by = sorted(entry.accepted_by + [transport])
        entry.status, entry.detail = result.status, result.detail
        if result.status == "uncertain" and entry.possible_copies >= MAX_ATTEMPTS_PER_RECIPIENT:
            entry.status = "undelivered"
            entry.detail = (f"{result.detail}; {entry.possible_copies} sends without a confirmation, not "
                            "retried automatically (check with the recipient or the mail server; "
                            "`modelmemo send` resends)")
        entry.message_id = message_id
        entry.last_attempt = when
        return entry


@contextmanager
def _exclusive(ledger_path: Path) -> Iterator[None]:
    """Hold an exclusive lock next to the ledger, so two overlapping runs cannot both send."""
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock (one scheduled run at a time is assumed)
        yield
        return
    with open(ledger_path.with_name(ledger_path.name + ".lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _unique(recipients: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for recipient in recipients:
        lowered = recipient.strip().lower()
        if lowered and lowered not in seen:
            seen.add(lowered)
            result.append(recipient.strip())
    return result


def deliver(
    jobs: Sequence[DeliveryJob],
    mailer: Mailer,
    ledger_path: Path,
    *,
    sender: str,
    templates_dir: Path,
    retries: int = 3,
    backoff_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    force: bool = False,
    public_base_url: str | None = None,
) -> list[DeliveryRecord]:
    """Email each job's PDF memo to its recipients not yet served; return one record per recipient.

    The rules are in the module docstring. force: send to every recipient, even those already
    served (or refused, or undelivered). Transient failures are retried up to `retries` sends in
    this call, waiting backoff, 2×backoff, ...; uncertain ones are not retried in this call.
    public_base_url (Settings.public_base_url): where the memos are published; the email links the memo.
    Raises LedgerError if the ledger is unreadable; everything else is reported in the records.
    """
    if retries < 1:
        raise ValueError("retries must be at least 1")
    ledger_path = Path(ledger_path)
    records: list[DeliveryRecord] = []
    with _exclusive(ledger_path):
        ledger = Ledger.load(ledger_path)
        ledger.migrate({Path(job.memo_json_path).resolve().parent.parent for job in jobs})
        if jobs:
            ledger.save()  # fail now if the ledger cannot be written, not after a send it must record
        for job in jobs:
            records.extend(_deliver_one(job, mailer, ledger, sender, Path(templates_dir),
                                        retries, backoff_seconds, sleep, force, public_base_url))
    return records


def _deliver_one(job: DeliveryJob, mailer: Mailer, ledger: Ledger, sender: str, templates_dir: Path,
                 retries: int, backoff_seconds: float, sleep: Callable[[float], None],
                 force: bool, public_base_url: str | None = None) -> list[DeliveryRecord]:
    recipients = _unique(job.recipients)
    try:
        memo = json.loads(Path(job.memo_json_path).read_text(encoding="utf-8"))
        if memo.get("project", {}).get("id") != job.project_id:
            raise ValueError(f"{job.memo_json_path} is the memo of another project")
        content_sha = memo_content_sha(memo)
    except Exception as exc:  # unreadable or broken memo: report it, deliver the other projects
        return _errors(job, recipients, exc)
    transport = getattr(mailer, "transport", "smtp")  # a mailer without one is taken for a mail server

    done: dict[str, DeliveryRecord] = {}
    pending: list[str] = []
    outbox_only: set[str] = set()  # accepted only by the outbox so far; now sent by SMTP
    for recipient in recipients:
        entry = ledger.get(job.project_id, content_sha, recipient)
        record = None if force or entry is None else _without_sending(job.project_id, recipient, entry, transport)
        if record is not None:
            done[recipient] = record
            continue
        pending.append(recipient)
        if entry is not None and transport == "smtp" and _only_in_outbox(entry):
            outbox_only.add(recipient)
    if not pending:
        return [done[r] for r in recipients]

    try:  # one message for everyone (To: lists all recipients); the envelope names only `pending`
        message = build_memo_email(memo, Path(job.pdf_path).read_bytes(), sender, recipients, templates_dir,
                                   public_base_url=public_base_url)
    except Exception as exc:
        return [done.get(r) or _errors(job, [r], exc)[0] for r in recipients]
    message_id = str(message["Message-ID"])

    for attempt in range(retries):
        if not pending:
            break
        if attempt:
            sleep(backoff_seconds * 2 ** (attempt - 1))
        try:
            results = mailer.send(message, list(pending))
        except Exception as exc:  # a mailer bug must not lose the ledger or stop the batch
            results = {r: RecipientResult("transient", f"{type(exc).__name__}: {exc}") for r in pending}
        when = _now()
        for recipient in pending:
            result = results.get(recipient) or RecipientResult("transient", "the mailer reported nothing")
            if result.status not in _MAILER_STATUSES:  # never write a status the ledger cannot load
                result = RecipientResult("transient", f"the mailer reported {result.status!r}: {result.detail}")
            if recipient in outbox_only:
                result = RecipientResult(result.status, (
                    f"sent by SMTP; earlier only written to the outbox ({result.detail})"
                    if result.status == "accepted" else f"{result.detail} (earlier only written to the outbox)"))
            entry = ledger.record(job.project_id, content_sha, recipient, message_id, result, when, transport)
            done[recipient] = DeliveryRecord(job.project_id, recipient, entry.status, entry.detail,
                                             entry.attempts, message_id)
        ledger.save()  # before anything else can fail: an accepted send is never repeated
        pending = [r for r in pending if done[r].status == "transient"]  # uncertain: not in this run
    return [done[r] for r in recipients]


def _without_sending(project_id: str, recipient: str, entry: LedgerEntry, transport: str) -> DeliveryRecord | None:
    """The record of a recipient who gets nothing this time (not forced), or None if a send is due."""
    def record(status: str, detail: str) -> DeliveryRecord:
        return DeliveryRecord(project_id, recipient, status, detail, entry.attempts, entry.message_id)

    if entry.status == "accepted":
        if not _only_in_outbox(entry):
            return record("already-sent", f"sent {entry.last_attempt}")
        if transport != "smtp":
            return record("already-sent", f"written to the outbox {entry.last_attempt}")
        return None  # only written to the outbox so far: SMTP delivers it, once
    if entry.status == "permanent":
        return record("permanent", f"{entry.detail} (not retried; fix the address or force a resend)")
    if entry.status == "undelivered":
        return record("undelivered", entry.detail)
    return None  # transient, uncertain: retried


def _only_in_outbox(entry: LedgerEntry) -> bool:
    return entry.status == "accepted" and entry.accepted_by == ["outbox"]


def _errors(job: DeliveryJob, recipients: list[str], exc: Exception) -> list[DeliveryRecord]:
    detail = f"memo not sent: {type(exc).__name__}: {exc}"
    return [DeliveryRecord(job.project_id, r, "error", detail, 0, None) for r in recipients]
