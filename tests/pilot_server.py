"""A small OpenAI-compatible server for the pilot's tests and benchmark: 127.0.0.1, a free port,
threads, deterministic answers chosen by the model name, and a count of everything it saw.

Behaviours (a model name maps to one through `behaviours`, or is one):
  good    the example's reference (looked up by the user message), a one-hot embedding per pair
  bad     "I am not sure." / embeddings from the text's hash (unrelated to its pair)
  slow    sleeps `slow_seconds`, then answers like good
  flaky   answers 429 (Retry-After: 0) to its first `flaky_failures` requests, then like good
  storm   always 429 (Retry-After: 0)
  error   always 500
  broken  200 with a body that is not JSON
  empty   200 with no choices
  pricey  like good, but reports 200,000 prompt tokens per request
  judge   "4"; judge-bad: "It is fine."
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PilotServer:
    def __init__(self, answers: dict[str, str] | None = None, behaviours: dict[str, str] | None = None, *,
                 delay: float = 0.0, slow_seconds: float = 3.0, flaky_failures: int = 2, usage: bool = True,
                 pairs: dict[str, int] | None = None):
        self.answers = answers or {}  # user message -> reference
        self.behaviours = behaviours or {}
        self.delay, self.slow_seconds, self.flaky_failures, self.usage = delay, slow_seconds, flaky_failures, usage
        self.pairs = pairs or {}  # embeddings: text -> pair index
        self.calls: Counter[str] = Counter()
        self.authorizations: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def __enter__(self) -> "PilotServer":
        owner = self

        class Handler(_Handler):
            server_owner = owner

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # --- answers ---------------------------------------------------------------------------------

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        model = str(body.get("model"))
        kind = self.behaviours.get(model, model)
        with self._lock:
            self.calls[model] += 1
            count = self.calls[model]
        if self.delay:
            time.sleep(self.delay)
        if kind == "slow":
            time.sleep(self.slow_seconds)
        if kind == "storm" or (kind == "flaky" and count <= self.flaky_failures):
            return 429, {"Retry-After": "0"}, b'{"error": {"type": "rate_limit", "message": "slow down"}}'
        if kind == "error":
            return 500, {}, b'{"error": {"message": "boom"}}'
        if kind == "broken":
            return 200, {}, b'{"choices": [ {"message": '
        if kind == "empty":
            return 200, {}, b'{"choices": []}'
        if path.endswith("/embeddings"):
            return 200, {}, json.dumps(self._embeddings(kind, body["input"])).encode()
        return 200, {}, json.dumps(self._chat(kind, body)).encode()

    def _chat(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        if kind == "judge":
            text = "4"
        elif kind == "judge-bad":
            text = "It is fine."
        elif kind == "bad":
            text = "I am not sure."
        else:
            text = self.answers.get(user, "no reference known")
        prompt = sum(len(m["content"]) for m in body["messages"]) // 4 + 1
        data: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                             "finish_reason": "stop"}]}
        if self.usage:
            prompt = 200_000 if kind == "pricey" else prompt
            data["usage"] = {"prompt_tokens": prompt, "completion_tokens": len(text) // 4 + 1,
                             "total_tokens": prompt + len(text) // 4 + 1}
        return data

    def _embeddings(self, kind: str, inputs: list[str]) -> dict[str, Any]:
        size = max(self.pairs.values(), default=0) + 2
        vectors = []
        for text in inputs:
            if kind == "bad":
                digest = hashlib.sha256(text.encode()).digest()
                vectors.append([b / 255 + 0.01 for b in digest[:size]] + [0.0] * max(0, size - 32))
            else:
                vector = [0.0] * size
                vector[self.pairs.get(text, size - 1)] = 1.0
                vectors.append(vector)
        return {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": v}
                                           for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": sum(len(t) for t in inputs) // 4 + 1, "total_tokens": 1}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API: the client reuses connections
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (delayed ACK)
    server_owner: PilotServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        owner = self.server_owner
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with owner._lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
            owner.authorizations.append(self.headers.get("Authorization", ""))
            owner.bodies.append(body)
        try:
            status, headers, payload = owner.respond(self.path, body)
        finally:
            with owner._lock:
                owner.in_flight -= 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
