"""Mail transports behind one small interface: SMTP for real delivery, an outbox folder otherwise.

A mailer never raises for delivery problems; it returns one RecipientResult per recipient so the
ledger can record exactly who got the memo. "transient" means "try again later": the message did
not reach the server (connection trouble before the message data was sent, 4xx replies);
"permanent" means a 5xx reply that retrying will not fix; "uncertain" means the whole message was
sent but the server's final reply never came (timeout, dropped connection): it may have been
queued, so a retry may be a duplicate (modelmemo.delivery.ledger decides when to retry it).
A result also says whether the server never answered (`unreachable`: refused or lost connection,
timeout), which the delivery loop's circuit breaker counts.

Each mailer has a `transport` ("smtp" or "outbox"): the ledger records which one accepted a memo,
so turning SMTP on after using the outbox still emails the memos only written to the outbox.

Secrets: the SMTP password lives only in SmtpSettings.password, is masked in its repr, and is
scrubbed from every result detail (server replies could, in theory, echo it back).
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formataddr, getaddresses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping, Protocol

from modelmemo.batch.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from modelmemo.settings import Settings

Status = Literal["accepted", "transient", "permanent", "uncertain"]
Security = Literal["starttls", "ssl", "none"]

SECURITY_MODES: tuple[str, ...] = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_SENDER = "modelmemo@localhost"


@dataclass(frozen=True)
class RecipientResult:
    """One recipient's outcome of one send.

    unreachable: the send ended without an answer from the server (connection refused, reset or
    lost, a name that does not resolve, a timeout at any step). A reply, even a 4xx or 5xx, is an
    answer. The delivery loop stops connecting after several of these in a row (its circuit
    breaker), so a black-holed server costs one run seconds, not hours.
    """

    status: Status
    detail: str
    unreachable: bool = False


class Mailer(Protocol):
    """Send one message to some recipients (the envelope); report the outcome per recipient.

    transport: "smtp" (a real mail server: recipients get the memo) or "outbox" (files only).
    """

    transport: str

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, RecipientResult]: ...


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. host=None means "no SMTP server configured": use the outbox.

    Validated on construction, so a plain-text connection to a remote server (which would send
    the password and the memos in the clear) is refused before anything is sent.
    """

    host: str | None = None
    port: int | None = None  # None: the default for the security mode
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = DEFAULT_SENDER
    allow_plain: bool = False
    timeout: float = 30.0  # every read and write once connected
    # TCP connect plus the server's greeting (the shorter of this and `timeout`): a server that
    # accepts connections and never speaks is given up on quickly (MODELMEMO_SMTP_CONNECT_TIMEOUT).
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"SMTP port must be between 1 and 65535, not {self.port}")
        if not self.timeout > 0:
            raise ValueError(f"SMTP timeout must be a positive number of seconds, not {self.timeout}")
        if not self.connect_timeout > 0:
            raise ValueError(f"SMTP connect timeout must be a positive number of seconds, not {self.connect_timeout}")
        if self.host and self.security == "none" and not self.allow_plain and self.host.lower() not in LOCAL_HOSTS:
            raise ValueError(
                f"refusing plain (unencrypted) SMTP to {self.host}: use security 'starttls' or 'ssl', "
                "or set MODELMEMO_SMTP_ALLOW_PLAIN=true if the network path is trusted")

    def __repr__(self) -> str:
        masked = "'***'" if self.password else "None"
        return (f"SmtpSettings(host={self.host!r}, port={self.effective_port}, security={self.security!r}, "
                f"username={self.username!r}, password={masked}, sender={self.sender!r}, "
                f"allow_plain={self.allow_plain}, timeout={self.timeout}, connect_timeout={self.connect_timeout})")

    __str__ = __repr__

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "SmtpSettings":
        """The MODELMEMO_SMTP_* variables of `env`, as `Settings.from_env` parses and checks them
        (modelmemo/settings.py, the one table). Without MODELMEMO_SMTP_HOST, host is None (outbox
        mode). Raises SettingsError (a ValueError) naming the variable."""
        from modelmemo.settings import Settings

        return Settings.from_env(env).smtp

    @classmethod
    def from_prefect_block(cls, name: str, sender: str = DEFAULT_SENDER) -> "SmtpSettings":
        """Load a prefect-email EmailServerCredentials block (optional: prefect-email is no dependency)."""
        try:
            from prefect_email import EmailServerCredentials  # type: ignore[import-not-found]
        except ImportError:
            raise RuntimeError("SmtpSettings.from_prefect_block needs the prefect-email package "
                               "(pip install prefect-email), or use the MODELMEMO_SMTP_* variables") from None
        block: Any = EmailServerCredentials.load(name)
        smtp_type = getattr(block.smtp_type, "name", str(block.smtp_type)).upper()
        security = {"SSL": "ssl", "STARTTLS": "starttls", "INSECURE": "none"}.get(smtp_type)
        if security is None:
            raise ValueError(f"email block {name!r}: unknown smtp_type {smtp_type!r}")
        server = block.smtp_server
        secret = block.password
        return cls(
            host=str(getattr(server, "value", server)),
            port=block.smtp_port,
            security=security,  # type: ignore[arg-type]
            username=block.username or None,
            password=(secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret) or None,
            sender=sender,
        )


