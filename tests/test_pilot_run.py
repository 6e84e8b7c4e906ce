"""A whole pilot (`run_pilot`, the function the command and the flow call) against the local
OpenAI-compatible server: results and their provenance, the cache, concurrency, failures that store
nothing, the budget, and keys that appear nowhere."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from modelmemo.batch.layout import state_dir
from modelmemo.pilot.candidates import parse_candidate_list
from modelmemo.pilot.plan import PilotOptions
from modelmemo.pilot.results import RESULTS_SCHEMA, PilotResultsError, load_pilot_results
from modelmemo.pilot.run import run_pilot
from modelmemo.settings import Settings

from .pilot_helpers import (HAIKU, KEY, OPUS, PICK, all_text_under, answers_for, chat_examples, pilot_env,
                            write_memo, write_project)
from .pilot_server import PilotServer


def _pilot(tmp_path: Path, catalog, server: PilotServer, requirement: Path, *, env: dict | None = None, **options):
    lines: list[str] = []
    settings = Settings.from_env(pilot_env(server.url, **(env or {})))
    report = run_pilot([requirement], catalog, settings, PilotOptions(tmp_path / "out", **options), {}, lines.append)
    return report, lines


def _stored(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "state" / "pilot" / "pilot-project.json").read_text())


def test_the_pick_and_challengers_are_measured_with_their_provenance(tmp_path: Path, catalog):
    examples = chat_examples(8)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK], [HAIKU])
    with PilotServer(answers_for(examples), {PICK[2]: "good", HAIKU[2]: "bad"}) as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement)
    assert report.ok and server.calls == {PICK[2]: 8, HAIKU[2]: 8}
    stored = _stored(tmp_path)
    jsonschema.validate(stored, json.loads(RESULTS_SCHEMA.read_text()))
    good, bad = stored["results"]
    assert (good["model"], good["deployment"], good["role"], good["called_as"]) == ("claude", "anthropic-api", "pick",
                                                                                    PICK[2])
    assert good["endpoint"] == server.url and good["via"] == "gateway" and good["route"] == "first-party"
    assert good["examples_sha256"] == report.projects[0].examples.sha256 and good["n"] == 8
    chrf_good, chrf_bad = good["metrics"][0], bad["metrics"][0]
    assert (chrf_good["task"], chrf_good["metric"], chrf_good["value"]) == ("chat", "chrf", 100.0)
    assert chrf_bad["ci_low"] <= chrf_bad["value"] <= chrf_bad["ci_high"] < 30 and bad["role"] == "challenger"
    assert good["latency_p50_s"] <= good["latency_p95_s"]
    assert good["cost_source"] == "genai-prices" and good["cost_per_request_usd"] > 0
    assert any(line.startswith("measured: claude/anthropic-api") for line in lines)


def test_a_rerun_makes_no_call_and_a_changed_file_invalidates_the_results(tmp_path: Path, catalog):
    examples = chat_examples(5)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK])
    with PilotServer(answers_for(examples), {PICK[2]: "good"}) as server:
        first, _ = _pilot(tmp_path, catalog, server, requirement)
        calls = server.total_calls
        again, lines = _pilot(tmp_path, catalog, server, requirement)
        assert server.total_calls == calls == 5  # the second run answered from the cache
        assert "0 call(s) to make, 5 cached" in "\n".join(lines)
        old_sha = first.projects[0].examples.sha256
        assert [r.model for r in load_pilot_results(state_dir(tmp_path / "out"), "pilot-project", old_sha)] == ["claude"]
        write_project(tmp_path / "in", examples + chat_examples(7)[5:])  # two examples more
        changed, _ = _pilot(tmp_path, catalog, server, requirement)
        assert server.total_calls == 7  # only the new examples were sent
    new_sha = changed.projects[0].examples.sha256
    assert new_sha != old_sha
    assert load_pilot_results(state_dir(tmp_path / "out"), "pilot-project", old_sha) == []
    assert [r.n for r in load_pilot_results(state_dir(tmp_path / "out"), "pilot-project", new_sha)] == [7]


def test_requests_in_flight_never_exceed_the_limit_per_provider(tmp_path: Path, catalog):
    examples = chat_examples(24)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK], [HAIKU, OPUS])  # three offers of one provider
    with PilotServer(answers_for(examples), {PICK[2]: "good", HAIKU[2]: "good", OPUS[2]: "good"},
                     delay=0.05) as server:
        report, _ = _pilot(tmp_path, catalog, server, requirement, env={"MODELMEMO_PILOT_CONCURRENCY": "3"})
    assert report.ok and server.total_calls == 72
    assert 1 < server.max_in_flight <= 3


@pytest.mark.parametrize("behaviour, cause", [("storm", "rate limited (HTTP 429) on all 3 attempts"),
                                              ("broken", "malformed response: not JSON"),
                                              ("slow", "no answer within 0.5 s")])
def test_a_failed_candidate_stores_nothing_and_says_why(tmp_path: Path, catalog, behaviour, cause):
    examples = chat_examples(4)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK], [HAIKU])
    with PilotServer(answers_for(examples), {PICK[2]: "good", HAIKU[2]: behaviour}, slow_seconds=2) as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement,
                               env={"MODELMEMO_PILOT_TIMEOUT_SECONDS": "0.5", "MODELMEMO_PILOT_CONCURRENCY": "1"})
    assert not report.ok
    failed = [line for line in lines if line.startswith("failed: ")]
    assert len(failed) == 1
    assert failed[0].startswith(f"failed: claude-haiku/anthropic-api as {HAIKU[2]} at 127.0.0.1")
    assert cause in failed[0] and "nothing stored for it" in failed[0] and "of 4 examples answered" in failed[0]
    assert "(line 1" in failed[0]  # which example failed
    assert [r["model"] for r in _stored(tmp_path)["results"]] == ["claude"]  # the good one only
    assert server.calls[HAIKU[2]] <= 3  # its other examples were not sent after the failure


def test_requests_refused_or_rate_limited_cost_nothing(tmp_path: Path, catalog):
    """A 429 storm is not billed: the spend stays 0 (it once counted every failed call's estimate)."""
    examples = chat_examples(4)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK])
    with PilotServer(answers_for(examples), {PICK[2]: "storm"}) as server:
        report, _ = _pilot(tmp_path, catalog, server, requirement, env={"MODELMEMO_PILOT_CONCURRENCY": "1"})
    assert not report.ok and server.total_calls >= 1 and report.spent_usd == 0.0


