"""Deliver each memo once: a send ledger plus a delivery loop with retries.

The ledger (<state_dir>/deliveries.json) records, per (project id, memo content sha, recipient),
what happened to the memo: its status, how many sends were made, how many of them may have left a
copy with a mail server, and which transports ("smtp", "outbox") accepted it. Its rows are
modelmemo.delivery.entries.LedgerEntry.

Write-ahead: before each send over a mail server (before any connection) the ledger records the
send as "sending", counted at once (attempts + 1, possible_copies + 1), and is saved durably (the
file and its folder fsynced). The send's result then replaces it and the ledger is saved
again. A process that dies in between (SIGKILL, power loss, a stop that cannot wait) leaves a
"sending" row, never nothing: the next run reads it as "uncertain" (see the rules below), so a
second copy can follow but is counted towards the cap, and the memo's delivery line says a copy
may already have arrived. The outbox is not written ahead: a file there is no copy anyone has
yet, and a send cut off there is written again (a second .eml, counted nowhere). A stop signal (SIGTERM, Ctrl-C) while a send is in flight lets that
send finish and records its result first (bounded by the stop's grace period), then stops.

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
  connection while waiting for the server's verdict; or a "sending" row left by a process that
  stopped mid-send): the server may have queued it, so it is not retried in the same run. Later
  runs retry it while fewer than MAX_ATTEMPTS_PER_RECIPIENT sends may have left a copy (counting
  all runs); the send that reaches the cap without a confirmation is recorded as "undelivered".
* undelivered: final; reported as not delivered and never retried automatically.

Circuit breaker: after `breaker_failures` sends in a row that the server never answered
(RecipientResult.unreachable: refused, timed out; each retry counts, any reply resets the count),
the remaining sends of the call are not attempted: reported "transient" (not_attempted), the
ledger untouched, retried by the next run. A black-holed server costs a run a few connect
timeouts, not retries x timeout for every memo.

force=True (`modelmemo send`, `modelmemo run --resend`) sends to every recipient whatever the
ledger says; its sends count towards the cap as well.

Older ledger versions (1, 2) are migrated once, and the "sending" status came without a version
bump: see modelmemo.delivery.entries.

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
from typing import Any, Callable, Iterable, Iterator, Sequence

from modelmemo.batch.atomic import atomic_write_text
from modelmemo.delivery.entries import STATUSES  # noqa: F401  (part of this module's interface)
from modelmemo.delivery.entries import (UNDELIVERED, Key, LedgerEntry, entry_from_row, entry_key, mark_interrupted,
                                        rekeyed, version_1_content_sha)
from modelmemo.delivery.mailers import BackgroundSend, Mailer, RecipientResult
from modelmemo.delivery.message import build_memo_email, memo_content_sha, version_2_content_sha
from modelmemo.process.shutdown import STOP_GRACE_SECONDS, critical
from modelmemo.settings import MAX_ATTEMPTS_PER_RECIPIENT

LEDGER_VERSION = 3
# MAX_ATTEMPTS_PER_RECIPIENT (the settings table): sends per memo content and recipient that may
# have left a copy with the mail server ("accepted", "uncertain" or "sending" over SMTP), counting
# all runs. No automatic send goes beyond it: a server that queues the message but never confirms
# it delivers at most this many copies.
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
    delivered; retried next run), "uncertain" (sent, but the server's reply was lost, or the
    process stopped mid-send: it may have been delivered; retried on a later run up to the cap),
    "undelivered" (no confirmation after MAX_ATTEMPTS_PER_RECIPIENT sends; never retried
    automatically), "permanent" (refused; not retried unless forced) or "error" (memo unreadable,
    nothing sent). Only "accepted" and "already-sent" mean delivered.
    attempts counts every send of this memo to this recipient, across runs.
    not_attempted: "transient" without a send: the circuit breaker was open (the mail server did
    not answer several sends in a row earlier in this call).
    """

    project_id: str
    recipient: str
    status: str
    detail: str
    attempts: int
    message_id: str | None
    not_attempted: bool = False
    # A send of this memo to this recipient was cut off earlier (a "sending" row on load): the
    # server may have had that copy, so this one may be a second (counted towards the cap).
    maybe_second_copy: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    """The JSON send ledger. Load with Ledger.load(path); save() after every change."""

    def __init__(self, path: Path, entries: dict[Key, LedgerEntry] | None = None) -> None:
        self.path = Path(path)
        self.entries = entries or {}
        self.from_version = LEDGER_VERSION  # older ledgers are keyed on older content shas until migrate()
        self.interrupted: set[Key] = set()  # "sending" on load: a send was cut off (now "uncertain")

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
            if type(version) is not int or version not in (1, 2, LEDGER_VERSION):
                raise ValueError(f"expected ledger_version {LEDGER_VERSION} (or 1 or 2)")
            rows = data.get("deliveries")
            if not isinstance(rows, list):  # {} or "" would read as "nothing sent yet"
                raise ValueError(f"deliveries is {type(rows).__name__}, not a list")
            entries: dict[Key, LedgerEntry] = {}
            for raw in rows:
                entry = entry_from_row(raw, version)
                key = entry_key(entry.project_id, entry.content_sha, entry.recipient)
                if key in entries and version == LEDGER_VERSION:
                    raise ValueError(f"two entries for {entry.project_id}/{entry.recipient}")
                entries[key] = entry
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LedgerError(f"the delivery ledger {path} is corrupt ({exc}){hint}") from None
        ledger = cls(path, entries)
        ledger.from_version = version
        for key, entry in entries.items():
            if entry.status == "sending":
                mark_interrupted(entry)
                ledger.interrupted.add(key)
        return ledger

    def save(self) -> None:
        """Atomically, and durably: the file and its folder are fsynced, so a "sending" row written
        before a send is on disk before the connection opens, even across a power loss."""
        rows = [asdict(e) for _, e in sorted(self.entries.items())]
        atomic_write_text(self.path, json.dumps({"ledger_version": LEDGER_VERSION, "deliveries": rows},
                                                indent=2, ensure_ascii=False) + "\n", sync_folder=True)

    def get(self, project_id: str, content_sha: str, recipient: str) -> LedgerEntry | None:
        return self.entries.get(entry_key(project_id, content_sha, recipient))

    def migrate(self, output_dirs: Iterable[Path]) -> None:
        """Re-key older entries on the decision key of the memo each was about (entries.rekeyed):
        version 1 keyed on a sha of the whole memo, version 2 on a sha of everything the memo said
        (memo format 2). So an upgrade re-sends only memos whose verdict, picks or cost vs budget
        changed."""
        if self.from_version == LEDGER_VERSION:
            return
        old_sha = version_1_content_sha if self.from_version == 1 else version_2_content_sha
        self.from_version = LEDGER_VERSION
        self.entries = rekeyed(self.entries.values(), old_sha, output_dirs)

    def begin(self, project_id: str, content_sha: str, recipient: str, message_id: str, when: str,
              transport: str = "smtp") -> LedgerEntry:
        """The write-ahead of one send (save() before sending): "sending", counted as an attempt
        and, over a mail server, as a possible copy, until record() has the result."""
        entry = self.get(project_id, content_sha, recipient)
        if entry is None:
            entry = LedgerEntry(project_id, content_sha, recipient, "sending", 0, 0, [], message_id, when, when, "")
            self.entries[entry_key(project_id, content_sha, recipient)] = entry
        entry.attempts += 1
        if transport != "outbox":
            entry.possible_copies += 1
        entry.status, entry.detail = "sending", f"sending by {transport} since {when}"
        entry.message_id, entry.last_attempt = message_id, when
        return entry

    def record(self, project_id: str, content_sha: str, recipient: str, result: RecipientResult,
               transport: str = "smtp") -> LedgerEntry:
        """The result of the send begin() announced. A refusal, or a failure before the server had
        the message, takes the possible copy back; an "uncertain" send that reaches the cap is
        recorded as "undelivered"."""
        entry = self.entries[entry_key(project_id, content_sha, recipient)]
        if result.status in ("transient", "permanent") and transport != "outbox":
            entry.possible_copies -= 1  # nothing can have been queued
        if result.status == "accepted" and transport not in entry.accepted_by:
            entry.accepted_by = sorted(entry.accepted_by + [transport])
        entry.status, entry.detail = result.status, result.detail
        if result.status == "uncertain" and entry.possible_copies >= MAX_ATTEMPTS_PER_RECIPIENT:
            entry.status = "undelivered"
            entry.detail = result.detail + UNDELIVERED.format(copies=entry.possible_copies)
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


