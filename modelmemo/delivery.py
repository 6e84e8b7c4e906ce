"""Deliver each memo once: a send ledger plus a delivery loop with retries.

The ledger (<state_dir>/deliveries.json) records, per (project id, memo content sha, recipient),
whether the mail server accepted the memo. It is saved atomically right after every send, so a
crash between two sends never causes a resend of what was already accepted. A re-rendered but
unchanged memo has the same content sha, so nightly runs send nothing new; a changed memo is a new
key and goes out once.

A corrupt ledger stops delivery with LedgerError instead of starting fresh: starting fresh would
resend every memo to every recipient.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .atomic import atomic_write_text
from .email_message import build_memo_email, memo_content_sha
from .mailers import Mailer, RecipientResult

LEDGER_VERSION = 1
STATUSES = ("accepted", "transient", "permanent")


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

    status: "accepted" (sent now), "already-sent" (an earlier run did), "transient" (retry next
    run), "permanent" (refused; not retried unless forced) or "error" (memo unreadable, nothing sent).
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
    status: str
    attempts: int
    message_id: str
    first_attempt: str
    last_attempt: str
    detail: str


def _key(project_id: str, content_sha: str, recipient: str) -> tuple[str, str, str]:
    # Mailbox case is not significant in practice; requirements.recipients dedupes the same way.
    return project_id, content_sha, recipient.strip().lower()


class Ledger:
    """The JSON send ledger. Load with Ledger.load(path); save() after every change."""

    def __init__(self, path: Path, entries: dict[tuple[str, str, str], LedgerEntry] | None = None) -> None:
        self.path = Path(path)
        self.entries = entries or {}

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
            if not isinstance(data, dict) or data.get("ledger_version") != LEDGER_VERSION:
                raise ValueError(f"expected ledger_version {LEDGER_VERSION}")
            entries = {}
            for raw in data["deliveries"]:
                entry = LedgerEntry(**raw)
                if entry.status not in STATUSES or not isinstance(entry.attempts, int):
                    raise ValueError(f"bad entry for {entry.project_id}/{entry.recipient}")
                entries[_key(entry.project_id, entry.content_sha, entry.recipient)] = entry
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"the delivery ledger {path} is corrupt ({exc}){hint}") from None
        return cls(path, entries)

    def save(self) -> None:
        rows = [asdict(e) for _, e in sorted(self.entries.items())]
        atomic_write_text(self.path, json.dumps({"ledger_version": LEDGER_VERSION, "deliveries": rows},
                                                indent=2, ensure_ascii=False) + "\n")

    def get(self, project_id: str, content_sha: str, recipient: str) -> LedgerEntry | None:
        return self.entries.get(_key(project_id, content_sha, recipient))

    def record(self, project_id: str, content_sha: str, recipient: str, message_id: str,
               result: RecipientResult, when: str) -> LedgerEntry:
        entry = self.get(project_id, content_sha, recipient)
        if entry is None:
            entry = LedgerEntry(project_id, content_sha, recipient, result.status, 0, message_id, when, when, "")
            self.entries[_key(project_id, content_sha, recipient)] = entry
        entry.status = result.status
        entry.attempts += 1
        entry.message_id = message_id
        entry.last_attempt = when
        entry.detail = result.detail
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
) -> list[DeliveryRecord]:
    """Email each job's PDF memo to its recipients not yet served; return one record per recipient.

    Recipients already "accepted" (or "permanent") for this memo content are skipped unless force.
    Transient failures are retried up to `retries` sends in total, waiting backoff, 2×backoff, ...
    Raises LedgerError if the ledger is unreadable; everything else is reported in the records.
    """
    if retries < 1:
        raise ValueError("retries must be at least 1")
    ledger_path = Path(ledger_path)
    records: list[DeliveryRecord] = []
    with _exclusive(ledger_path):
        ledger = Ledger.load(ledger_path)
        if jobs:
            ledger.save()  # fail now if the ledger cannot be written, not after a send it must record
        for job in jobs:
            records.extend(_deliver_one(job, mailer, ledger, sender, Path(templates_dir),
                                        retries, backoff_seconds, sleep, force))
    return records


def _deliver_one(job: DeliveryJob, mailer: Mailer, ledger: Ledger, sender: str, templates_dir: Path,
                 retries: int, backoff_seconds: float, sleep: Callable[[float], None],
                 force: bool) -> list[DeliveryRecord]:
    recipients = _unique(job.recipients)
    try:
        memo = json.loads(Path(job.memo_json_path).read_text(encoding="utf-8"))
        if memo.get("project", {}).get("id") != job.project_id:
            raise ValueError(f"{job.memo_json_path} is the memo of another project")
        content_sha = memo_content_sha(memo)
    except Exception as exc:  # unreadable or broken memo: report it, deliver the other projects
        return _errors(job, recipients, exc)

    done: dict[str, DeliveryRecord] = {}
    pending: list[str] = []
    for recipient in recipients:
        entry = ledger.get(job.project_id, content_sha, recipient)
        if entry and not force and entry.status == "accepted":
            done[recipient] = DeliveryRecord(job.project_id, recipient, "already-sent",
                                             f"sent {entry.last_attempt}", entry.attempts, entry.message_id)
        elif entry and not force and entry.status == "permanent":
            done[recipient] = DeliveryRecord(job.project_id, recipient, "permanent",
                                             f"{entry.detail} (not retried; fix the address or force a resend)",
                                             entry.attempts, entry.message_id)
        else:
            pending.append(recipient)
    if not pending:
        return [done[r] for r in recipients]

    try:  # one message for everyone (To: lists all recipients); the envelope names only `pending`
        message = build_memo_email(memo, Path(job.pdf_path).read_bytes(), sender, recipients, templates_dir)
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
            entry = ledger.record(job.project_id, content_sha, recipient, message_id, result, when)
            done[recipient] = DeliveryRecord(job.project_id, recipient, result.status, result.detail,
                                             entry.attempts, message_id)
        ledger.save()  # before anything else can fail: an accepted send is never repeated
        pending = [r for r in pending if done[r].status == "transient"]
    return [done[r] for r in recipients]


def _errors(job: DeliveryJob, recipients: list[str], exc: Exception) -> list[DeliveryRecord]:
    detail = f"memo not sent: {type(exc).__name__}: {exc}"
    return [DeliveryRecord(job.project_id, r, "error", detail, 0, None) for r in recipients]
