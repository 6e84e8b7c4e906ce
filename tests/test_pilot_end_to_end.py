"""Issue 24's "Done when", through the real command (`python -m modelmemo`) on the shipped example
(examples/pilot/: the support-chatbot project with a 30-example pilot file): `pilot --dry-run`
prints the calls and their cost and calls nothing; `pilot` against the local OpenAI-compatible
server (tests/pilot_server.py, answering per model name so that a challenger wins) fills the cache
and stores results; the next `run` changes the pick, and page 1 of its PDF says "measured on your
30 examples" with the interval; a second `pilot` makes no new call.

Then the failures: a 429 storm, a timeout and a malformed response each end in one clear line and
exit 1, and nothing of that candidate becomes evidence: the next run's memo has no pilot reading
for it (those runs are in-process, with the fake renderer: they are about the memo's data)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CATALOG, ROOT, TEMPLATES
from .helpers import pdf_text
from .pilot_server import PilotServer
from .support_renderer import FAKE_PDF

EXAMPLE = ROOT / "examples" / "pilot"
# How a gateway calls the shipped memo's pick and challengers (models.dev names; see `pilot --dry-run`).
GEMINI, CHATGPT, CLAUDE = ("google-vertex/gemini-3.8-flash", "azure/gpt-6.2-sol",
                           "amazon-bedrock/anthropic.claude-sonnet-5-5")


def _drop(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir(parents=True)
    for path in EXAMPLE.iterdir():
        shutil.copy(path, folder / path.name)
    return folder


def _answers(folder: Path) -> dict[str, str]:
    examples = [json.loads(line) for line in (folder / "support-pilot.jsonl").read_text().splitlines() if line.strip()]
    assert len(examples) == 30
    return {e["input"]: e["reference"] for e in examples}


def _env(folder: Path, output: Path, server: PilotServer | None = None, **extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "MODELMEMO_INPUT_DIR": str(folder), "MODELMEMO_OUTPUT_DIR": str(output),
           "MODELMEMO_SETTLE_SECONDS": "0", "PREFECT_API_URL": PREFECT_API_URL.value() or ""}
    if server is not None:
        env.update({"MODELMEMO_PILOT_GATEWAY": server.url, "MODELMEMO_PILOT_GATEWAY_KEY": "sk-test-key",
                    "MODELMEMO_PILOT_RETRIES": "2", "MODELMEMO_PILOT_BACKOFF_SECONDS": "0.01"})
    return {**env, **extra}


def modelmemo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelmemo", *args], cwd=env["MODELMEMO_INPUT_DIR"], env=env,
                          capture_output=True, text=True, timeout=600)


def _latest_memo(output: Path) -> tuple[dict, Path]:
    run_dir = output / (output / "LATEST").read_text().strip()
    return json.loads((run_dir / "support-chatbot.json").read_text()), run_dir / "support-chatbot.pdf"


def _pilot_kinds(memo: dict) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for row in memo["ranking"]:
        kinds.setdefault(row["model"], set()).update(e["kind"] for e in row["evidence"])
    return kinds


def test_a_pilot_that_says_the_challenger_is_better_changes_the_pick(tmp_path: Path, prefect_api):
    folder, output = _drop(tmp_path), tmp_path / "out"
    first = modelmemo("run", "--no-email", env=_env(folder, output))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "0 not processed" in first.stdout  # the pilot file is the requirement file's
    before, _ = _latest_memo(output)
    assert before["recommended"][0]["model"] == "gemini" and before["pilot"] is None
    assert [c["model"] for c in before["challengers"]] == ["chatgpt", "claude"]
    assert "`modelmemo pilot`" in before["next_steps"][0]

    with PilotServer(_answers(folder), {GEMINI: "bad", CHATGPT: "bad", CLAUDE: "good"}) as server:
        env = _env(folder, output, server)
        dry = modelmemo("pilot", "--dry-run", env=env)
        assert dry.returncode == 0 and server.total_calls == 0, dry.stdout + dry.stderr
        for name in (GEMINI, CHATGPT, CLAUDE):
            assert re.search(rf"as {re.escape(name)} at {re.escape(server.url)}: 30 examples, 30 call\(s\) to make, "
                             r"0 cached, ~\$\d+\.\d{4}", dry.stdout), dry.stdout
        assert re.search(r"^dry run: 90 call\(s\) to make, ~\$\d+\.\d{4} estimated", dry.stdout, re.M), dry.stdout

        piloted = modelmemo("pilot", env=env)
        assert piloted.returncode == 0, piloted.stdout + piloted.stderr
        assert server.calls == {GEMINI: 30, CHATGPT: 30, CLAUDE: 30}
        stored = json.loads((output / "state" / "pilot" / "support-chatbot.json").read_text())
        assert sorted(r["model"] for r in stored["results"]) == ["chatgpt", "claude", "gemini"]
        assert any((output / "state" / "pilot" / "cache").rglob("*"))

        rerun = modelmemo("run", "--no-email", env=_env(folder, output))
        assert rerun.returncode == 0 and "1 memo, 0 unchanged" in rerun.stdout, rerun.stdout + rerun.stderr
        after, pdf = _latest_memo(output)
        assert after["recommended"][0]["model"] == "claude"  # the pilot's winner
        kinds = _pilot_kinds(after)
        assert "pilot" in kinds["claude"] and "pilot" in kinds["gemini"]
        claude_chat = next(e for r in after["ranking"] if r["model"] == "claude" for e in r["evidence"]
                           if e["task"] == "chat")
        assert claude_chat["source"].startswith("pilot of support-pilot.jsonl, ") and claude_chat["n"] == 20
        page1 = " ".join(pdf_text(pdf).split("\f")[0].split())  # page 1, line breaks as spaces
        assert "measured on your 30 examples" in page1, page1
        measured_on = stored["results"][0]["measured_at"][:10]
        flat = page1.replace(" ", "")  # the PDF breaks lines (and hyphenates) anywhere
        assert "ClaudeSonnet5.5chrF100(95%interval100–100)onchat" in flat, page1
        assert f"(20chatand10summarizationexamples;support-pilot.jsonl,{measured_on},via" in flat, page1
        assert server.url in flat, page1
        # every piloted model's reading is on page 1, each number beside its metric
        assert re.search(r"ChatGPT \(GPT-6\.2 Sol\) chrF [\d.]+ \(95% interval", page1), page1
        assert "(chrFandROUGE-LFona0–100scale)" in flat and "ROUGE-L F 0." not in page1, page1
        # the gateway is not Bedrock, and the local server echoes every reference: both said on page 1
        assert "Pilotedviaagateway,notAmazonWebServices(AmazonBedrock),theroute" in flat, page1
        assert "Checkthepilot:ClaudeSonnet5.5'sanswersareidenticaltothereferencesonall20chatand10" in flat, page1
        # the pick rests on that echo: the headline asks for the check before the choice
        assert "CheckthepilotbeforechoosingClaudeSonnet5.5" in flat and "copiedthereferenceswordforword" in flat, page1
        assert "Thepilotrestson20chatand10summarizationexamples" in flat, page1

        again = modelmemo("pilot", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert server.total_calls == 90  # everything answered from the cache
        assert re.search(r"0 call\(s\) to make, 30 cached", again.stdout), again.stdout


def _in_process_run(folder: Path, output: Path) -> dict:
    from modelmemo.batch.pipeline import run_batch

    run_batch(folder, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES, renderer=FAKE_PDF, deliver=False)
    return _latest_memo(output)[0]


@pytest.mark.parametrize("behaviour, cause", [("storm", "rate limited (HTTP 429) on all 3 attempts"),
                                              ("slow", "no answer within 0.5 s"),
                                              ("broken", "malformed response: not JSON")])
def test_a_failed_candidate_ends_in_one_clear_line_and_is_no_evidence(tmp_path: Path, behaviour, cause):
    folder, output = _drop(tmp_path), tmp_path / "out"
    assert _in_process_run(folder, output)["recommended"][0]["model"] == "gemini"
    with PilotServer(_answers(folder), {GEMINI: "good", CHATGPT: behaviour, CLAUDE: "good"}, slow_seconds=2) as server:
        env = _env(folder, output, server, MODELMEMO_PILOT_TIMEOUT_SECONDS="0.5", MODELMEMO_PILOT_CONCURRENCY="1")
        result = modelmemo("pilot", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and failed[0].startswith(f"failed: chatgpt/azure-foundry as {CHATGPT} at 127.0.0.1")
    assert cause in failed[0] and "of 30 examples answered; nothing stored for it" in failed[0]
    assert "Traceback" not in result.stdout + result.stderr
    stored = json.loads((output / "state" / "pilot" / "support-chatbot.json").read_text())
    assert sorted(r["model"] for r in stored["results"]) == ["claude", "gemini"]
    memo = _in_process_run(folder, output)
    kinds = _pilot_kinds(memo)
    assert "pilot" not in kinds["chatgpt"]  # its answers so far are cached, never evidence
    assert "pilot" in kinds["gemini"] and "pilot" in kinds["claude"]
    assert "chatgpt" not in memo["pilot"]["models"]
