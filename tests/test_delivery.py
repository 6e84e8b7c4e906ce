"""Email delivery against a real SMTP server on loopback (aiosmtpd), with a memo rendered by the
pipeline (its PDF from the fake renderer: an email attaches the PDF file's bytes, whatever they show).

What matters: each recipient gets each memo once (reruns, outages, 4xx and 5xx replies, a crash
between runs), a changed memo goes out again once, and the SMTP password never leaks. The
regression tests of the "Safety first" findings (re-rendered memos, replies lost after DATA, outbox
then SMTP, bidi characters) are in test_email_safety.py, which reuses the helpers below.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from modelmemo.delivery.ledger import DeliveryJob, LedgerError, deliver
from modelmemo.delivery.message import build_memo_email, memo_content_sha
from modelmemo.delivery.mailers import OutboxMailer, SmtpMailer, SmtpSettings
from modelmemo.batch.pipeline import RenderJob, plan_batch, render_project

from .conftest import CATALOG, INPUTS, TEMPLATES
from .helpers import free_port
from .support_renderer import FAKE_PDF

PROJECT = "support-chatbot"
OWNER = "dana.reyes@example.com"
NOTIFY = "cto@example.com"
SENDER = "modelmemo@localhost"
PASSWORD = "s3cret-pw"


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Render the support-chatbot example once with the real pipeline and the fake PDF renderer."""
    base = tmp_path_factory.mktemp("rendered")
    inputs, run_dir = base / "inputs", base / "run-1"
    inputs.mkdir()
    run_dir.mkdir()
    shutil.copy(INPUTS / f"{PROJECT}.yaml", inputs)
    plan = plan_batch(inputs)
    assert len(plan.projects) == 1
    outcome = render_project(RenderJob(plan.projects[0], str(run_dir), "run-1", "2026-11-28T02:00:00+00:00",
                                       (str(CATALOG),), str(TEMPLATES), renderer=FAKE_PDF))
    assert outcome.status == "memo", outcome.error
    assert outcome.recipients == (OWNER, NOTIFY)
    return run_dir


@pytest.fixture
def memo_files(rendered: Path, tmp_path: Path) -> tuple[Path, Path]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    json_path = Path(shutil.copy(rendered / f"{PROJECT}.json", run_dir))
    pdf_path = Path(shutil.copy(rendered / f"{PROJECT}.pdf", run_dir))
    return json_path, pdf_path


@pytest.fixture
def job(memo_files: tuple[Path, Path]) -> DeliveryJob:
    json_path, pdf_path = memo_files
    return DeliveryJob(PROJECT, json_path, pdf_path, (OWNER, NOTIFY))


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "state" / "deliveries.json"


@dataclass
class Recorder:
    """aiosmtpd handler: keeps every accepted message; refuses configured recipients at RCPT."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    permanent: set[str] = field(default_factory=set)
    transient: set[str] = field(default_factory=set)
    data_reply: str | None = None  # e.g. "554 ..." to refuse the message at DATA

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.permanent:
            return "550 5.1.1 no such user"
        if address in self.transient:
            return "451 4.3.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def received_by(self, address: str) -> int:
        return sum(address in rcpts for rcpts, _ in self.messages)


class Server:
    """A loopback SMTP server that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def mailer(self, **settings) -> SmtpMailer:
        return SmtpMailer(SmtpSettings(host="127.0.0.1", port=self.port, security="none", timeout=5, **settings))


@pytest.fixture
def server():
    srv = Server()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def stopped_server():
    srv = Server()
    yield srv
    srv.stop()


def run(job: DeliveryJob, mailer, ledger: Path, **kwargs):
    kwargs.setdefault("backoff_seconds", 0)
    return deliver([job], mailer, ledger, sender=SENDER, templates_dir=TEMPLATES, **kwargs)


def by_recipient(records) -> dict:
    return {r.recipient: r for r in records}


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


# --- (a) the message -------------------------------------------------------------------------