@dataclass
class _Breaker:
    """Sends in a row, across the memos of one deliver() call, that the server never answered."""

    limit: int
    in_a_row: int = 0

    @property
    def open(self) -> bool:
        return self.in_a_row >= self.limit

    def count(self, results: Iterable[RecipientResult]) -> None:
        self.in_a_row = self.in_a_row + 1 if any(r.unreachable for r in results) else 0

    def detail(self) -> str:
        return f"not attempted: the mail server did not answer {self.limit} times in a row; retried next run"


@dataclass
class _Call:
    """What every memo of one deliver() call shares."""

    mailer: Mailer
    ledger: Ledger
    sender: str
    templates_dir: Path
    retries: int
    backoff_seconds: float
    sleep: Callable[[float], None]
    force: bool
    public_base_url: str | None
    breaker: _Breaker


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
    breaker_failures: int = 3,
) -> list[DeliveryRecord]:
    """Email each job's PDF memo to its recipients not yet served; return one record per recipient.

    The rules are in the module docstring. force: send to every recipient, even those already
    served (or refused, or undelivered). Transient failures are retried up to `retries` sends in
    this call, waiting backoff, 2×backoff, ...; uncertain ones are not retried in this call.
    public_base_url (Settings.public_base_url): where the memos are published; the email links the memo.
    breaker_failures (Settings.smtp_breaker_failures): sends in a row without an answer from the
    server after which the call stops connecting (the circuit breaker).
    Raises LedgerError if the ledger is unreadable, OSError if it cannot be written; everything
    else is reported in the records.
    """
    if retries < 1 or breaker_failures < 1:
        raise ValueError("retries and breaker_failures must be at least 1")
    ledger_path = Path(ledger_path)
    records: list[DeliveryRecord] = []
    with _exclusive(ledger_path):
        ledger = Ledger.load(ledger_path)
        ledger.migrate({Path(job.memo_json_path).resolve().parent.parent for job in jobs})
        if jobs:
            ledger.save()  # fail now if the ledger cannot be written, not after a send it must record
        call = _Call(mailer, ledger, sender, Path(templates_dir), retries, backoff_seconds, sleep, force,
                     public_base_url, _Breaker(breaker_failures))
        for job in jobs:
            records.extend(_deliver_one(job, call))
    return records