class BackgroundSend(threading.Thread):
    """mailer.send in a thread of its own, so that a stop raised in the caller's thread (SIGTERM,
    Ctrl-C) cannot cut a send off between the server's copy and the ledger's record of it."""

    def __init__(self, mailer: Mailer, message: EmailMessage, recipients: list[str]) -> None:
        super().__init__(name="modelmemo-send", daemon=True)  # a hard stop must not wait for it
        self.mailer, self.message, self.recipients = mailer, message, recipients
        self.results: dict[str, RecipientResult] | None = None
        self.finished = threading.Event()  # not join(): one interrupted by a signal marks the thread ended
        self.start()

    def run(self) -> None:
        try:
            self.results = self.mailer.send(self.message, self.recipients)
        except Exception as exc:  # a mailer bug must not lose the ledger or stop the batch
            self.results = {r: RecipientResult("transient", f"{type(exc).__name__}: {exc}") for r in self.recipients}
        finally:
            self.finished.set()

    def wait(self, timeout: float | None = None) -> dict[str, RecipientResult] | None:
        """The results, or None if the send is still running after `timeout` seconds."""
        return self.results if self.finished.wait(timeout) else None


# --- SMTP ------------------------------------------------------------------------------------


class _TransactionPhase:
    """Mixin for smtplib.SMTP/SMTP_SSL that remembers how far the mail transaction got.

    `data_sent` turns True once the whole message and its final "." were handed to the
    connection (after DATA's 354): from then on a lost reply means the server may have queued the
    message. `rcpt_refused` holds the RCPT refusals, which smtplib loses when it raises.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.data_sent = False
        self.rcpt_refused: dict[str, tuple[int, bytes]] = {}
        super().__init__(*args, **kwargs)

    def rcpt(self, recip: str, options: Any = ()) -> tuple[int, bytes]:
        code, reply = super().rcpt(recip, options)  # type: ignore[misc]
        if code not in (250, 251):
            self.rcpt_refused[recip] = (code, reply)
        return code, reply

    def data(self, msg: bytes) -> tuple[int, bytes]:
        """smtplib's DATA (sendmail always passes bytes), with the phase marked between the body
        and the final reply."""
        code, reply = self.docmd("data")  # type: ignore[attr-defined]
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        body = _LEADING_DOT.sub(b"..", msg)  # dot-stuffing (RFC 5321 4.5.2)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")  # type: ignore[attr-defined]
        self.data_sent = True
        return self.getreply()  # type: ignore[attr-defined]


_LEADING_DOT = re.compile(rb"(?m)^\.")


class _SMTP(_TransactionPhase, smtplib.SMTP):
    pass


class _SMTP_SSL(_TransactionPhase, smtplib.SMTP_SSL):
    pass


class SmtpMailer:
    """smtplib, one connection per send. Maps every outcome to accepted/transient/permanent/uncertain.

    A timeout or lost connection after the message data was sent (after DATA's 354 and the final
    ".", while waiting for the server's reply) is "uncertain": the server may have queued the
    message, so retrying at once could deliver copies. The same failure earlier (connecting, TLS,
    login, MAIL, RCPT, DATA's 354, sending the body) is "transient": nothing can have been queued.
    """

    transport = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        if not settings.host:
            raise ValueError("SmtpMailer needs an SMTP host (MODELMEMO_SMTP_HOST); without one use OutboxMailer")
        self.settings = settings

    def __repr__(self) -> str:
        return f"SmtpMailer({self.settings!r})"

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, RecipientResult]:
        if not recipients:
            return {}
        client: _SMTP | _SMTP_SSL | None = None
        try:
            client = self._connect()
            return self._send(client, message, recipients)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused at RCPT
            return {r: self._by_code(*exc.recipients.get(r, (451, b"refused"))) for r in recipients}
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:  # MAIL FROM or DATA refused
            result = self._by_code(exc.smtp_code, exc.smtp_error)
            return {r: result for r in recipients}
        except smtplib.SMTPAuthenticationError as exc:
            return self._all(recipients, f"authentication failed ({exc.smtp_code}); check the SMTP username and password")
        except (smtplib.SMTPException, OSError) as exc:  # refused/lost connection, timeout, TLS, HELO
            if client is not None and client.data_sent:  # the reply was lost: the server may have queued it
                return self._uncertain(client, recipients, exc)
            # The server's address first: "Connection refused" alone does not say which server.
            return self._all(recipients, f"{self.settings.host}:{self.settings.effective_port}: "
                             f"{type(exc).__name__}: {exc}", unreachable=_no_answer(exc))
        finally:
            # QUIT problems after a successful send must not turn "accepted" into an error.
            if client is not None:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    client.close()

    def _connect(self) -> "_SMTP | _SMTP_SSL":
        """Connected and greeted (the host is given to the constructor: TLS checks the certificate
        against it). smtplib connects, does the TLS handshake (ssl) and reads the greeting in the
        constructor, all under the connect timeout; every later step gets the normal timeout."""
        s = self.settings
        connect_timeout = min(s.connect_timeout, s.timeout)
        if s.security == "ssl":
            client: _SMTP | _SMTP_SSL = _SMTP_SSL(str(s.host), s.effective_port, timeout=connect_timeout,
                                                  context=ssl.create_default_context())
        else:
            client = _SMTP(str(s.host), s.effective_port, timeout=connect_timeout)
        client.timeout = s.timeout  # what starttls() and any reconnect use
        if client.sock is not None:
            client.sock.settimeout(s.timeout)
        return client

    def _send(self, client: smtplib.SMTP, message: EmailMessage, recipients: list[str]) -> dict[str, RecipientResult]:
        s = self.settings
        host, port = str(s.host), s.effective_port
        client.ehlo()
        if s.security == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if s.username:
            client.login(s.username, s.password or "")
        refused = client.send_message(message, from_addr=_envelope_sender(message), to_addrs=recipients)
        results = {}
        for r in recipients:
            if r in refused:
                results[r] = self._by_code(*refused[r])
            else:
                results[r] = RecipientResult("accepted", self._scrub(f"accepted by {host}:{port}"))
        return results

    def _uncertain(self, client: _SMTP | _SMTP_SSL, recipients: list[str],
                   exc: Exception) -> dict[str, RecipientResult]:
        detail = self._scrub(f"no reply after the message was sent ({type(exc).__name__}: {exc}); "
                             "the server may have queued it")
        return {r: self._by_code(*client.rcpt_refused[r]) if r in client.rcpt_refused
                else RecipientResult("uncertain", detail, unreachable=_no_answer(exc)) for r in recipients}

    def _by_code(self, code: int, reply: bytes | str) -> RecipientResult:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        status: Status = "permanent" if 500 <= code < 600 else "transient"
        return RecipientResult(status, self._scrub(f"{code} {text}".strip()))

    def _all(self, recipients: list[str], detail: str, unreachable: bool = False) -> dict[str, RecipientResult]:
        result = RecipientResult("transient", self._scrub(detail), unreachable)
        return {r: result for r in recipients}

    def _scrub(self, text: str) -> str:
        password = self.settings.password
        return text.replace(password, "***") if password else text


def _no_answer(exc: BaseException) -> bool:
    """Whether a send failed because the server never answered: a refused, reset or lost
    connection, an unresolvable name or a timeout. smtplib's own errors (a reply it did not like,
    STARTTLS not offered) and TLS errors (a handshake the server answered) are answers."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, (smtplib.SMTPException, ssl.SSLError))


def _envelope_sender(message: EmailMessage) -> str:
    addresses = getaddresses([str(message.get("From", ""))])
    return addresses[0][1] if addresses and addresses[0][1] else DEFAULT_SENDER


# --- outbox ----------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"^<memo-([a-z0-9][a-z0-9-]*)-([0-9a-f]{12})[0-9a-f]*@[a-z0-9.-]+>$")


class OutboxMailer:
    """Writes each message as <folder>/<project-id>-<content_sha[:12]>.eml instead of sending it.

    For machines without an SMTP server (and for reviewing emails before turning SMTP on). The file
    name comes from the deterministic Message-ID, so writing the same memo twice overwrites one file.
    """

    transport = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"OutboxMailer({str(self.folder)!r})"

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, RecipientResult]:
        path = self.folder / self.filename(message)
        try:
            atomic_write_bytes(path, message.as_bytes())
        except OSError as exc:
            return {r: RecipientResult("transient", f"cannot write {path}: {exc.strerror}") for r in recipients}
        return {r: RecipientResult("accepted", f"written to {path}") for r in recipients}

    @staticmethod
    def filename(message: EmailMessage) -> str:
        message_id = str(message.get("Message-ID", "")).strip()
        match = _MESSAGE_ID.match(message_id)
        if not match:  # not one of ours: never let a header choose the path
            return f"message-{hashlib.sha256(message_id.encode()).hexdigest()[:12]}.eml"
        return f"{match.group(1)}-{match.group(2)}.eml"