def test_message_structure_as_received(server: Server, job: DeliveryJob, ledger: Path) -> None:
    records = run(job, server.mailer(), ledger)
    assert [r.status for r in records] == ["accepted", "accepted"]
    assert len(server.handler.messages) == 1
    rcpts, raw = server.handler.messages[0]
    assert sorted(rcpts) == sorted([OWNER, NOTIFY])
    msg = parse(raw)
    memo = json.loads(job.memo_json_path.read_text())
    # The pick, and every model tied with it (the shipped catalog makes this a tie: GPT-6.2 Sol has no
    # published quality score yet), are named in the subject; a tie is never shown as one winner.
    pick = memo["model_names"][memo["recommended"][0]["model"]]
    tied = [memo["model_names"][m] for m in memo["tied"]]
    runner_up = memo["model_names"][memo["challengers"][0]["model"]]
    top = f"tie: {' / '.join([pick, *tied])}" if tied else pick
    assert msg["Subject"].startswith(f"Customer Support Chatbot: {memo['verdict_label']} — {top}")
    assert msg["From"] == SENDER
    assert {a.addr_spec for a in msg["To"].addresses} == {OWNER, NOTIFY}
    assert msg["Date"] and msg["Date"].datetime is not None
    assert msg["Message-ID"] == f"<memo-{PROJECT}-{memo_content_sha(memo)[:20]}@localhost>"  # the sender's domain
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts[0].iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    assert memo["verdict_label"] in text and runner_up in text and all(name in text for name in [pick, *tied])
    assert f"{PROJECT}-decision-memo.pdf" in text
    html = msg.get_body(("html",)).get_content()
    assert "<strong>" in html and all(name in html for name in [pick, *tied])
    attachments = list(msg.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_filename() == f"{PROJECT}-decision-memo.pdf"
    assert attachments[0].get_content() == job.pdf_path.read_bytes()
    assert records[0].message_id == msg["Message-ID"]


def test_message_id_is_deterministic_and_ignores_bookkeeping(job: DeliveryJob) -> None:
    memo = json.loads(job.memo_json_path.read_text())
    pdf = job.pdf_path.read_bytes()
    first = build_memo_email(memo, pdf, SENDER, [OWNER], TEMPLATES)
    again = build_memo_email(dict(memo, run_id="run-2", generated_at="2026-11-29T02:00:00+00:00",
                                  changes={"summary": "Re-rendered: same verdict, top model and scores."},
                                  templates_sha256="0" * 64), pdf, SENDER, [OWNER], TEMPLATES)
    assert first["Message-ID"] == again["Message-ID"]
    reworded = build_memo_email(dict(memo, risks=memo["risks"] + [{"key": "x", "text": "A new risk."}]), pdf, SENDER,
                                [OWNER], TEMPLATES)
    assert reworded["Message-ID"] == first["Message-ID"]  # the same decision, worded anew
    other = next(m for m in memo["scores"] if m != memo["recommended"][0]["model"])
    changed = build_memo_email(dict(memo, tied=[other]), pdf, SENDER, [OWNER], TEMPLATES)
    assert changed["Message-ID"] != first["Message-ID"]


def test_header_values_cannot_span_lines(job: DeliveryJob) -> None:
    memo = json.loads(job.memo_json_path.read_text())
    memo["project"]["name"] = "Chatbot\r\nBcc: attacker@example.net"
    msg = build_memo_email(memo, b"%PDF-1.7", "memo@example.com\nBcc: x@example.net", [OWNER], TEMPLATES)
    raw = msg.as_bytes()
    assert b"\nBcc:" not in raw
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and msg["Subject"].startswith("Chatbot Bcc: attacker@example.net:")


# --- (b) reruns ------------------------------------------------------------------------------


def test_rerun_sends_nothing(server: Server, job: DeliveryJob, ledger: Path) -> None:
    run(job, server.mailer(), ledger)
    second = run(job, server.mailer(), ledger)
    assert len(server.handler.messages) == 1
    assert [r.status for r in second] == ["already-sent", "already-sent"]
    assert all(r.attempts == 1 for r in second)


def test_force_sends_again(server: Server, job: DeliveryJob, ledger: Path) -> None:
    run(job, server.mailer(), ledger)
    forced = run(job, server.mailer(), ledger, force=True)
    assert [r.status for r in forced] == ["accepted", "accepted"]
    assert len(server.handler.messages) == 2


# --- (c) server down, then back --------------------------------------------------------------


def test_server_down_then_back(stopped_server: Server, job: DeliveryJob, ledger: Path) -> None:
    waits: list[float] = []
    down = run(job, stopped_server.mailer(), ledger, retries=3, backoff_seconds=0.5, sleep=waits.append)
    assert [r.status for r in down] == ["transient", "transient"]
    assert all(r.attempts == 3 for r in down)
    assert waits == [0.5, 1.0]
    assert stopped_server.handler.messages == []

    stopped_server.start()
    back = run(job, stopped_server.mailer(), ledger)
    assert [r.status for r in back] == ["accepted", "accepted"]
    assert len(stopped_server.handler.messages) == 1
    third = run(job, stopped_server.mailer(), ledger)
    assert [r.status for r in third] == ["already-sent", "already-sent"]
    assert len(stopped_server.handler.messages) == 1


# --- (d) 5xx and (e) 4xx for one recipient ---------------------------------------------------


def test_permanent_refusal_is_not_retried(server: Server, job: DeliveryJob, ledger: Path) -> None:
    server.handler.permanent.add(NOTIFY)
    first = by_recipient(run(job, server.mailer(), ledger, retries=3))
    assert first[OWNER].status == "accepted"
    assert first[NOTIFY].status == "permanent" and first[NOTIFY].attempts == 1
    assert "550" in first[NOTIFY].detail
    server.handler.permanent.clear()  # even when the address would work now: no automatic resend
    second = by_recipient(run(job, server.mailer(), ledger))
    assert second[NOTIFY].status == "permanent" and second[NOTIFY].attempts == 1
    assert second[OWNER].status == "already-sent"
    assert len(server.handler.messages) == 1
    assert server.handler.received_by(OWNER) == 1 and server.handler.received_by(NOTIFY) == 0


def test_permanent_for_everyone_when_all_refused(server: Server, job: DeliveryJob, ledger: Path) -> None:
    server.handler.permanent.update({OWNER, NOTIFY})
    records = run(job, server.mailer(), ledger)
    assert [r.status for r in records] == ["permanent", "permanent"]
    assert server.handler.messages == []


def test_transient_refusal_delivered_on_next_run(server: Server, job: DeliveryJob, ledger: Path) -> None:
    server.handler.transient.add(NOTIFY)
    first = by_recipient(run(job, server.mailer(), ledger, retries=2))
    assert first[OWNER].status == "accepted" and first[OWNER].attempts == 1
    assert first[NOTIFY].status == "transient" and first[NOTIFY].attempts == 2
    assert "451" in first[NOTIFY].detail
    assert server.handler.received_by(OWNER) == 1 and server.handler.received_by(NOTIFY) == 0

    server.handler.transient.clear()
    second = by_recipient(run(job, server.mailer(), ledger))
    assert second[NOTIFY].status == "accepted" and second[NOTIFY].attempts == 3
    assert second[OWNER].status == "already-sent"
    run(job, server.mailer(), ledger)
    assert server.handler.received_by(OWNER) == 1 and server.handler.received_by(NOTIFY) == 1
    assert server.handler.messages[-1][0] == [NOTIFY]  # the retry went to the missing recipient only


@pytest.mark.parametrize("reply, status", [("554 5.6.0 content rejected", "permanent"),
                                           ("452 4.3.1 insufficient storage", "transient")])
def test_refusal_at_data_applies_to_everyone(server: Server, job: DeliveryJob, ledger: Path,
                                             reply: str, status: str) -> None:
    server.handler.data_reply = reply
    records = run(job, server.mailer(), ledger, retries=2)
    assert [r.status for r in records] == [status, status]
    assert all(reply.split()[0] in r.detail for r in records)
    assert server.handler.messages == []


def test_starttls_never_falls_back_to_plain(server: Server, job: DeliveryJob, ledger: Path) -> None:
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=server.port, timeout=5))  # default: starttls
    records = run(job, mailer, ledger, retries=1)
    assert [r.status for r in records] == ["transient", "transient"]
    assert "STARTTLS" in records[0].detail
    assert server.handler.messages == []


