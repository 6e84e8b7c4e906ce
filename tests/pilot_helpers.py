"""Building pilot projects for the tests: a requirement file with a `pilot:` section, its examples
file, and the memo (pick and challengers) a pilot reads them from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .helpers import requirements, write_yaml

KEY = "sk-test-0123456789abcdefSECRET"  # must never show up anywhere but the Authorization header
RUN_ID = "20261129T020000Z-1a2b"
# catalog offers of one provider (anthropic) and the names a LiteLLM-style gateway calls them by
PICK = ("claude", "anthropic-api", "anthropic/claude-sonnet-5-5")
HAIKU = ("claude-haiku", "anthropic-api", "anthropic/claude-haiku-5-5")
OPUS = ("claude-opus", "anthropic-api", "anthropic/claude-opus-5-5")


def chat_examples(n: int) -> list[dict[str, Any]]:
    return [{"task": "chat", "input": f"How do I reset password number {i}?",
             "reference": f"Open Settings, choose Security and press Reset for account {i}."} for i in range(n)]


def answers_for(examples: list[dict[str, Any]]) -> dict[str, str]:
    """What the server's `good` model answers: each example's reference, by its input."""
    return {e["input"]: e["reference"] for e in examples if "reference" in e}


def write_project(folder: Path, examples: list[dict[str, Any]], *, tasks: list[str] | None = None,
                  pilot: dict[str, Any] | None = None, project_id: str = "pilot-project") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "\n".join(json.dumps(e, ensure_ascii=False) for e in examples) + "\n"
    (folder / "examples.jsonl").write_text(lines, encoding="utf-8")
    data = requirements(**{"project.id": project_id, "needs.tasks": tasks or sorted({e["task"] for e in examples}),
                           "pilot": pilot or {"examples": "examples.jsonl"}})
    return write_yaml(folder / f"{project_id}.yaml", data)


def write_memo(output: Path, picks: list[tuple[str, str, str]], challengers: list[tuple[str, str, str]] = (),
               project_id: str = "pilot-project", run_id: str = RUN_ID) -> Path:
    """The part of a memo JSON a pilot reads (recommended, challengers), in a run folder."""
    def pick(entry: tuple[str, str, str]) -> dict[str, Any]:
        return {"task": None, "model": entry[0], "deployment": entry[1], "provider": "Anthropic", "route": "first-party"}

    path = output / run_id / f"{project_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"recommended": [pick(p) for p in picks], "challengers": [pick(c) for c in challengers]}),
                    encoding="utf-8")
    return path


def pilot_env(server_url: str, **extra: str) -> dict[str, str]:
    """The settings of a test pilot: the test server as the gateway, fast retries."""
    return {"MODELMEMO_PILOT_GATEWAY": server_url, "MODELMEMO_PILOT_GATEWAY_KEY": KEY,
            "MODELMEMO_PILOT_RETRIES": "2", "MODELMEMO_PILOT_BACKOFF_SECONDS": "0.01",
            "MODELMEMO_PILOT_TIMEOUT_SECONDS": "10", **extra}


def all_text_under(folder: Path) -> str:
    """Every file's bytes under a folder, as text (for "the key is nowhere" checks)."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file())
