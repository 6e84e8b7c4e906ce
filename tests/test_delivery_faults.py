"""Issue 23: delivery promises kept under stops, crashes and dead mail servers.

M1, the write-ahead: a send is recorded as "sending" (durably, counted towards the cap) before any
connection, so a process that dies between the server's copy and the ledger's record leaves a row
the next run counts, never nothing; a SIGTERM mid-send lets the send finish and records it.
M3, the circuit breaker and the connect timeout: a mail server that never answers costs a run a
few connection attempts, not retries x timeout for every memo.
And three smaller ones: `send` with an unwritable state folder, a ledger whose types are wrong,
a sender setting with a line break.

Real components throughout: aiosmtpd and raw sockets on loopback, the real `modelmemo send`
command in a subprocess, killed by a failpoint (SIGKILL) or stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelmemo.delivery.ledger import MAX_ATTEMPTS_PER_RECIPIENT, DeliveryJob, LedgerError, deliver
from modelmemo.delivery.mailers import RecipientResult, SmtpMailer, SmtpSettings

from .conftest import ROOT, TEMPLATES, copy_examples
from .support_renderer import FAKE_PDF
from .test_delivery import NOTIFY, OWNER, PROJECT, SENDER, Recorder, Server, run
from .test_delivery import job, ledger, memo_files, rendered, server, stopped_server  # noqa: F401  (fixtures)


def rows(ledger_path: Path) -> list[dict]:
    return json.loads(ledger_path.read_text(encoding="utf-8"))["deliveries"]


# --- M3: servers that never answer ---------------------------------------------------------------


class BlackHole:
    """A loopback port where SMTP never starts.

    "silent": accepts each connection and never writes (counted as it accepts).
    "no-accept": listens and never calls accept; the kernel completes the handshake, so the client
        waits for a greeting that never comes (counted afterwards: the connections still queued).
    "syn-dropped": the accept queue is full, so the kernel drops the SYN and connect() itself
        times out (nothing to count on this side: the ledger's attempts are the count).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0 if mode == "syn-dropped" else 64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.fillers: list[socket.socket] = []
        self._stop = threading.Event()
        if mode == "silent":
            self.sock.settimeout(0.1)
            self._thread = threading.Thread(target=self._accept, daemon=True)
            self._thread.start()
        elif mode == "syn-dropped":
            for _ in range(3):  # fill the queue (backlog 0 holds one); later SYNs are dropped
                filler = socket.socket()
                filler.setblocking(False)
                try:
                    filler.connect(("127.0.0.1", self.port))
                except BlockingIOError:
                    pass
                self.fillers.append(filler)
            time.sleep(0.2)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # kept open, never written to

    def connections(self) -> int:
        """Connections that reached this socket (for "no-accept": drains the accept queue)."""
        if self.mode == "silent":
            return len(self.accepted)
        self.sock.setblocking(False)
        queued = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                break
            conn.close()
            queued += 1
        return queued - (1 if self.mode == "syn-dropped" else 0)  # the filler that fitted

    def close(self) -> None:
        self._stop.set()
        if self.mode == "silent":
            self._thread.join(timeout=5)
        for conn in self.accepted + self.fillers:
            conn.close()
        self.sock.close()


def mailer_for(port: int, connect_timeout: float = 0.3, timeout: float = 5.0) -> SmtpMailer:
    return SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=timeout,
                                   connect_timeout=connect_timeout))


def many_jobs(job: DeliveryJob, folder: Path, n: int) -> list[DeliveryJob]:
    """n memos (the rendered one under n project ids), each to the owner and the notify address."""
    memo = json.loads(job.memo_json_path.read_text(encoding="utf-8"))
    jobs = []
    for i in range(n):
        project_id = f"memo-{i:03d}"
        run_dir = folder / "run-1"
        run_dir.mkdir(parents=True, exist_ok=True)
        memo["project"]["id"] = project_id
        (run_dir / f"{project_id}.json").write_text(json.dumps(memo), encoding="utf-8")
        shutil.copy(job.pdf_path, run_dir / f"{project_id}.pdf")
        jobs.append(DeliveryJob(project_id, run_dir / f"{project_id}.json", run_dir / f"{project_id}.pdf",
                                (OWNER, NOTIFY)))
    return jobs