# --- (f) a changed memo ----------------------------------------------------------------------


def test_changed_memo_is_sent_again_once(server: Server, job: DeliveryJob, ledger: Path) -> None:
    first = run(job, server.mailer(), ledger)
    memo = json.loads(job.memo_json_path.read_text())
    other = next(m for m in memo["scores"] if m != memo["recommended"][0]["model"])
    memo["recommended"] = [dict(memo["recommended"][0], model=other)]  # another pick: a changed decision
    job.memo_json_path.write_text(json.dumps(memo, indent=2))
    second = run(job, server.mailer(), ledger)
    third = run(job, server.mailer(), ledger)
    assert [r.status for r in second] == ["accepted", "accepted"]
    assert [r.status for r in third] == ["already-sent", "already-sent"]
    assert second[0].message_id != first[0].message_id
    assert len(server.handler.messages) == 2
    assert parse(server.handler.messages[1][1])["Message-ID"] == second[0].message_id


def test_unchanged_memo_from_a_later_run_is_not_resent(server: Server, job: DeliveryJob, ledger: Path) -> None:
    run(job, server.mailer(), ledger)
    memo = json.loads(job.memo_json_path.read_text())
    memo.update(run_id="run-2", generated_at="2026-11-29T02:00:00+00:00")
    job.memo_json_path.write_text(json.dumps(memo, indent=2))
    assert [r.status for r in run(job, server.mailer(), ledger)] == ["already-sent", "already-sent"]
    assert len(server.handler.messages) == 1