def test_dry_run_estimates_and_calls_nothing(tmp_path: Path, catalog):
    examples = chat_examples(10)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK], [HAIKU])
    with PilotServer(answers_for(examples)) as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement, dry_run=True)
    assert report.ok and server.total_calls == 0
    assert report.estimate_usd > 0 and lines[-1].startswith("dry run: 20 call(s) to make, ~$")
    assert not (tmp_path / "out" / "state" / "pilot").exists()


def test_max_usd_refuses_an_estimate_over_it_before_any_call(tmp_path: Path, catalog):
    examples = chat_examples(10)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK])
    with PilotServer(answers_for(examples)) as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement, max_usd=0.000001)
    assert not report.ok and server.total_calls == 0 and "is over --max-usd" in report.refused
    assert lines[-1].startswith("stopped: the estimate")


def test_max_usd_stops_when_the_measured_spend_would_pass_it(tmp_path: Path, catalog):
    examples = chat_examples(10)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK])
    with PilotServer(answers_for(examples), {PICK[2]: "pricey"}) as server:  # 200k prompt tokens per answer
        report, lines = _pilot(tmp_path, catalog, server, requirement, max_usd=1.5,
                               env={"MODELMEMO_PILOT_CONCURRENCY": "1"})
    # Each answer costs ~$0.40 (200k tokens of claude-sonnet-5-5 at genai-prices' price), far over its
    # estimate: after the first, each call reserves what answers have cost, so the fourth is not sent.
    assert not report.ok and server.total_calls == 3 and 1.0 < report.spent_usd <= 1.5
    stopped = [line for line in lines if line.startswith("stopped: ")]
    assert len(stopped) == 1 and "--max-usd 1.5" in stopped[0] and "3 of 10 examples answered" in stopped[0]
    assert not (tmp_path / "out" / "state" / "pilot" / "pilot-project.json").exists()


