"""One request through the real client (httpx async) against the local OpenAI-compatible server:
answers parsed, retries on 429/5xx honouring Retry-After, no retry of a timeout, a malformed answer
refused, and no key in any message."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from modelmemo.catalog.load import Catalog
from modelmemo.pilot import client as client_module
from modelmemo.pilot.candidates import CandidateSpec, resolve
from modelmemo.pilot.client import Answer, CallFailed, _retry_after, _wait, call, redact
from modelmemo.pilot.endpoints import Endpoint, Route
from modelmemo.pilot.examples import Example
from modelmemo.pilot.prompts import answer_request
from modelmemo.settings import PILOT_RETRY_WAIT_MAX_SECONDS

from .pilot_helpers import KEY
from .pilot_server import PilotServer

EXAMPLE = Example(1, "line 1", "chat", "How do I reset my password?", "Open Settings and press Reset.")
EMBED = Example(2, "line 2", "embeddings", "reset password", "Open Settings and press Reset.")


def _route(catalog: Catalog, url: str, name: str, key: str | None = KEY) -> Route:
    candidate = resolve(CandidateSpec("claude"), catalog, "pick")
    return Route(candidate, Endpoint(url, "gateway", key), name, "anthropic", None)


def _ask(route: Route, example: Example = EXAMPLE, *, timeout: float = 10, retries: int = 2) -> Answer:
    async def go() -> Answer:
        async with httpx.AsyncClient() as client:
            return await call(client, route, answer_request(example), timeout=timeout, retries=retries, backoff=0.01)

    return asyncio.run(go())


def test_an_answer_with_its_token_counts_and_the_key_as_a_bearer_header(catalog):
    with PilotServer({EXAMPLE.input: EXAMPLE.reference}) as server:
        answer = _ask(_route(catalog, server.url, "good"))
    assert answer.text == EXAMPLE.reference and answer.input_tokens > 0 and answer.output_tokens > 0
    assert server.authorizations == [f"Bearer {KEY}"]
    assert server.bodies[0]["model"] == "good" and server.bodies[0]["messages"][-1]["content"] == EXAMPLE.input


def test_embeddings_return_one_vector_per_input(catalog):
    with PilotServer(pairs={EMBED.input: 0, EMBED.reference: 0}) as server:
        answer = _ask(_route(catalog, server.url, "good"), EMBED)
    assert answer.vectors is not None and len(answer.vectors) == 2 and answer.vectors[0] == answer.vectors[1]
    assert server.bodies[0]["input"] == [EMBED.input, EMBED.reference]


def test_a_429_is_retried_until_it_passes(catalog):
    with PilotServer({EXAMPLE.input: EXAMPLE.reference}, flaky_failures=2) as server:
        answer = _ask(_route(catalog, server.url, "flaky"), retries=2)
    assert answer.text == EXAMPLE.reference and server.calls["flaky"] == 3


@pytest.mark.parametrize("model, cause", [("storm", "rate limited (HTTP 429) on all 3 attempts"),
                                          ("error", "server error (HTTP 500) on all 3 attempts")])
def test_a_storm_that_outlasts_the_retries_is_one_clear_cause(catalog, model, cause):
    with PilotServer() as server:
        with pytest.raises(CallFailed) as failed:
            _ask(_route(catalog, server.url, model), retries=2)
    assert str(failed.value).startswith(cause) and server.calls[model] == 3


def test_a_timeout_is_not_retried(catalog):
    with PilotServer(slow_seconds=2) as server:
        with pytest.raises(CallFailed, match=r"no answer within 0.3 s"):
            _ask(_route(catalog, server.url, "slow"), timeout=0.3, retries=3)
    assert server.calls["slow"] == 1


@pytest.mark.parametrize("model, cause", [("broken", "malformed response: not JSON"),
                                          ("empty", "malformed response: no choices[0].message.content")])
def test_a_malformed_response_is_refused(catalog, model, cause):
    with PilotServer() as server:
        with pytest.raises(CallFailed, match=cause.replace("[", r"\[").replace("]", r"\]")):
            _ask(_route(catalog, server.url, model))
    assert server.calls[model] == 1  # a malformed answer is not a transient failure


def test_a_refusal_names_the_fix_and_never_the_key_or_the_servers_words(catalog):
    with PilotServer() as server:
        def refuse(path, body):
            server.calls[body["model"]] += 1
            return 401, {}, (b'{"error": {"type": "auth_error", "code": "invalid_key", "message": "key '
                             + KEY.encode() + b' is wrong for prompt: How do I reset"}}')

        server.respond = refuse
        with pytest.raises(CallFailed) as failed:
            _ask(_route(catalog, server.url, "good"))
    message = str(failed.value)
    assert message == "HTTP 401: check the key (auth_error, invalid_key)"
    assert KEY not in message and "reset" not in message


def test_retry_after_is_honoured_and_bounded():
    response = httpx.Response(429, headers={"Retry-After": "7"})
    assert _retry_after(response) == 7 and _wait(0, 1.0, 7.0) == 7
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert _retry_after(httpx.Response(429)) is None and _retry_after(httpx.Response(429, headers={"Retry-After": "x"})) is None
    assert [_wait(n, 1.0, None) for n in range(4)] == [1, 2, 4, 8]  # doubling without a header
    assert _wait(0, 1.0, 10_000) == PILOT_RETRY_WAIT_MAX_SECONDS and _wait(20, 1.0, None) == PILOT_RETRY_WAIT_MAX_SECONDS


def test_the_client_waits_as_retry_after_says(catalog, monkeypatch):
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def record(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(client_module.asyncio, "sleep", record)
    with PilotServer({EXAMPLE.input: EXAMPLE.reference}, flaky_failures=1) as server:
        def respond(path, body, original=server.respond):
            status, headers, payload = original(path, body)
            return status, ({"Retry-After": "3"} if status == 429 else headers), payload

        server.respond = respond
        _ask(_route(catalog, server.url, "flaky"))
    assert waits == [3.0]


def test_redact_removes_keys_and_bearer_tokens():
    assert redact(f"sent {KEY} and Bearer abc.def", KEY) == "sent [key] and Bearer [key]"
    assert redact("token sk-proj-ABCDEFGH12345 leaked") == "token [key] leaked"
    assert redact("nothing secret", None, "") == "nothing secret"