# --- (g) outbox ------------------------------------------------------------------------------


def test_outbox_writes_one_eml_per_memo(job: DeliveryJob, ledger: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    first = run(job, OutboxMailer(outbox), ledger)
    second = run(job, OutboxMailer(outbox), ledger)
    files = sorted(outbox.iterdir())
    memo = json.loads(job.memo_json_path.read_text())
    assert [f.name for f in files] == [f"{PROJECT}-{memo_content_sha(memo)[:12]}.eml"]
    assert [r.status for r in first] == ["accepted", "accepted"]
    assert [r.status for r in second] == ["already-sent", "already-sent"]
    assert second[0].detail.startswith("written to the outbox ")
    assert [row["accepted_by"] for row in json.loads(ledger.read_text())["deliveries"]] == [["outbox"]] * 2
    msg = parse(files[0].read_bytes())
    assert msg["Message-ID"] == first[0].message_id
    assert next(msg.iter_attachments()).get_content() == job.pdf_path.read_bytes()


def test_public_base_url_from_settings_links_the_memo_and_nothing_else_does(job: DeliveryJob, ledger: Path,
                                                                           tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL reaches the email from the entry point's settings (Settings.public_base_url), never
    from the process environment behind the caller's back."""
    memo = json.loads(job.memo_json_path.read_text())
    link = f"https://memos.example.com/mm/{memo['run_id']}/{PROJECT}.html"
    monkeypatch.setenv("MODELMEMO_PUBLIC_BASE_URL", "https://elsewhere.example.org")
    run(job, OutboxMailer(tmp_path / "plain"), tmp_path / "plain-ledger.json")
    plain = parse(next((tmp_path / "plain").iterdir()).read_bytes())
    assert "https://" not in plain.get_body(("plain",)).get_content()
    run(job, OutboxMailer(tmp_path / "linked"), ledger, public_base_url="https://memos.example.com/mm")
    linked = parse(next((tmp_path / "linked").iterdir()).read_bytes())
    assert link in linked.get_body(("plain",)).get_content()
    assert link in linked.get_body(("html",)).get_content()



# --- the ledger ------------------------------------------------------------------------------


def test_corrupt_ledger_stops_delivery(server: Server, job: DeliveryJob, ledger: Path) -> None:
    ledger.parent.mkdir(parents=True)
    ledger.write_text('{"ledger_version": 1, "deliveries": [')
    with pytest.raises(LedgerError, match="corrupt"):
        run(job, server.mailer(), ledger)
    assert server.handler.messages == []
    assert ledger.read_text() == '{"ledger_version": 1, "deliveries": ['  # left for a human to look at


def test_unreadable_memo_is_reported_and_others_still_sent(server: Server, job: DeliveryJob, ledger: Path,
                                                           tmp_path: Path) -> None:
    broken = DeliveryJob("missing", tmp_path / "missing.json", tmp_path / "missing.pdf", ("x@example.com",))
    records = deliver([broken, job], server.mailer(), ledger, sender=SENDER, templates_dir=TEMPLATES,
                      backoff_seconds=0)
    assert [(r.project_id, r.status) for r in records] == [("missing", "error"), (PROJECT, "accepted"),
                                                           (PROJECT, "accepted")]
    assert len(server.handler.messages) == 1


# --- (h) secrets and (i) plain SMTP ----------------------------------------------------------


def test_password_never_leaks(stopped_server: Server, job: DeliveryJob, ledger: Path) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=stopped_server.port, security="none",
                            username="memo-bot", password=PASSWORD, timeout=5)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert PASSWORD not in repr(SmtpMailer(settings))
    records = run(job, SmtpMailer(settings), ledger, retries=1)  # port closed: connection refused
    assert [r.status for r in records] == ["transient", "transient"]
    stopped_server.start()  # server up, but it offers no AUTH: login fails
    records += run(job, SmtpMailer(settings), ledger, retries=1)
    assert [r.status for r in records[2:]] == ["transient", "transient"]
    assert stopped_server.handler.messages == []
    for record in records:
        assert PASSWORD not in str(record) and PASSWORD not in record.detail
    assert ledger.exists() and PASSWORD not in ledger.read_text()


def test_password_from_env_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    settings = SmtpSettings.from_env({"MODELMEMO_SMTP_HOST": "smtp.example.com",
                                      "MODELMEMO_SMTP_USERNAME": "memo-bot",
                                      "MODELMEMO_SMTP_PASSWORD_FILE": str(secret),
                                      "MODELMEMO_SMTP_SECURITY": "ssl"})
    assert settings.password == PASSWORD
    assert settings.effective_port == 465
    assert PASSWORD not in repr(settings)
    assert SmtpSettings.from_env({}).host is None  # no host: outbox mode
    assert SmtpSettings.from_env({"MODELMEMO_SMTP_HOST": "smtp.example.com"}).effective_port == 587
    with pytest.raises(ValueError, match="ALLOW_PLAIN"):
        SmtpSettings.from_env({"MODELMEMO_SMTP_HOST": "h", "MODELMEMO_SMTP_ALLOW_PLAIN": "maybe"})


def test_plain_smtp_to_remote_host_is_refused() -> None:
    with pytest.raises(ValueError, match="plain"):
        SmtpMailer(SmtpSettings(host="mail.example.com", security="none"))
    with pytest.raises(ValueError, match="plain"):
        SmtpSettings.from_env({"MODELMEMO_SMTP_HOST": "mail.example.com", "MODELMEMO_SMTP_SECURITY": "none"})
    # Loopback, or an explicit opt-in, is allowed.
    assert SmtpMailer(SmtpSettings(host="localhost", security="none")).settings.effective_port == 25
    assert SmtpMailer(SmtpSettings(host="mail.example.com", security="none", allow_plain=True))


# --- SMTP settings from a Prefect block ------------------------------------------------------


def test_smtp_settings_from_a_prefect_email_block(prefect_api, server, job, ledger, tmp_path):
    """MODELMEMO_SMTP_BLOCK names a prefect-email EmailServerCredentials block saved in Prefect;
    the memo goes through the server it describes, and the password stays out of every file."""
    from prefect_email import EmailServerCredentials

    from modelmemo.delivery.mailers import configured_smtp, make_mailer

    EmailServerCredentials(smtp_server="127.0.0.1", smtp_port=server.port, smtp_type="INSECURE",
                           username="", password="bl0ck-s3cret").save("modelmemo-test-smtp", overwrite=True)
    from modelmemo.settings import Settings

    settings = configured_smtp(Settings.from_env({"MODELMEMO_SMTP_BLOCK": "modelmemo-test-smtp",
                                                  "MODELMEMO_SMTP_FROM": "memos@example.com"}))
    assert (settings.host, settings.port, settings.security) == ("127.0.0.1", server.port, "none")
    assert "bl0ck-s3cret" not in repr(settings)
    mailer = make_mailer(settings, tmp_path / "outbox")
    records = deliver([job], mailer, ledger, sender=settings.sender, templates_dir=TEMPLATES)
    assert {r.status for r in records} == {"accepted"}
    assert server.handler.received_by(OWNER) == 1
    assert "bl0ck-s3cret" not in ledger.read_text()


def test_message_id_domain_is_the_senders_or_a_reserved_name() -> None:
    from modelmemo.delivery.message import message_id_domain

    assert message_id_domain("AI Platform memos <memos@Example.COM>") == "example.com"
    assert message_id_domain("modelmemo@localhost") == "localhost"
    for unusable in (None, "", "no-address", "x@bad_domain!", "x@"):
        assert message_id_domain(unusable) == "modelmemo.invalid", unusable