def test_the_key_appears_nowhere_but_in_the_authorization_header(tmp_path: Path, catalog, capsys, monkeypatch):
    from modelmemo.cli.main import main

    examples = chat_examples(3)
    requirement = write_project(tmp_path / "in", examples)
    write_memo(tmp_path / "out", [PICK], [HAIKU])
    with PilotServer(answers_for(examples), {PICK[2]: "good"}) as server:
        def respond(path, body, original=server.respond):  # the challenger is refused with the key echoed back
            if body["model"] == HAIKU[2]:
                return 401, {}, json.dumps({"error": {"message": f"bad key {KEY}", "type": KEY}}).encode()
            return original(path, body)

        server.respond = respond
        for name, value in pilot_env(server.url).items():
            monkeypatch.setenv(name, value)
        code = main(["pilot", str(requirement), "--output", str(tmp_path / "out")])
        json_code = main(["pilot", str(requirement), "--output", str(tmp_path / "out"), "--json"])
    out, err = capsys.readouterr()
    assert code == json_code == 1 and "HTTP 401: check the key" in out and json.loads(out[out.index("\n{") + 1:])
    assert set(server.authorizations) == {f"Bearer {KEY}"}  # the key was used ...
    assert KEY not in out + err and KEY not in all_text_under(tmp_path)  # ... and is nowhere else


def test_candidates_named_instead_of_the_memo_and_a_self_hosted_one(tmp_path: Path, catalog):
    examples = chat_examples(3)
    requirement = write_project(tmp_path / "in", examples)  # no memo at all
    with PilotServer(answers_for(examples), {"gpt-oss-120b": "good"}) as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement,
                               env={"MODELMEMO_PILOT_SELF_HOSTED_URL": server.url},
                               candidates=parse_candidate_list("claude=good,gpt-oss-120b/self-hosted-1x-h100"))
    assert report.ok and server.calls == {"good": 3, "gpt-oss-120b": 3}
    hosted, own = _stored(tmp_path)["results"]
    assert hosted["role"] == own["role"] == "named" and hosted["called_as"] == "good"
    assert own["via"] == "self-hosted" and own["cost_per_request_usd"] is None and own["cost_source"] == "unknown"


def test_without_a_memo_or_candidates_the_project_says_what_to_do(tmp_path: Path, catalog):
    requirement = write_project(tmp_path / "in", chat_examples(2))
    with PilotServer() as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement)
    assert not report.ok and server.total_calls == 0
    assert "no memo for pilot-project" in lines[0] and "modelmemo run" in lines[0] and "--candidates" in lines[0]


def test_a_judge_rates_rubric_examples_and_is_named(tmp_path: Path, catalog):
    examples = [{"task": "chat", "input": "Say sorry for the outage", "rubric": "Apologises and gives a time."},
                {"task": "chat", "input": "Greet the customer", "rubric": "Friendly."}]
    requirement = write_project(tmp_path / "in", examples, pilot={"examples": "examples.jsonl",
                                                                   "judge": "claude-opus=judge"})
    write_memo(tmp_path / "out", [PICK])
    with PilotServer(behaviours={PICK[2]: "bad"}) as server:
        report, _ = _pilot(tmp_path, catalog, server, requirement)
    assert report.ok and server.calls == {PICK[2]: 2, "judge": 2}
    (metric,) = _stored(tmp_path)["results"][0]["metrics"]
    assert (metric["metric"], metric["value"], metric["judge"]) == ("judge_score", 4.0, "claude-opus/anthropic-api=judge")


