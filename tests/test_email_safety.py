"""Regression tests for the "Safety first" issue, email findings 3, 4, 9 and 10 (headers).

3: a re-rendered memo that says the same thing (`run --force`, a CSS edit) is not emailed again.
4: a slow or flaky server (reply lost after the message data was sent) gets at most
   MAX_ATTEMPTS_PER_RECIPIENT copies across all runs, and one per run, never three per run.
9: memos written to the outbox are emailed once when SMTP is turned on.
10: bidi and control characters never reach the Subject, To, From or the body text.

Real components: a memo rendered by the pipeline's render_project (its PDF from the fake renderer,
tests/support_renderer.py: what is emailed is the file's bytes) and an aiosmtpd server on loopback;
only the client timeout is small (0.5 s) so that slow-server tests stay fast.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from modelmemo.delivery.ledger import MAX_ATTEMPTS_PER_RECIPIENT, DeliveryJob, LedgerError
from modelmemo.delivery.message import build_memo_email, memo_content_sha, one_line, version_2_content_sha
from modelmemo.delivery.mailers import OutboxMailer, SmtpMailer, SmtpSettings
from modelmemo.batch.pipeline import RenderJob, plan_batch, render_project
from modelmemo.batch.unchanged import templates_fingerprint

from .conftest import CATALOG, INPUTS, TEMPLATES
from .support_renderer import FAKE_PDF
from .test_delivery import NOTIFY, OWNER, PROJECT, SENDER, Recorder, Server, by_recipient, parse, run
from .test_delivery import job, ledger, memo_files, rendered, server, stopped_server  # noqa: F401  (fixtures)

CLIENT_TIMEOUT = 0.5  # seconds; the slow server below answers after 1.5 s


@dataclass
class FlakyRecorder(Recorder):
    """Queues every message it receives, then (optionally) never confirms it: `delay` sleeps longer
    than the client waits before replying; `drop` closes the connection without a reply."""

    delay: float = 0.0
    drop: bool = False
    mail_delay: float = 0.0  # sleep at MAIL FROM: a slow server *before* the data is sent

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_delay:
            await asyncio.sleep(self.mail_delay)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if self.drop:
            server.transport.close()
        elif self.delay:
            await asyncio.sleep(self.delay)
        return reply


@pytest.fixture
def flaky():
    srv = Server()
    srv.handler = FlakyRecorder()
    srv.start()
    yield srv
    srv.stop()


def fast_mailer(srv: Server) -> SmtpMailer:
    return SmtpMailer(SmtpSettings(host="127.0.0.1", port=srv.port, security="none", timeout=CLIENT_TIMEOUT))


def ledger_rows(ledger_path: Path) -> list[dict]:
    return json.loads(ledger_path.read_text(encoding="utf-8"))["deliveries"]


def statuses(records) -> list[str]:
    return [r.status for r in records]


# --- finding 3: a re-rendered memo with the same decision is not emailed again ----------------


def render(inputs_dir: Path, run_dir: Path, templates: Path, previous: Path | None = None,
           forced: bool = False) -> DeliveryJob:
    """Render support-chatbot like a run would (with a "changes" block against `previous`)."""
    plan = plan_batch(inputs_dir)
    run_dir.mkdir()
    outcome = render_project(RenderJob(plan.projects[0], str(run_dir), run_dir.name, "2026-11-29T02:00:00+00:00",
                                       (str(CATALOG),), str(templates), templates_sha256=templates_fingerprint(templates),
                                       previous_memo=str(previous) if previous else None, forced=forced,
                                       renderer=FAKE_PDF))
    assert outcome.status == "memo", outcome.error
    return DeliveryJob(PROJECT, run_dir / f"{PROJECT}.json", run_dir / f"{PROJECT}.pdf", (OWNER, NOTIFY))


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(INPUTS / f"{PROJECT}.yaml", folder)
    return folder


def test_finding3_force_rerender_sends_nothing_new(server: Server, job: DeliveryJob, ledger: Path, inputs: Path,
                                                   tmp_path: Path) -> None:
    assert statuses(run(job, server.mailer(), ledger)) == ["accepted", "accepted"]
    job_2 = render(inputs, tmp_path / "run-2", TEMPLATES, previous=job.memo_json_path, forced=True)
    memo_2 = json.loads(job_2.memo_json_path.read_text())
    assert memo_2["changes"]["summary"] == "Re-rendered on request (--force): same verdict, top model and scores."
    assert statuses(run(job_2, server.mailer(), ledger)) == ["already-sent", "already-sent"]
    assert len(server.handler.messages) == 1


def test_finding3_css_change_sends_nothing_new(server: Server, ledger: Path, inputs: Path, tmp_path: Path) -> None:
    job_1 = render(inputs, tmp_path / "run-1", TEMPLATES)
    assert statuses(run(job_1, server.mailer(), ledger)) == ["accepted", "accepted"]
    templates = Path(shutil.copytree(TEMPLATES, tmp_path / "templates"))
    with (templates / "memo.css").open("a", encoding="utf-8") as css:
        css.write("\n/* a comment: nothing a reader can see */\n")
    job_2 = render(inputs, tmp_path / "run-2", templates, previous=job_1.memo_json_path)
    memo_2 = json.loads(job_2.memo_json_path.read_text())
    assert memo_2["changes"]["summary"] == "Templates or brand updated: same verdict, top model and scores."
    assert statuses(run(job_2, server.mailer(), ledger)) == ["already-sent", "already-sent"]
    assert len(server.handler.messages) == 1


def test_finding3_bookkeeping_keys_do_not_change_the_content_sha(job: DeliveryJob) -> None:
    memo = json.loads(job.memo_json_path.read_text())
    sha = memo_content_sha(memo)
    bookkeeping = {
        "run_id": "run-9", "generated_at": "2027-01-01T00:00:00+00:00", "input_file": "renamed.yaml",
        "changes": {"summary": "Re-rendered on request (--force): same verdict, top model and scores."},
        "templates_sha256": "f" * 64, "input_sha256": "e" * 64, "catalog_sha256": "d" * 64,
        "catalog_as_of": "2027-01-01", "catalog_oldest_fact": "2020-01-01", "memo_version": 99,
        "facts": [], "sources": [], "chart": {}, "model_names": {}, "a_key_added_later": "anything",
    }
    # Nor does anything said about the decision that leaves it as it was: wording, scores, notes.
    bookkeeping.update({"verdict_reason": "Reworded.", "notes": ["a new note"], "risks": [{"key": "x", "text": "y"}],
                        "next_steps": ["Another step."], "sensitivity": {}, "ranking": [], "challengers": []})
    for key, value in bookkeeping.items():
        assert memo_content_sha(dict(memo, **{key: value})) == sha, key
    pdf = job.pdf_path.read_bytes()
    assert (build_memo_email(dict(memo, **bookkeeping), pdf, SENDER, [OWNER], TEMPLATES)["Message-ID"]
            == build_memo_email(memo, pdf, SENDER, [OWNER], TEMPLATES)["Message-ID"])


def test_finding3_a_changed_verdict_pick_tie_or_cost_vs_budget_changes_the_content_sha(job: DeliveryJob) -> None:
    memo = json.loads(job.memo_json_path.read_text())
    sha = memo_content_sha(memo)
    top = memo["recommended"][0]["model"]
    other = next(m for m in memo["scores"] if m != top)
    over = json.loads(json.dumps(memo))
    budget = memo["requirements"]["monthly_usd"]
    over["scores"][top]["monthly_cost_usd"] = budget * 3
    over["scores"][top]["cost"].update(low_usd=budget * 3, high_usd=budget * 3)
    changed = {
        "verdict": dict(memo, verdict="budget-infeasible"),
        "pick": dict(memo, recommended=[dict(memo["recommended"][0], model=other)]),
        "tie": dict(memo, tied=[other]),
        "cost vs budget": over,
    }
    for what, variant in changed.items():
        assert memo_content_sha(variant) != sha, what


def test_finding3_changed_score_is_sent_again_once(server: Server, job: DeliveryJob, ledger: Path) -> None:
    first = run(job, server.mailer(), ledger)
    memo = json.loads(job.memo_json_path.read_text())
    top = memo["recommended"][0]["model"]
    memo["scores"][top]["total"] = round(memo["scores"][top]["total"] - 2.5, 1)  # a score alone: no resend
    job.memo_json_path.write_text(json.dumps(memo, indent=2))
    assert statuses(run(job, server.mailer(), ledger)) == ["already-sent", "already-sent"]
    memo["tied"] = [next(m for m in memo["scores"] if m != top)]  # a tie: a changed decision
    job.memo_json_path.write_text(json.dumps(memo, indent=2))
    second = run(job, server.mailer(), ledger)
    third = run(job, server.mailer(), ledger)
    assert statuses(second) == ["accepted", "accepted"] and statuses(third) == ["already-sent", "already-sent"]
    assert second[0].message_id != first[0].message_id
    assert len(server.handler.messages) == 2


def version_1_sha(memo: dict) -> str:
    """How version 1 keyed the ledger: the whole memo but run_id and generated_at."""
    stable = {k: v for k, v in memo.items() if k not in ("run_id", "generated_at")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode("utf-8")).hexdigest()


def test_finding3_9_version_1_ledger_is_migrated_without_a_mass_resend(server: Server, job: DeliveryJob,
                                                                      ledger: Path) -> None:
    """A ledger written before the upgrade: the unchanged memo it names is not sent again to the
    recipient the SMTP server accepted; the one only written to the outbox is emailed once."""
    memo = json.loads(job.memo_json_path.read_text())
    old_sha = version_1_sha(memo)
    row = {"project_id": PROJECT, "content_sha": old_sha, "status": "accepted", "attempts": 1,
           "message_id": f"<memo-{PROJECT}-{old_sha[:20]}@modelmemo>", "first_attempt": "2026-11-28T02:00:05+00:00",
           "last_attempt": "2026-11-28T02:00:05+00:00"}
    ledger.parent.mkdir(parents=True)
    ledger.write_text(json.dumps({"ledger_version": 1, "deliveries": [
        dict(row, recipient=OWNER, detail="accepted by smtp.example.com:587"),
        dict(row, recipient=NOTIFY, detail="written to /srv/output/run-1/outbox/support-chatbot-0123456789ab.eml"),
    ]}))
    first = by_recipient(run(job, server.mailer(), ledger))
    assert first[OWNER].status == "already-sent"
    assert first[NOTIFY].status == "accepted" and "earlier only written to the outbox" in first[NOTIFY].detail
    assert [rcpts for rcpts, _ in server.handler.messages] == [[NOTIFY]]
    data = json.loads(ledger.read_text())
    assert data["ledger_version"] == 3
    assert {(r["recipient"], r["content_sha"], tuple(r["accepted_by"])) for r in data["deliveries"]} == {
        (OWNER, memo_content_sha(memo), ("smtp",)), (NOTIFY, memo_content_sha(memo), ("outbox", "smtp"))}
    assert statuses(run(job, server.mailer(), ledger)) == ["already-sent", "already-sent"]
    assert len(server.handler.messages) == 1


def test_version_2_ledger_moves_to_memo_format_3_without_a_mail_storm(server: Server, job: DeliveryJob,
                                                                     ledger: Path, tmp_path: Path) -> None:
    """A ledger of memo format 2 keyed on everything the memo said. After the upgrade the memo is
    re-rendered in format 3, worded anew: the entry is found through the format-2 memo it was about
    (in its run folder) and re-keyed on the decision, so nobody gets the same decision again. A
    project whose verdict changed with the upgrade goes out once, as a changed decision."""
    memo_3 = json.loads(job.memo_json_path.read_text())
    run_v2 = job.memo_json_path.resolve().parent.parent / "run-v2"  # a run folder beside today's
    run_v2.mkdir(parents=True)
    memo_2 = json.loads(json.dumps(memo_3))
    memo_2.update(memo_version=2, notes=["An old note in old words."], risks=["an old risk"],
                  runner_up=memo_3["challengers"], verdict_reason="Old words.")
    del memo_2["challengers"]
    (run_v2 / f"{PROJECT}.json").write_text(json.dumps(memo_2))
    assert version_2_content_sha(memo_2) != version_2_content_sha(memo_3)
    assert memo_content_sha(memo_2) == memo_content_sha(memo_3)
    sent = {"status": "accepted", "attempts": 1, "possible_copies": 1, "accepted_by": ["smtp"],
            "message_id": "<old@modelmemo>", "detail": "accepted by smtp:587",
            "first_attempt": "2026-11-28T02:00:05+00:00", "last_attempt": "2026-11-28T02:00:05+00:00"}
    ledger.parent.mkdir(parents=True)
    ledger.write_text(json.dumps({"ledger_version": 2, "deliveries": [
        dict(sent, project_id=PROJECT, content_sha=version_2_content_sha(memo_2), recipient=r) for r in (OWNER, NOTIFY)]}))
    moved = job
    assert statuses(run(moved, server.mailer(), ledger)) == ["already-sent",
                                                                                               "already-sent"]
    assert server.handler.messages == []
    assert json.loads(ledger.read_text())["ledger_version"] == 3
    # A verdict that changed with the upgrade (a v2 "close-call") is a changed decision: sent once.
    memo_2["verdict"] = "close-call"
    (run_v2 / f"{PROJECT}.json").write_text(json.dumps(memo_2))
    ledger.write_text(json.dumps({"ledger_version": 2, "deliveries": [
        dict(sent, project_id=PROJECT, content_sha=version_2_content_sha(memo_2), recipient=r) for r in (OWNER, NOTIFY)]}))
    assert statuses(run(moved, server.mailer(), ledger)) == ["accepted", "accepted"]
    assert statuses(run(moved, server.mailer(), ledger)) == ["already-sent",
                                                                                               "already-sent"]


def test_finding3_version_1_ledger_then_rerendered_memo_sends_nothing(server: Server, job: DeliveryJob,
                                                                     ledger: Path, inputs: Path,
                                                                     tmp_path: Path) -> None:
    """The upgrade re-renders the memo (new templates, --force): the version-1 entries are found
    through the memo they were about (the previous run's JSON) and nobody gets it again. Two old
    entries for the same decision (the old code re-sent a re-render) merge into one."""
    memo_1 = json.loads(job.memo_json_path.read_text())
    job_2 = render(inputs, tmp_path / "run-2", TEMPLATES, previous=job.memo_json_path, forced=True)
    memo_2 = json.loads(job_2.memo_json_path.read_text())
    assert version_1_sha(memo_1) != version_1_sha(memo_2) and memo_content_sha(memo_1) == memo_content_sha(memo_2)
    job_3 = render(inputs, tmp_path / "run-3", TEMPLATES, previous=job_2.memo_json_path, forced=True)
    sent = {"status": "accepted", "attempts": 1, "message_id": "<old@modelmemo>", "detail": "accepted by smtp:587",
            "first_attempt": "2026-11-28T02:00:05+00:00", "last_attempt": "2026-11-28T02:00:05+00:00"}
    ledger.parent.mkdir(parents=True)
    ledger.write_text(json.dumps({"ledger_version": 1, "deliveries": [
        dict(sent, project_id=PROJECT, content_sha=version_1_sha(memo_1), recipient=OWNER),
        dict(sent, project_id=PROJECT, content_sha=version_1_sha(memo_1), recipient=NOTIFY),
        dict(sent, project_id=PROJECT, content_sha=version_1_sha(memo_2), recipient=NOTIFY, status="transient",
             detail="451 try later", last_attempt="2026-11-29T02:00:05+00:00"),
    ]}))
    records = run(job_3, server.mailer(), ledger)
    assert statuses(records) == ["already-sent", "already-sent"]
    assert server.handler.messages == []
    rows = ledger_rows(ledger)
    assert [(r["recipient"], r["status"], r["attempts"], r["content_sha"]) for r in rows] == [
        (NOTIFY, "accepted", 2, memo_content_sha(memo_1)), (OWNER, "accepted", 1, memo_content_sha(memo_1))]


@pytest.mark.parametrize("text", [
    '{"ledger_version": 2, "deliveries": [{"project_id": "p", "content_sha": "s", "recipient": "r"}]}',
    '{"ledger_version": 4, "deliveries": []}',
    '{"ledger_version": 1, "deliveries": [{"status": "accepted"}]}',
    '{"ledger_version": 1, "deliveries": ["not a row"]}',
    '[]',
])
def test_corrupt_or_unknown_ledger_still_stops_delivery(server: Server, job: DeliveryJob, ledger: Path,
                                                        text: str) -> None:
    ledger.parent.mkdir(parents=True)
    ledger.write_text(text)
    with pytest.raises(LedgerError):
        run(job, server.mailer(), ledger)
    assert server.handler.messages == [] and ledger.read_text() == text


# --- finding 4: a reply lost after the data was sent is "uncertain", capped across runs -------


def test_finding4_timeout_after_data_is_uncertain_not_retried_in_run(flaky: Server, job: DeliveryJob,
                                                                     ledger: Path) -> None:
    flaky.handler.delay = 3 * CLIENT_TIMEOUT  # queues the message, answers after the client gave up
    waits: list[float] = []
    records = run(job, fast_mailer(flaky), ledger, retries=3, sleep=waits.append)
    assert statuses(records) == ["uncertain", "uncertain"]
    assert all(r.attempts == 1 for r in records) and waits == []
    assert "may have queued it" in records[0].detail and "timed out" in records[0].detail
    assert len(flaky.handler.messages) == 1  # one copy, not three
    assert [r["status"] for r in ledger_rows(ledger)] == ["uncertain", "uncertain"]


def test_finding4_drop_after_data_is_uncertain_not_retried_in_run(flaky: Server, job: DeliveryJob,
                                                                  ledger: Path) -> None:
    flaky.handler.drop = True
    records = run(job, fast_mailer(flaky), ledger, retries=3)
    assert statuses(records) == ["uncertain", "uncertain"]
    assert all(r.attempts == 1 for r in records)
    assert "SMTPServerDisconnected" in records[0].detail
    assert len(flaky.handler.messages) == 1


def test_finding4_uncertain_capped_across_runs(flaky: Server, job: DeliveryJob, ledger: Path) -> None:
    flaky.handler.drop = True
    runs = [run(job, fast_mailer(flaky), ledger, retries=3) for _ in range(MAX_ATTEMPTS_PER_RECIPIENT + 2)]
    assert [statuses(r)[0] for r in runs] == ["uncertain"] * (MAX_ATTEMPTS_PER_RECIPIENT - 1) + ["undelivered"] * 3
    assert [r[0].attempts for r in runs] == list(range(1, MAX_ATTEMPTS_PER_RECIPIENT + 1)) + [MAX_ATTEMPTS_PER_RECIPIENT] * 2
    assert len(flaky.handler.messages) == MAX_ATTEMPTS_PER_RECIPIENT  # at most 3 copies, ever
    assert "not retried automatically" in runs[-1][0].detail
    flaky.handler.drop = False  # the server works again: still no automatic resend ...
    assert statuses(run(job, fast_mailer(flaky), ledger)) == ["undelivered", "undelivered"]
    assert len(flaky.handler.messages) == MAX_ATTEMPTS_PER_RECIPIENT
    forced = run(job, fast_mailer(flaky), ledger, force=True)  # ... but an explicit resend sends
    assert statuses(forced) == ["accepted", "accepted"]
    assert len(flaky.handler.messages) == MAX_ATTEMPTS_PER_RECIPIENT + 1


def test_finding4_uncertain_is_retried_on_the_next_run(flaky: Server, job: DeliveryJob, ledger: Path) -> None:
    flaky.handler.drop = True
    assert statuses(run(job, fast_mailer(flaky), ledger)) == ["uncertain", "uncertain"]
    flaky.handler.drop = False
    second = run(job, fast_mailer(flaky), ledger)
    assert statuses(second) == ["accepted", "accepted"] and all(r.attempts == 2 for r in second)
    assert statuses(run(job, fast_mailer(flaky), ledger)) == ["already-sent", "already-sent"]
    assert len(flaky.handler.messages) == 2


def test_finding4_uncertain_for_accepted_rcpts_refusal_kept_for_others(flaky: Server, job: DeliveryJob,
                                                                       ledger: Path) -> None:
    flaky.handler.drop = True
    flaky.handler.permanent.add(NOTIFY)
    records = by_recipient(run(job, fast_mailer(flaky), ledger, retries=3))
    assert records[OWNER].status == "uncertain"
    assert records[NOTIFY].status == "permanent" and "550" in records[NOTIFY].detail
    assert flaky.handler.messages[0][0] == [OWNER] and len(flaky.handler.messages) == 1


@pytest.mark.parametrize("fault", ["451 at RCPT", "timeout at MAIL"])
def test_finding4_refusal_before_data_still_retried(flaky: Server, job: DeliveryJob, ledger: Path,
                                                    fault: str) -> None:
    """Before the data is sent nothing can have been queued: retried in the run with backoff, again
    on later runs, and not counted towards the cap (an outage must not drop a memo)."""
    if fault == "451 at RCPT":
        flaky.handler.transient.update({OWNER, NOTIFY})
    else:
        flaky.handler.mail_delay = 2 * CLIENT_TIMEOUT
    waits: list[float] = []
    for _ in range(2):  # 2 runs x 2 sends: more sends than the cap
        records = run(job, fast_mailer(flaky), ledger, retries=2, backoff_seconds=0.25, sleep=waits.append)
        assert statuses(records) == ["transient", "transient"], records[0].detail
    assert waits == [0.25, 0.25]
    assert records[0].attempts == 4 > MAX_ATTEMPTS_PER_RECIPIENT
    assert flaky.handler.messages == []
    flaky.handler.transient.clear()
    flaky.handler.mail_delay = 0
    assert statuses(run(job, fast_mailer(flaky), ledger)) == ["accepted", "accepted"]
    assert len(flaky.handler.messages) == 1


def test_smtp_dot_stuffing_round_trip(server: Server) -> None:
    """Lines starting with "." survive our DATA implementation unchanged."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, OWNER, "dots"
    message["Message-ID"] = "<dots@modelmemo>"
    body = ".leading dot\n..two dots\n.\nlast line without newline"
    message.set_content(body)
    results = server.mailer().send(message, [OWNER])
    assert results[OWNER].status == "accepted"
    received = parse(server.handler.messages[0][1])
    assert received.get_content().replace("\r\n", "\n").rstrip("\n") == body


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem) that only the test trusts."""
    import datetime
    import ipaddress

    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelmemo test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_modes_deliver_and_check_the_certificate(tls_files, security: str, monkeypatch) -> None:
    """The phase-tracking SMTP clients still verify the server certificate against the host name:
    untrusted is refused (transient), trusted delivers."""
    import ssl

    from aiosmtpd.controller import Controller

    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    srv = Server()
    tls = {"tls_context": server_context, "require_starttls": True} if security == "starttls" \
        else {"ssl_context": server_context}
    srv.controller = Controller(srv.handler, hostname="127.0.0.1", port=srv.port, **tls)
    srv.controller.start()
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = SENDER, OWNER, "tls"
        message.set_content("over TLS")
        mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=srv.port, security=security, timeout=5))
        untrusted = mailer.send(message, [OWNER])[OWNER]
        assert untrusted.status == "transient" and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
        create_default_context = ssl.create_default_context
        monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: create_default_context(cafile=str(cert)))
        assert mailer.send(message, [OWNER])[OWNER].status == "accepted"
        assert srv.handler.received_by(OWNER) == 1
    finally:
        srv.stop()


# --- finding 9: outbox first, SMTP later ------------------------------------------------------


def test_finding9_outbox_then_smtp_delivers_once(server: Server, job: DeliveryJob, ledger: Path,
                                                 tmp_path: Path) -> None:
    outbox = OutboxMailer(tmp_path / "outbox")
    assert statuses(run(job, outbox, ledger)) == ["accepted", "accepted"]
    assert statuses(run(job, outbox, ledger)) == ["already-sent", "already-sent"]  # outbox after outbox
    smtp = run(job, server.mailer(), ledger)
    assert statuses(smtp) == ["accepted", "accepted"]
    assert all(r.detail.startswith("sent by SMTP; earlier only written to the outbox") for r in smtp)
    assert len(server.handler.messages) == 1
    assert sorted(server.handler.messages[0][0]) == sorted([OWNER, NOTIFY])
    assert statuses(run(job, server.mailer(), ledger)) == ["already-sent", "already-sent"]  # SMTP after SMTP
    assert statuses(run(job, outbox, ledger)) == ["already-sent", "already-sent"]  # outbox after SMTP
    assert statuses(run(job, server.mailer(), ledger)) == ["already-sent", "already-sent"]
    assert len(server.handler.messages) == 1
    assert [(r["status"], r["accepted_by"]) for r in ledger_rows(ledger)] == [("accepted", ["outbox", "smtp"])] * 2


def test_finding9_outbox_then_smtp_outage_is_retried(stopped_server: Server, job: DeliveryJob, ledger: Path,
                                                     tmp_path: Path) -> None:
    run(job, OutboxMailer(tmp_path / "outbox"), ledger)
    down = run(job, stopped_server.mailer(), ledger, retries=1)
    assert statuses(down) == ["transient", "transient"]
    assert "earlier only written to the outbox" in down[0].detail
    stopped_server.start()
    assert statuses(run(job, stopped_server.mailer(), ledger)) == ["accepted", "accepted"]
    assert statuses(run(job, stopped_server.mailer(), ledger)) == ["already-sent", "already-sent"]
    assert len(stopped_server.handler.messages) == 1


# --- finding 10: bidi and control characters --------------------------------------------------

BIDI_AND_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\x00\x07\x1b\x7f\x9b"


def test_finding10_one_line_removes_bidi_and_control_characters() -> None:
    assert one_line("Invoice \u202egpj.exe") == "Invoice gpj.exe"
    assert one_line("a" + BIDI_AND_CONTROLS + "b") == "ab"
    assert one_line(" x\r\ny\tz\u2028w\x85v ") == "x y z w v"  # line breaks and tabs: one space
    assert one_line("Zürich – 東京 ☕") == "Zürich – 東京 ☕"  # ordinary text untouched


def test_finding10_bidi_override_removed_from_subject(job: DeliveryJob) -> None:
    memo = json.loads(job.memo_json_path.read_text())
    memo["project"]["name"] = "Support \u202eedoc\u202c Chatbot\x07"
    memo["project"]["owner"]["name"] = "Dana \u2067Reyes\u2069"
    memo["verdict_label"] = "Closed\u200f source"
    sender = "\u202emodelmemo@localhost"
    msg = build_memo_email(memo, b"%PDF-1.7", sender, [OWNER, "\u202d" + NOTIFY], TEMPLATES)
    assert msg["Subject"].startswith("Support edoc Chatbot: Closed source — ")
    assert msg["From"] == "modelmemo@localhost"
    assert {a.addr_spec for a in msg["To"].addresses} == {OWNER, NOTIFY}
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Decision memo: Support edoc Chatbot" in text and "Hello Dana Reyes," in text
    for value in (msg["Subject"], msg["From"], msg["To"], text, html):
        assert not set(value) & set(BIDI_AND_CONTROLS), repr(value)


def test_finding3_new_notify_address_gets_the_memo_and_nobody_else_again(server: Server, job: DeliveryJob,
                                                                          ledger: Path) -> None:
    first = run(job, server.mailer(), ledger)
    memo = json.loads(job.memo_json_path.read_text())
    memo["project"]["notify"] = list(memo["project"]["notify"]) + ["new.reader@example.com"]
    job.memo_json_path.write_text(json.dumps(memo, indent=2))
    with_new = DeliveryJob(job.project_id, job.memo_json_path, job.pdf_path,
                           list(job.recipients) + ["new.reader@example.com"])

    second = run(with_new, server.mailer(), ledger)

    assert statuses(first) == ["accepted"] * len(job.recipients)
    assert statuses(second) == ["already-sent"] * len(job.recipients) + ["accepted"]
    assert len(server.handler.messages) == 2
    assert server.handler.messages[-1][0] == ["new.reader@example.com"]  # the envelope: the new reader only