@pytest.mark.parametrize("mode", ["silent", "no-accept", "syn-dropped"])
def test_black_holed_server_costs_n_connection_attempts_not_300_times_retries(
        mode: str, job: DeliveryJob, ledger: Path, tmp_path: Path) -> None:
    """300 memos, 3 retries each, breaker 3: the first memo's 3 attempts time out (connect timeout
    0.3 s, the normal timeout 5 s), the other 299 are not attempted: reported transient, in one
    line, with the ledger untouched for them (retried next run)."""
    hole = BlackHole(mode)
    try:
        records = deliver(many_jobs(job, tmp_path / "out", 300), mailer_for(hole.port), ledger, sender=SENDER,
                          templates_dir=TEMPLATES, retries=3, backoff_seconds=0, breaker_failures=3)
        connections = hole.connections()
    finally:
        hole.close()
    if mode != "syn-dropped":
        assert connections == 3, connections
    else:
        assert connections == 0  # every SYN was dropped: connect() timed out
    assert len(records) == 600 and {r.status for r in records} == {"transient"}
    first, rest = records[:2], records[2:]
    assert [(r.attempts, r.not_attempted) for r in first] == [(3, False), (3, False)]
    assert "timed out" in first[0].detail
    assert all(r.not_attempted and r.attempts == 0 for r in rest)
    assert rest[0].detail == "not attempted: the mail server did not answer 3 times in a row; retried next run"
    # Only the memo that was tried is in the ledger; no possible copy (nothing reached a server).
    assert [(r["project_id"], r["status"], r["attempts"], r["possible_copies"]) for r in rows(ledger)] == [
        ("memo-000", "transient", 3, 0), ("memo-000", "transient", 3, 0)]


def test_breaker_counts_each_retry_across_memos(job: DeliveryJob, ledger: Path, tmp_path: Path) -> None:
    """retries 2, breaker 3: memo 1 fails twice, memo 2 once (the third in a row), then no more."""
    hole = BlackHole("silent")
    try:
        records = deliver(many_jobs(job, tmp_path / "out", 5), mailer_for(hole.port), ledger, sender=SENDER,
                          templates_dir=TEMPLATES, retries=2, backoff_seconds=0, breaker_failures=3)
        connections = hole.connections()
    finally:
        hole.close()
    assert connections == 3
    assert [(r.project_id, r.attempts, r.not_attempted) for r in records[::2]] == [
        ("memo-000", 2, False), ("memo-001", 1, False), ("memo-002", 0, True), ("memo-003", 0, True),
        ("memo-004", 0, True)]


def test_a_reply_is_an_answer_4xx_never_opens_the_breaker(server: Server, job: DeliveryJob, ledger: Path,
                                                          tmp_path: Path) -> None:
    """breaker 1, yet every send happens: a 451 is the server answering, not a dead server."""
    server.handler.transient.update({OWNER, NOTIFY})
    records = deliver(many_jobs(job, tmp_path / "out", 4), server.mailer(), ledger, sender=SENDER,
                      templates_dir=TEMPLATES, retries=2, backoff_seconds=0, breaker_failures=1)
    assert [(r.status, r.attempts, r.not_attempted) for r in records] == [("transient", 2, False)] * 8
    assert all("451" in r.detail for r in records)