def test_classification_translation_summarization_and_embeddings(tmp_path: Path, catalog):
    examples = [{"task": "classification", "input": f"ticket {i}", "reference": label}
                for i, label in enumerate(["billing", "tech", "billing", "other"])]
    examples += [{"task": "translation", "input": "Good morning", "reference": "Guten Morgen", "target_language": "de"},
                 {"task": "summarization", "input": "A long thread about a refund.", "reference": "Refund issued."}]
    examples += [{"task": "embeddings", "input": f"query {i}", "reference": f"passage {i}"} for i in range(12)]
    pairs = {text: i for i in range(12) for text in (f"query {i}", f"passage {i}")}
    requirement = write_project(tmp_path / "in", examples)
    gpt, gemini = ("chatgpt", "openai-api", "openai/gpt-6.2-sol"), ("gemini", "gemini-developer-api",
                                                                      "google/gemini-3.8-flash")
    write_memo(tmp_path / "out", [gpt], [gemini, HAIKU])  # Claude Haiku does no embeddings (catalog)
    with PilotServer(answers_for(examples), {gpt[2]: "good", gemini[2]: "bad", HAIKU[2]: "good"}, pairs=pairs) as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement)
    assert report.ok and server.calls[HAIKU[2]] == 6 and server.calls[gpt[2]] == 18
    results = _stored(tmp_path)["results"]
    good, bad, haiku = ({(m["task"], m["metric"]): m for m in r["metrics"]} for r in results)
    assert results[2]["n"] == 6 and not any(task == "embeddings" for task, _ in haiku)
    assert "not run on embeddings: the catalog does not list Claude Haiku" in results[2]["notes"][0]
    assert good[("classification", "exact_match")]["value"] == good[("classification", "macro_f1")]["value"] == 1.0
    assert good[("translation", "chrf")]["value"] == 100.0 and good[("summarization", "rouge_l_f")]["value"] == 1.0
    assert good[("summarization", "length_ratio")]["better"] == "closer-to-1"
    assert good[("embeddings", "recall@10")]["value"] == 1.0 > bad[("embeddings", "recall@10")]["value"]
    assert bad[("classification", "exact_match")]["value"] == 0.0


def test_a_broken_results_file_is_an_error_not_a_guess(tmp_path: Path):
    folder = tmp_path / "state" / "pilot"
    folder.mkdir(parents=True)
    (folder / "p.json").write_text('{"format": 1, "project_id": "p"}')
    with pytest.raises(PilotResultsError, match="results"):
        load_pilot_results(tmp_path / "state", "p", "0" * 64)
    assert load_pilot_results(tmp_path / "state", "other", "0" * 64) == []


def test_a_per_task_pick_runs_only_its_task(tmp_path: Path, catalog):
    examples = chat_examples(2) + [{"task": "summarization", "input": "A thread.", "reference": "A summary."}]
    requirement = write_project(tmp_path / "in", examples)
    memo = write_memo(tmp_path / "out", [PICK, HAIKU])
    data = json.loads(memo.read_text())
    data["recommended"][0]["task"], data["recommended"][1]["task"] = "chat", "summarization"  # a combination
    memo.write_text(json.dumps(data))
    with PilotServer(answers_for(examples), {PICK[2]: "good", HAIKU[2]: "good"}) as server:
        report, lines = _pilot(tmp_path, catalog, server, requirement)
    assert report.ok and server.calls == {PICK[2]: 2, HAIKU[2]: 1}
    chat, summary = _stored(tmp_path)["results"]
    assert [m["task"] for m in chat["metrics"]] == ["chat"] and chat["n"] == 2
    assert summary["n"] == 1 and "the memo picks it for summarization only" in summary["notes"][0]


def test_without_files_the_drop_folders_pilot_files_are_piloted(tmp_path: Path, catalog, capsys, monkeypatch):
    import shutil

    from modelmemo.cli.main import main

    from .conftest import example_inputs

    examples = chat_examples(2)
    drop = tmp_path / "in"
    write_project(drop, examples)
    shutil.copy(example_inputs()[0], drop)  # a shipped example: no pilot section, so not piloted
    write_memo(tmp_path / "out", [PICK])
    with PilotServer(answers_for(examples), {PICK[2]: "good"}) as server:
        for name, value in pilot_env(server.url, MODELMEMO_INPUT_DIR=str(drop)).items():
            monkeypatch.setenv(name, value)
        code = main(["pilot", "--output", str(tmp_path / "out"), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == document["exit_code"] == 0 and server.total_calls == 2
    assert [p["project_id"] for p in document["projects"]] == ["pilot-project"]
    assert document["projects"][0]["candidates"][0]["status"] == "measured"
    assert document["projects"][0]["results"].endswith("state/pilot/pilot-project.json")
    monkeypatch.setenv("MODELMEMO_PILOT_CONCURRENCY", "0")
    assert main(["pilot", "--output", str(tmp_path / "out")]) == 2  # a bad setting: could not start
    assert "MODELMEMO_PILOT_CONCURRENCY must be a whole number from 1 to 64" in capsys.readouterr().err
