"""One request to an OpenAI-compatible endpoint, made politely and checked strictly.

- httpx async; the caller holds the provider's concurrency slot (run.py), and keeps holding it
  while this waits to retry, so a provider that answers 429 gets fewer requests, not more;
- 429, 5xx and connection failures are retried: the wait is the Retry-After header's when the
  server sends one, else `backoff`, 2x, 4x, ..., never longer than PILOT_RETRY_WAIT_MAX_SECONDS;
- a timeout is not retried (a slow model stays slow, and the request may already be billed);
- a response is an answer only when it has the fields an answer needs (text, or one finite vector
  per input); anything else is a CallFailed, never a half-answer;
- every message that may quote a server's words goes through `redact`: no key reaches output.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from modelmemo.pilot.endpoints import Route
from modelmemo.pilot.prompts import Request
from modelmemo.settings import PILOT_RETRY_WAIT_MAX_SECONDS

_PATHS = {"chat": "/chat/completions", "embeddings": "/embeddings"}


class CallFailed(Exception):
    """A request that got no valid answer; the message is the cause in a few words.

    maybe_billed: the provider may charge for it (a timeout after the request went out, or an
    answer that was malformed); a refused, rate-limited or unreachable request costs nothing."""

    def __init__(self, message: str, maybe_billed: bool = False) -> None:
        super().__init__(message)
        self.maybe_billed = maybe_billed


@dataclass(frozen=True)
class Answer:
    text: str | None  # chat
    vectors: tuple[tuple[float, ...], ...] | None  # embeddings, one per input
    input_tokens: int | None  # as the endpoint counted them; None when it did not say
    output_tokens: int | None
    latency_s: float
    cached: bool = False

    def record(self) -> dict[str, Any]:
        return {"text": self.text, "vectors": [list(v) for v in self.vectors] if self.vectors is not None else None,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "latency_s": self.latency_s}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Answer":
        vectors = record.get("vectors")
        return cls(record.get("text"), tuple(tuple(v) for v in vectors) if vectors is not None else None,
                   record.get("input_tokens"), record.get("output_tokens"), float(record.get("latency_s", 0.0)), True)


_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
_KEY_LIKE = re.compile(r"\b(sk|pk|rk|gsk|key)[-_][A-Za-z0-9_-]{8,}")


def redact(text: str, *secrets: str | None) -> str:
    """Text with every given secret, and anything shaped like a bearer token or an API key, replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[key]")
    return _KEY_LIKE.sub("[key]", _BEARER.sub(r"\1[key]", text))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _wait(attempt: int, backoff: float, retry_after: float | None) -> float:
    wanted = retry_after if retry_after is not None else backoff * 2 ** attempt
    return min(wanted, PILOT_RETRY_WAIT_MAX_SECONDS)


async def call(client: httpx.AsyncClient, route: Route, request: Request, *, timeout: float, retries: int,
               backoff: float) -> Answer:
    """The answer to one request, or CallFailed naming the cause (no key in it)."""
    endpoint = route.endpoint
    url = endpoint.base_url + _PATHS[request.kind]
    headers = {"Authorization": f"Bearer {endpoint.key}"} if endpoint.key else {}
    body = {"model": route.called_as, **request.body}
    cause = "no attempt made"
    for attempt in range(retries + 1):
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                response = await client.post(url, json=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            raise CallFailed(f"no answer within {timeout:g} s (MODELMEMO_PILOT_TIMEOUT_SECONDS)",
                             maybe_billed=True) from None
        except httpx.TransportError as exc:
            cause, retry_after = f"cannot reach {endpoint.host} ({type(exc).__name__})", None
        else:
            latency = time.monotonic() - started
            status = response.status_code
            if status < 400:
                try:
                    return _parse(request, response, latency)
                except CallFailed as exc:  # answered, so possibly billed, but unusable
                    raise CallFailed(str(exc), maybe_billed=True) from None
            if status != 429 and status < 500:
                raise CallFailed(redact(_refusal(status, response, route), endpoint.key))
            cause = "rate limited (HTTP 429)" if status == 429 else f"server error (HTTP {status})"
            retry_after = _retry_after(response)
        if attempt < retries:
            await asyncio.sleep(_wait(attempt, backoff, retry_after))
    tries = "1 attempt" if retries == 0 else f"all {retries + 1} attempts"
    raise CallFailed(f"{cause} on {tries} (MODELMEMO_PILOT_RETRIES)")


def _refusal(status: int, response: httpx.Response, route: Route) -> str:
    """The refusal in words. Only the error's type and code are quoted from the body, never its
    message, which may quote the example sent (and this line is logged, possibly to a Prefect server)."""
    hint = {401: "check the key", 403: "check the key and the account's access to this model",
            404: f"is '{route.called_as}' the endpoint's name for it? Name it with =NAME"}.get(
        status, "the endpoint refused the request")
    try:
        detail = response.json().get("error", {})
        codes = [str(detail.get(k)) for k in ("type", "code") if isinstance(detail.get(k), (str, int))]
    except (ValueError, AttributeError):
        codes = []
    said = ", ".join(c for c in codes if re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", c))
    return f"HTTP {status}: {hint}" + (f" ({said})" if said else "")


def _parse(request: Request, response: httpx.Response, latency: float) -> Answer:
    try:
        data = response.json()
    except ValueError:
        raise CallFailed(f"malformed response: not JSON (HTTP {response.status_code}, "
                         f"{len(response.content)} bytes)") from None
    if not isinstance(data, dict):
        raise CallFailed("malformed response: not a JSON object")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    input_tokens = _count(usage.get("prompt_tokens"))
    if request.kind == "embeddings":
        return Answer(None, _vectors(data, len(request.body["input"])), input_tokens, 0, latency)
    try:
        text = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise CallFailed("malformed response: no choices[0].message.content") from None
    if not isinstance(text, str):
        raise CallFailed("malformed response: choices[0].message.content is not text (a refusal or a tool call?)")
    return Answer(text, None, input_tokens, _count(usage.get("completion_tokens")), latency)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _vectors(data: dict[str, Any], expected: int) -> tuple[tuple[float, ...], ...]:
    items = data.get("data")
    if not isinstance(items, list) or len(items) != expected:
        raise CallFailed(f"malformed response: expected {expected} embeddings in data[]")
    try:
        ordered = sorted(items, key=lambda item: item.get("index", 0))
        vectors = tuple(tuple(float(x) for x in item["embedding"]) for item in ordered)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise CallFailed("malformed response: data[].embedding is not a list of numbers") from None
    sizes = {len(v) for v in vectors}
    if 0 in sizes or len(sizes) != 1 or not all(math.isfinite(x) for v in vectors for x in v):
        raise CallFailed("malformed response: embeddings are empty, of different sizes or not finite")
    return vectors