def test_the_mailer_says_whether_the_server_answered(server: Server, stopped_server: Server) -> None:
    """RecipientResult.unreachable, set from the failure's kind, not read from its words."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Message-ID"] = SENDER, OWNER, "x", "<x@modelmemo>"
    message.set_content("x")
    refused = mailer_for(stopped_server.port).send(message, [OWNER])[OWNER]
    assert (refused.status, refused.unreachable) == ("transient", True) and "refused" in refused.detail
    hole = BlackHole("silent")
    try:
        silent = mailer_for(hole.port).send(message, [OWNER])[OWNER]
    finally:
        hole.close()
    assert (silent.status, silent.unreachable) == ("transient", True)
    server.handler.transient.add(OWNER)
    server.handler.permanent.add(NOTIFY)
    answered = server.mailer().send(message, [OWNER, NOTIFY])
    assert answered == {OWNER: RecipientResult("transient", "451 4.3.0 try later", False),
                        NOTIFY: RecipientResult("permanent", "550 5.1.1 no such user", False)}


@dataclass
class SlowMail(Recorder):
    """Greets at once, then takes `mail_delay` seconds to answer MAIL FROM."""

    mail_delay: float = 0.0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await asyncio.sleep(self.mail_delay)
        envelope.mail_from = address
        return "250 OK"


def test_connect_timeout_covers_connect_and_greeting_only(job: DeliveryJob, ledger: Path) -> None:
    """Connect timeout 0.3 s, normal timeout 5 s: a server that greets at once and answers MAIL
    after 1 s is waited for (the socket's timeout is set back after the greeting)."""
    slow = Server()
    slow.handler = SlowMail(mail_delay=1.0)
    slow.start()
    try:
        records = run(job, mailer_for(slow.port, connect_timeout=0.3, timeout=5.0), ledger, retries=1)
    finally:
        slow.stop()
    assert [r.status for r in records] == ["accepted", "accepted"], records[0].detail
    assert len(slow.handler.messages) == 1


# --- M1: the write-ahead ---------------------------------------------------------------------------


def written_ledger(ledger_path: Path, *rows_: dict) -> None:
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    ledger_path.write_text(json.dumps({"ledger_version": 3, "deliveries": list(rows_)}), encoding="utf-8")


def in_flight_row(job: DeliveryJob, recipient: str, possible_copies: int) -> dict:
    from modelmemo.delivery.message import memo_content_sha

    sha = memo_content_sha(json.loads(job.memo_json_path.read_text(encoding="utf-8")))
    return {"project_id": PROJECT, "content_sha": sha, "recipient": recipient, "status": "sending",
            "attempts": possible_copies, "possible_copies": possible_copies, "accepted_by": [],
            "message_id": "<m@modelmemo>", "first_attempt": "2026-11-28T02:00:00+00:00",
            "last_attempt": "2026-11-28T02:00:05+00:00", "detail": "sending by smtp since 2026-11-28T02:00:05+00:00"}


def test_a_send_cut_off_is_retried_under_the_cap_and_says_a_copy_may_have_arrived(
        server: Server, job: DeliveryJob, ledger: Path) -> None:
    """A "sending" row (the process stopped mid-send) is read as "uncertain": under the cap it is
    sent again, counted, and the record says a copy may already have arrived; at the cap it is
    "undelivered", not sent, and says the same."""
    written_ledger(ledger, in_flight_row(job, OWNER, 1), in_flight_row(job, NOTIFY, MAX_ATTEMPTS_PER_RECIPIENT))
    records = {r.recipient: r for r in run(job, server.mailer(), ledger)}
    assert (records[OWNER].status, records[OWNER].attempts) == ("accepted", 2)
    assert "a copy may already have arrived" in records[OWNER].detail
    assert records[OWNER].maybe_second_copy  # typed, for the run's console line
    assert records[NOTIFY].status == "undelivered"
    assert "a copy may already have arrived" in records[NOTIFY].detail
    assert "not retried automatically" in records[NOTIFY].detail
    assert [rcpts for rcpts, _ in server.handler.messages] == [[OWNER]]
    saved = {r["recipient"]: r for r in rows(ledger)}
    assert (saved[OWNER]["status"], saved[OWNER]["possible_copies"]) == ("accepted", 2)
    assert (saved[NOTIFY]["status"], saved[NOTIFY]["possible_copies"]) == ("undelivered", MAX_ATTEMPTS_PER_RECIPIENT)


@pytest.fixture(scope="module")
def a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder with one run of support-chatbot (fake PDF, no email yet): what `send` sends."""
    from modelmemo.batch.pipeline import run_batch

    from .conftest import CATALOG

    base = tmp_path_factory.mktemp("a-run")
    inputs = base / "inputs"
    inputs.mkdir()
    copy_examples(inputs, [PROJECT])
    summary = run_batch(inputs, base / "output", catalog_files=(CATALOG,), templates_dir=TEMPLATES,
                        deliver=False, renderer=FAKE_PDF)
    assert summary.counts["memos"] == 1
    return base / "output"


def send_env(port: int | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMEMO_")}
    if port is not None:
        env.update(MODELMEMO_SMTP_HOST="127.0.0.1", MODELMEMO_SMTP_PORT=str(port), MODELMEMO_SMTP_SECURITY="none",
                   MODELMEMO_SMTP_TIMEOUT="10", MODELMEMO_SMTP_BACKOFF_SECONDS="0")
    env.update(extra)
    return env


def send_command(output: Path) -> list[str]:
    return [sys.executable, "-m", "modelmemo.cli", "send", PROJECT, "--output", str(output), "--only-unsent"]


def send(output: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(send_command(output), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("transport, kill_at, in_flight", [
    ("smtp", 2, False),  # the write-ahead's own save: killed before any connection
    ("smtp", 3, True),   # the result's save: the server has the copy, the ledger says "sending"
    ("outbox", 2, False),  # no write-ahead for the outbox: the .eml is written again, counted nowhere
])
def test_killed_mid_send_every_copy_is_counted(a_run: Path, tmp_path: Path, transport: str, kill_at: int,
                                               in_flight: bool) -> None:
    """SIGKILL at the N-th save of the ledger (SMTP: 1 before any send, 2 the write-ahead, 3 the
    result; the outbox: 2 the result). Whatever the point, no copy a server received goes
    uncounted: copies received <= possible copies in the ledger; after a cut-off send the rerun's
    line says a copy may already have arrived; a third run sends nothing."""
    output = Path(shutil.copytree(a_run, tmp_path / "output"))
    smtp = Server() if transport == "smtp" else None
    if smtp:
        smtp.start()
    try:
        env = send_env(smtp.port if smtp else None)
        killed = send(output, {**env, "MODELMEMO_FAILPOINT": f"before-rename deliveries.json@{kill_at}"})
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        ledger_path = output / "state" / "deliveries.json"
        after_kill = rows(ledger_path)
        if in_flight:
            assert [(r["status"], r["attempts"], r["possible_copies"]) for r in after_kill] == [("sending", 1, 1)] * 2
        else:
            assert after_kill == []
        rerun = send(output, env)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert ("a copy may already have arrived" in rerun.stdout) == in_flight, rerun.stdout
        third = send(output, env)
        assert third.stdout.count(": already-sent") == 2, third.stdout
        final = {r["recipient"]: r for r in rows(ledger_path)}
        assert {r["status"] for r in final.values()} == {"accepted"}
        if smtp:
            for recipient in (OWNER, NOTIFY):
                received = smtp.handler.received_by(recipient)
                assert 1 <= received <= final[recipient]["possible_copies"] <= MAX_ATTEMPTS_PER_RECIPIENT, \
                    (recipient, received, final[recipient])
        else:
            assert [(r["attempts"], r["possible_copies"]) for r in final.values()] == [(1, 0)] * 2
            assert len(list(output.glob("*/outbox/*.eml"))) == 1  # `send` wrote the same run's file again
    finally:
        if smtp:
            smtp.stop()


@dataclass
class SlowData(Recorder):
    """Queues the message, signals that it has it, then takes `delay` seconds to say so."""

    delay: float = 4.0
    has_data: threading.Event | None = None

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if self.has_data:
            self.has_data.set()
        await asyncio.sleep(self.delay)
        return reply


@pytest.mark.slow
def test_sigterm_while_the_server_takes_its_time_records_the_send_then_stops(a_run: Path, tmp_path: Path) -> None:
    """What `systemctl stop` does mid-send: SIGTERM while the server takes 4 s to answer DATA. The
    send finishes, its result is recorded, then the command stops (143); the next run sends
    nothing again."""
    output = Path(shutil.copytree(a_run, tmp_path / "output"))
    slow = Server()
    slow.handler = SlowData(has_data=threading.Event())
    slow.start()
    try:
        env = send_env(slow.port)
        process = subprocess.Popen(send_command(output), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            assert slow.handler.has_data.wait(60), "the message never reached the server"
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 143, stdout + stderr
        assert "stopped by SIGTERM" in stderr
        assert [(r["status"], r["possible_copies"]) for r in rows(output / "state" / "deliveries.json")] == \
            [("accepted", 1)] * 2
        again = send(output, env)
        assert again.stdout.count(": already-sent") == 2, again.stdout + again.stderr
        assert [rcpts for rcpts, _ in slow.handler.messages] == [[OWNER, NOTIFY]]
    finally:
        slow.stop()


# --- smaller ones ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_send_with_a_state_folder_it_cannot_write_is_one_line_exit_2(a_run: Path, tmp_path: Path) -> None:
    """Root ignores permission bits, so "cannot write" is made real: state/ is a file."""
    output = Path(shutil.copytree(a_run, tmp_path / "output"))
    shutil.rmtree(output / "state")
    (output / "state").write_text("not a folder\n")
    result = send(output, send_env())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot write the send ledger in {output / 'state'} (it is not a folder)")
    assert "make" in line and "a folder this user can write to" in line


_GOOD = {"project_id": PROJECT, "content_sha": "abc", "recipient": OWNER, "status": "accepted", "attempts": 1,
         "possible_copies": 1, "accepted_by": ["smtp"], "message_id": "<m@modelmemo>",
         "first_attempt": "2026-11-28T02:00:05+00:00", "last_attempt": "2026-11-28T02:00:05+00:00",
         "detail": "accepted by smtp:587"}
_WRONG_TYPES = {"project_id": 7, "content_sha": None, "recipient": [OWNER], "status": 1, "attempts": "1",
                "possible_copies": True, "accepted_by": "smtp", "message_id": 5, "first_attempt": None,
                "last_attempt": 3, "detail": {"x": 1}}


@pytest.mark.parametrize("text", [
    '{"ledger_version": 3, "deliveries": {}}',
    '{"ledger_version": 3, "deliveries": ""}',
    '{"ledger_version": 3, "deliveries": "[]"}',
    '{"ledger_version": 3, "deliveries": null}',
    '{"ledger_version": 3, "deliveries": {"support-chatbot": []}}',
    '{"ledger_version": 3}',
    '{"ledger_version": true, "deliveries": []}',
    '{"ledger_version": "3", "deliveries": []}',
    json.dumps({"ledger_version": 3, "deliveries": [dict(_GOOD, attempts=-1)]}),
    json.dumps({"ledger_version": 3, "deliveries": [dict(_GOOD, accepted_by=[1])]}),
    json.dumps({"ledger_version": 3, "deliveries": [_GOOD, dict(_GOOD, recipient=OWNER.upper())]}),
] + [json.dumps({"ledger_version": 3, "deliveries": [dict(_GOOD, **{name: value})]})
     for name, value in _WRONG_TYPES.items()])
def test_a_ledger_of_the_wrong_shape_is_corrupt_not_empty(server: Server, job: DeliveryJob, ledger: Path,
                                                           text: str) -> None:
    """`"deliveries": {}` once read as "nothing sent yet" and emailed every memo again."""
    ledger.parent.mkdir(parents=True)
    ledger.write_text(text)
    with pytest.raises(LedgerError, match="corrupt"):
        run(job, server.mailer(), ledger)
    assert server.handler.messages == [] and ledger.read_text() == text