def _deliver_one(job: DeliveryJob, call: _Call) -> list[DeliveryRecord]:
    ledger = call.ledger
    recipients = _unique(job.recipients)
    try:
        memo = json.loads(Path(job.memo_json_path).read_text(encoding="utf-8"))
        if memo.get("project", {}).get("id") != job.project_id:
            raise ValueError(f"{job.memo_json_path} is the memo of another project")
        content_sha = memo_content_sha(memo)
    except Exception as exc:  # unreadable or broken memo: report it, deliver the other projects
        return _errors(job, recipients, exc)
    transport = getattr(call.mailer, "transport", "smtp")  # a mailer without one is taken for a mail server

    done: dict[str, DeliveryRecord] = {}
    pending: list[str] = []
    outbox_only: set[str] = set()  # accepted only by the outbox so far; now sent by SMTP
    for recipient in recipients:
        entry = ledger.get(job.project_id, content_sha, recipient)
        record = None if call.force or entry is None else _without_sending(job.project_id, recipient, entry, transport)
        if record is not None:
            done[recipient] = record
            continue
        pending.append(recipient)
        if entry is not None and transport == "smtp" and _only_in_outbox(entry):
            outbox_only.add(recipient)
    if call.breaker.open:  # the server did not answer the last sends: try it again next run, not now
        for recipient in pending:
            entry = ledger.get(job.project_id, content_sha, recipient)
            done[recipient] = DeliveryRecord(job.project_id, recipient, "transient", call.breaker.detail(),
                                             entry.attempts if entry else 0, entry.message_id if entry else None,
                                             not_attempted=True)
        pending = []
    if not pending:
        return [done[r] for r in recipients]

    try:  # one message for everyone (To: lists all recipients); the envelope names only `pending`
        message = build_memo_email(memo, Path(job.pdf_path).read_bytes(), call.sender, recipients,
                                   call.templates_dir, public_base_url=call.public_base_url)
    except Exception as exc:
        return [done.get(r) or _errors(job, [r], exc)[0] for r in recipients]
    message_id = str(message["Message-ID"])
    cut_off = {r for r in pending if entry_key(job.project_id, content_sha, r) in ledger.interrupted}

    def note(recipient: str, result: RecipientResult) -> RecipientResult:
        """The result as the ledger and the memo's delivery line should tell it."""
        if result.status not in _MAILER_STATUSES:  # never write a status the ledger cannot load
            result = RecipientResult("transient", f"the mailer reported {result.status!r}: {result.detail}")
        if recipient in outbox_only:
            result = RecipientResult(result.status, (
                f"sent by SMTP; earlier only written to the outbox ({result.detail})"
                if result.status == "accepted" else f"{result.detail} (earlier only written to the outbox)"))
        if recipient in cut_off:
            result = RecipientResult(result.status, f"{result.detail} (an earlier send was cut off before its "
                                                    "result was recorded: a copy may already have arrived)")
        return result

    # The write-ahead is for a mail server, where a copy can exist that the ledger does not know
    # of. An outbox file is no copy anyone has yet: a send cut off there is simply written again
    # (one ledger save per memo, as before, on the default path).
    ahead = transport != "outbox"

    def begin(when: str) -> None:
        for recipient in pending:
            ledger.begin(job.project_id, content_sha, recipient, message_id, when, transport)

    def record(results: dict[str, RecipientResult], when: str) -> None:
        if not ahead:
            begin(when)
        for recipient in pending:
            result = note(recipient, results.get(recipient) or RecipientResult("transient", "the mailer reported nothing"))
            entry = ledger.record(job.project_id, content_sha, recipient, result, transport)
            done[recipient] = DeliveryRecord(job.project_id, recipient, entry.status, entry.detail,
                                             entry.attempts, message_id, maybe_second_copy=recipient in cut_off)
        ledger.save()  # before anything else can fail: an accepted send is never repeated

    for attempt in range(call.retries):
        if not pending or call.breaker.open:
            break
        if attempt:
            call.sleep(call.backoff_seconds * 2 ** (attempt - 1))
        when = _now()
        if ahead:
            begin(when)
            ledger.save()  # the write-ahead: on disk before the server can have a copy
        sending = BackgroundSend(call.mailer, message, list(pending))
        try:
            results = sending.wait()
        except BaseException:  # a stop (SIGTERM, Ctrl-C) mid-send: the server may have the copy already
            with critical():  # the hard stop (process/shutdown.py) waits for this
                finished = sending.wait(STOP_GRACE_SECONDS)
                if finished is not None:
                    record(finished, when)  # else the "sending" rows stay: the next run counts them
            raise
        call.breaker.count(results.values())
        record(results, when)
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


def not_attempted_line(records: Iterable[dict[str, Any]]) -> str | None:
    """One line for every send the circuit breaker skipped (records as dicts: DeliveryRecord.as_dict,
    a summary's deliveries), instead of one per memo; None if there was none."""
    skipped = [r for r in records if r.get("not_attempted")]
    if not skipped:
        return None
    memos = len({r["project_id"] for r in skipped})
    return (f"emails to {len(skipped)} recipient(s) of {memos} memo(s): transient: {skipped[0]['detail']}")