def sender_identity(address: str | None, name: str | None, templates_dir: Path | None = None) -> str:
    """The From header: "Name <address>". The address is MODELMEMO_SMTP_FROM (default
    modelmemo@localhost); the name MODELMEMO_SMTP_FROM_NAME, else "<organisation> memos" from the
    brand file in `templates_dir`, so readers see who sent the memo rather than a bare technical address.
    Control characters (a line break would end the From header early) become spaces; the settings
    check refuses them in the variables, this covers every other caller."""
    address = _header_safe(address or "") or DEFAULT_SENDER
    name = _header_safe(name or "")
    if "<" in address:  # already "Name <address>"
        return address
    if not name:
        try:
            from modelmemo.memo.brand import load_brand
            from modelmemo.settings import default_templates_dir

            name = f"{load_brand(templates_dir or default_templates_dir()).organisation} memos"
        except Exception:  # a broken brand file is reported by the run itself; the address alone still works
            name = "modelmemo"
    return formataddr((name, address))


_CONTROL_RUNS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def _header_safe(text: str) -> str:
    return " ".join(_CONTROL_RUNS.sub(" ", text).split())


def configured_smtp(settings: "Settings") -> SmtpSettings:
    """The SMTP settings a run sends with: from the prefect-email EmailServerCredentials block that
    MODELMEMO_SMTP_BLOCK names (the Prefect ecosystem's convention), loaded now, with the sender and
    the timeouts of the settings; else the ones built from the MODELMEMO_SMTP_* variables."""
    if settings.smtp_block:  # the block has the server; how long to wait for it is ours
        block = SmtpSettings.from_prefect_block(settings.smtp_block, sender=settings.smtp.sender)
        return replace(block, timeout=settings.smtp.timeout, connect_timeout=settings.smtp.connect_timeout)
    return settings.smtp


def make_mailer(settings: SmtpSettings, outbox_dir: Path) -> Mailer:
    """SMTP when a host is configured, else the outbox folder."""
    return SmtpMailer(settings) if settings.host else OutboxMailer(outbox_dir)
