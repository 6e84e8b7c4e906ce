"""How each MODELMEMO_* value is read: one parser per kind of value (a path, a number within the
bounds the settings table gives it, a header-safe text, a password file...). Each returns the value
or raises SettingsError naming the variable and what is allowed; modelmemo/settings.py (the one
table) says which variable is read with which parser.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit


if TYPE_CHECKING:
    from modelmemo.settings import Range

SMTP_RETRY_WAIT_MAX_SECONDS = 3600.0  # the waits between one memo's send attempts, added up
MAX_PASSWORD_FILE_BYTES = 4096  # a password file holds one password; a bigger one is the wrong file


class SettingsError(ValueError):
    """A setting has a value modelmemo cannot use; the message names the variable and what is allowed."""

def folder_path(name: str, raw: str) -> Path:
    if "\x00" in raw:
        raise SettingsError(f"{name} must be a folder path, not {raw!r}")
    return Path(raw).expanduser()


def source_location(name: str, raw: str) -> str:
    """An http(s) URL, or a local file (an air-gapped site's mirror), given as a path or file:// URL."""
    from urllib.parse import urlparse

    scheme = urlparse(raw).scheme
    if scheme in ("http", "https"):
        if not urlparse(raw).netloc:
            raise SettingsError(f"{name}={raw!r}: an http(s) URL needs a host (e.g. https://models.dev/api.json)")
        return raw
    if scheme not in ("", "file"):
        raise SettingsError(f"{name}={raw!r}: use an http(s) URL or a local file path")
    path = Path(raw[len("file://"):] if scheme == "file" else raw).absolute()
    kind = _not_regular(os.stat(path).st_mode) if path.exists() else None  # a FIFO would block `catalog sync`
    if kind:
        raise SettingsError(f"{name}={raw!r} is {kind}, not a regular file; use an http(s) URL or a listing file")
    return str(path)


def base_url(name: str, raw: str) -> str:
    """An absolute http(s) URL, kept with one trailing slash so a memo's path can be appended."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() or ord(c) < 32 for c in raw) \
            or parts.query or parts.fragment:
        raise SettingsError(f"{name} must be an http:// or https:// URL without query or fragment, "
                            f"such as https://memos.example.com/modelmemo/, not {raw!r}")
    return raw.rstrip("/") + "/"


def api_url(name: str, raw: str) -> str:
    """An OpenAI-compatible base URL without a trailing slash, credentials or query: pilot results
    name their endpoint, so a key in it would be stored; keys have their own variables."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() or ord(c) < 32 for c in raw) \
            or parts.query or parts.fragment or "@" in parts.netloc:
        raise SettingsError(f"{name} must be an http:// or https:// base URL without credentials, query or fragment, "
                            "such as https://openrouter.ai/api/v1 (a key goes in its own variable)")
    return raw.rstrip("/")


def secret(env: "Mapping[str, str]", name: str, file_name: str | None) -> str | None:
    """A key from `name` or the file `name`_FILE names, not both; never quoted in an error."""
    value = (env.get(name) or "").strip() or None
    if value and file_name:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    return password_file(f"{name}_FILE", file_name) if file_name else value


def _bounds(name: str) -> "Range":
    from modelmemo.settings import VARIABLES  # the table imports these parsers: read it when called

    """The range the settings table gives a numeric variable: every one has one (a test checks)."""
    return next(v.bounds for v in VARIABLES if v.name == name and v.bounds is not None)


def whole_number(name: str, raw: str) -> int:
    bounds = _bounds(name)
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not bounds.admits(value):
        raise SettingsError(f"{name} must be a whole number {bounds.phrase()}, not {raw!r}")
    return value




def seconds(name: str, raw: str) -> float:
    bounds = _bounds(name)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not bounds.admits(value):  # nan and inf fail every bound
        raise SettingsError(f"{name} must be a number of seconds {bounds.phrase()}, not {raw!r}")
    return value


def check_retry_waits(retries: int, backoff: float) -> None:
    """One memo's send attempts wait backoff, 2x, 4x, ... between them: bounded all together, so
    that two values each within its range cannot hold a run for hours on one memo."""
    total = backoff * (2 ** (retries - 1) - 1)
    if total > SMTP_RETRY_WAIT_MAX_SECONDS:
        raise SettingsError(f"MODELMEMO_SMTP_BACKOFF_SECONDS={backoff:g} with MODELMEMO_SMTP_RETRIES={retries} waits "
                            f"{total:,.0f} s between one memo's attempts; the limit is "
                            f"{SMTP_RETRY_WAIT_MAX_SECONDS:,.0f} s (backoff x (2^(retries-1) - 1)): lower either")


# --- the email variables (the mailer's own checks run when SmtpSettings is built) ----------------


def lowercase(name: str, raw: str) -> str:
    return raw.lower()


def header_text(name: str, raw: str) -> str:
    """Text for an email header (the sender's address or name): one line, no control characters."""
    bad = next((c for c in raw if ord(c) < 32 or 127 <= ord(c) < 160), None)
    if bad is not None:
        raise SettingsError(f"{name} must be one line without control characters, not {raw!r} "
                            f"(it holds {bad!r})")
    return raw


def true_or_false(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


_NOT_REGULAR = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (lambda mode: True, "not a regular file"))


def _not_regular(mode: int) -> str | None:
    """What a file of this mode is, unless it is a regular file (None)."""
    return None if stat.S_ISREG(mode) else next(kind for test, kind in _NOT_REGULAR if test(mode))


def password_file(name: str, raw: str) -> str:
    """The password in a regular file of at most MAX_PASSWORD_FILE_BYTES: checked with os.stat before
    it is opened (a FIFO would block the command, /dev/zero never end), opened without blocking and
    checked again on the open file (swapped since?), which is what is read."""
    path, limit, fix = Path(raw).expanduser(), MAX_PASSWORD_FILE_BYTES, "point it at a file holding only the password"
    try:
        kind = _not_regular(os.stat(path).st_mode)  # follows a symbolic link: a mounted secret is one
        fd = None if kind else os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        data = b""
        try:
            size = 0 if fd is None else os.fstat(fd).st_size
            kind = kind or _not_regular(os.fstat(fd).st_mode)
            while not kind and size <= limit and len(data) <= limit and (chunk := os.read(fd, limit + 1)):
                data += chunk
        finally:
            if fd is not None:
                os.close(fd)
    except OSError as exc:
        raise SettingsError(f"cannot read {name} {raw}: {exc.strerror or exc}") from None
    if kind:
        raise SettingsError(f"{name} {raw} is {kind}, not a regular file; {fix}")
    if max(size, len(data)) > limit:
        raise SettingsError(f"{name} {raw} has {max(size, len(data)):,} bytes; a password file holds at most "
                            f"{limit:,} (is it the right file?); {fix}")
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise SettingsError(f"{name} {raw} is not UTF-8 text; {fix}") from None


def sender(address: str | None, name: str | None, templates_dir: Path) -> str:
    """The From header (delivery.mailers.sender_identity, imported late: the mailers read settings)."""
    from modelmemo.delivery.mailers import sender_identity

    return sender_identity(address, name, templates_dir)


