"""Reading a listing's bytes from where a setting points: an http(s) URL (httpx) or a local file
(an air-gapped site's mirror). Every failure is one SourceUnavailable line naming the source."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlparse

# models.dev's full api.json is a few MB; a document far larger than that is not a listing.
MAX_LISTING_BYTES = 64 * 1024 * 1024
TIMEOUT_SECONDS = 30.0


class SourceUnavailable(Exception):
    """A listing could not be read (network, HTTP status, size, file); the message is one line."""


def read_listing(name: str, location: str, max_bytes: int = MAX_LISTING_BYTES,
                 timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The bytes at `location` (http(s) URL, file:// URL or path), at most `max_bytes`."""
    scheme = urlparse(location).scheme
    if scheme in ("http", "https"):
        return _read_http(name, location, max_bytes, timeout)
    path = Path(location[len("file://"):] if scheme == "file" else location)
    try:  # opened without blocking (a FIFO with no writer), and read only if it is a regular file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SourceUnavailable(f"{name}: {path} is not a regular file; not a listing")
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise SourceUnavailable(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise SourceUnavailable(f"{name}: {path} is larger than {max_bytes // (1024 * 1024)} MiB; not a listing")
    return data


def _read_http(name: str, url: str, max_bytes: int, timeout: float) -> bytes:
    import httpx

    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True,
                          headers={"Accept": "application/json", "User-Agent": "modelmemo-catalog-sync"}) as response:
            if response.status_code != 200:
                raise SourceUnavailable(f"{name}: {url} answered HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceUnavailable(f"{name}: {url} sent more than {max_bytes // (1024 * 1024)} MiB; "
                                            "not a listing")
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise SourceUnavailable(f"{name}: {url} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"{name}: cannot reach {url}: {exc.__class__.__name__}: {exc}".rstrip(": ")) from None
    return b"".join(chunks)
