"""Pilot results as quality evidence (README "Methodology", 3; decision/pilot.py): a piloted model's
reading replaces its public score for the task, normalised within the pilot's metric with its
bootstrap interval; an unpiloted model keeps its public score unshifted (a wider upper end); the memo
says what was measured; the batch owns the pilot file, loads the results as data and decides a
project again when its pilot file or results change. Without Prefect, with the fake renderer."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from modelmemo.batch.layout import state_dir
from modelmemo.batch.pipeline import plan_batch, run_batch
from modelmemo.decision import decide
from modelmemo.decision.pilot import PilotEvidence, PilotReading
from modelmemo.decision.policy import policy
from modelmemo.decision.quality import QualityContext
from modelmemo.inputs.loading import load_document
from modelmemo.inputs.requirements import Requirements
from modelmemo.memo.document import RunContext, make_memo
from modelmemo.pilot.results import Metric, PilotResult, store_results

from .conftest import CATALOG, ROOT, TEMPLATES
from .support_renderer import FAKE_PDF

EXAMPLE = ROOT / "examples" / "pilot"
# The shipped support-chatbot memo: Gemini via Vertex AI, challengers ChatGPT via Azure and Claude via Bedrock.
PICK, CHATGPT, CLAUDE = ("gemini", "vertex-ai"), ("chatgpt", "azure-foundry"), ("claude", "amazon-bedrock")
SHA = "ab" * 32


@pytest.fixture(scope="module")
def req() -> Requirements:
    return Requirements.from_data(load_document(EXAMPLE / "support-chatbot.yaml").data)


def reading(offer: tuple[str, str], task: str, value: float, half: float = 3.0, *, metric: str = "chrf", n: int = 20,
            scale_min: float = 0.0, top: float = 100.0) -> PilotReading:
    return PilotReading(offer[0], offer[1], task, metric, value, max(scale_min, value - half), min(top, value + half), n,
                        scale_min, "2026-11-29T10:00:00Z", "http://127.0.0.1:4000/v1", f"called/{offer[0]}",
                        "support-pilot.jsonl")


def evidence(*readings: PilotReading) -> PilotEvidence:
    return PilotEvidence("support-pilot.jsonl", SHA, 30, readings, "state/pilot/support-chatbot.json")


def both_tasks(offer: tuple[str, str], chrf: float, rouge: float) -> list[PilotReading]:
    return [reading(offer, "chat", chrf), reading(offer, "summarization", rouge, 0.03, metric="rouge_l_f", n=10, top=1)]


def leads_case() -> PilotEvidence:
    """The refused memo's pilot: two piloted models terrible, Claude identical to every reference."""
    return evidence(*both_tasks(PICK, 5.0, 0.05), *both_tasks(CHATGPT, 8.0, 0.08), reading(CLAUDE, "chat", 100.0, 0.0),
                    reading(CLAUDE, "summarization", 1.0, 0.0, metric="rouge_l_f", n=10, top=1))


def challenger_wins() -> PilotEvidence:
    return evidence(*both_tasks(PICK, 12.0, 0.12), *both_tasks(CHATGPT, 14.0, 0.14), *both_tasks(CLAUDE, 97.0, 0.95))


def test_a_pilot_that_says_the_challenger_is_better_changes_the_pick(req, catalog):
    before = decide(req, catalog)
    assert (before.recommended, before.challengers) == ("gemini", ("chatgpt", "claude"))
    after = decide(req, catalog, challenger_wins())
    assert after.recommended == "claude" and "gemini" in after.challengers
    kinds = {(c.model_id, c.deployment_id): {q.task: q.kind for q in c.evidence} for c in after.candidates}
    assert kinds[CLAUDE] == kinds[PICK] == {"chat": "pilot", "summarization": "pilot"}
    # quality is the model's: Claude's other offer takes the reading of the one piloted
    assert kinds[("claude", "anthropic-api")] == {"chat": "pilot", "summarization": "pilot"}
    said = after.pilot_said
    assert said.startswith("Quality measured on your 30 examples (20 chat and 10 summarization examples; "
                           "support-pilot.jsonl, 2026-11-29, via http://127.0.0.1:4000/v1): Claude Sonnet 5.5 chrF 97 "
                           "(95% interval 94–100) on chat, ROUGE-L F 95 (95% interval 92–98) on summarization; ")
    # every piloted model's reading, a challenger now or not (ChatGPT is no longer one), each number by its metric
    assert "ChatGPT" not in [after.scores[m].model.name for m in after.challengers]
    assert "; ChatGPT (GPT-6.2 Sol) chrF 14 (95% interval 11–17) on chat, ROUGE-L F 14 (95% interval 11–17)" in said
    assert "Gemini 3.8 Flash chrF 12 (95% interval 9–15) on chat" in said
    numbers = re.findall(r"(\S+) [\d.]+ \(95% interval", said)
    assert len(numbers) == 6 and set(numbers) == {"chrF", "F"} and "ROUGE-L F 0." not in said
    assert "(chrF and ROUGE-L F on a 0–100 scale)." in said
    # piloted through a (local) gateway, recommended on Amazon Bedrock: one line says so
    assert said.endswith(" Piloted via a local endpoint, not Amazon Web Services (Amazon Bedrock), the route "
                         "recommended: latency, errors and cost there are unmeasured.")


def test_a_pilot_is_on_the_recommended_route_only_when_it_called_that_offer_directly():
    from dataclasses import replace

    from modelmemo.decision.pilot import on_route

    direct = replace(reading(("claude", "anthropic-api"), "chat", 90.0), endpoint="https://api.anthropic.com/v1",
                     via="provider")
    assert on_route(direct, "anthropic-api", False)
    assert not on_route(direct, "amazon-bedrock", False)  # another offer of the same model
    assert not on_route(replace(direct, via="gateway"), "anthropic-api", False)
    assert not on_route(replace(direct, endpoint="http://localhost:8080/v1"), "anthropic-api", False)
    served = replace(direct, deployment="self-hosted", endpoint="http://127.0.0.1:8000/v1", via="self-hosted")
    assert on_route(served, "self-hosted", True) and not on_route(served, "self-hosted", False)


def test_without_pilot_results_the_decision_is_the_public_one(req, catalog):
    from modelmemo.decision.fingerprint import decision_fingerprint

    plain, empty = decide(req, catalog), decide(req, catalog, evidence())
    assert decision_fingerprint(plain) == decision_fingerprint(empty) and plain.pilot_said == empty.pilot_said == ""


def test_a_piloted_score_is_normalised_within_the_pilots_metric_with_its_bootstrap_interval(req, catalog):
    quality = QualityContext(catalog, None, challenger_wins())
    gemini = quality.task_quality(catalog.models["gemini"], "chat", "vertex-ai")
    top = 100.0  # Claude's upper end, 97 + 3: the top of the pilot's scale
    assert (gemini.kind, gemini.value, gemini.scale) == ("pilot", 12.0, "chrf")
    assert gemini.score == round(100 * 12 / top, 1)
    # its bootstrap interval (9-15) is narrower than 20 examples allow: widened to the minimum
    half = policy("PILOT_CONFIDENCE_Z") * policy("PILOT_EXAMPLE_SD") / math.sqrt(20)
    assert (gemini.low, gemini.high) == pytest.approx((12 - half, 12 + half)) and half == pytest.approx(8.77, abs=0.01)
    wide = QualityContext(catalog, None, evidence(reading(PICK, "chat", 50.0, 20.0), reading(CLAUDE, "chat", 97.0)))
    assert (lambda q: (q.low, q.high))(wide.task_quality(catalog.models["gemini"], "chat")) == (30.0, 70.0)  # wider: kept
    # a judge's 1-5 rating starts at 1: a 1 is the bottom of the scale, not a fifth of the top
    judged = evidence(reading(PICK, "chat", 1.0, 0.0, metric="judge_score", scale_min=1, top=5),
                      reading(CLAUDE, "chat", 4.0, 0.5, metric="judge_score", scale_min=1, top=5),
                      reading(CLAUDE, "chat", 90.0))  # chrF too: the judge's rating is the metric that counts
    context = QualityContext(catalog, None, judged)
    assert context.task_quality(catalog.models["gemini"], "chat").score == 0.0
    assert context.task_quality(catalog.models["claude"], "chat").score == round(100 * 3 / 3.5, 1)


def test_a_pilot_of_other_models_never_lowers_an_unpiloted_models_score_or_its_lower_end(req, catalog):
    """An unpiloted model keeps its public score unshifted: point and lower end as with no pilot at
    all; only the upper end rises, by PILOT_UNPILOTED_HALF_WIDTH (a benchmark is not your examples)."""
    pilot = challenger_wins()
    eligible = set(decide(req, catalog).scores)
    context, public = QualityContext(catalog, eligible, pilot), QualityContext(catalog, eligible)
    checked = 0
    for model_id in sorted(eligible - {"gemini", "chatgpt", "claude"}):
        for task in ("chat", "summarization"):
            before, after = (c.task_quality(catalog.models[model_id], task) for c in (public, context))
            assert (after.kind, after.score, after.low) == (before.kind, before.score, before.low), model_id
            if before.kind == "unknown":  # no evidence: unknown as before, nothing to widen
                assert after == before and not after.unpiloted
                continue
            checked += 1
            assert after.unpiloted and after.high == min(100.0, before.high + policy("PILOT_UNPILOTED_HALF_WIDTH"))
    assert checked, "the catalog has no measured unpiloted model to check"


def test_the_leads_case_two_piloted_models_failing_never_drag_an_unpiloted_one_below_an_unmeasured_one(req, catalog):
    """The refused memo: three piloted models, two of them terrible (chrF 5 and 8, ROUGE-L 0.05 and
    0.08), one perfect. The old rule shifted every unpiloted model by the piloted models' mean move
    (about -60 here), so Cohere Command R, with public evidence, fell to quality 0, below models with
    no evidence at all (40). Now it keeps its public score, and stays above an unmeasured model."""
    terrible = leads_case()
    plain, piloted = decide(req, catalog), decide(req, catalog, terrible)
    unmeasured = "mistral-large"  # eligible, no public chat or summarization score: the 40 prior
    for task in ("chat", "summarization"):
        before = next(q for q in plain.scores["cohere"].evidence if q.task == task)
        after = next(q for q in piloted.scores["cohere"].evidence if q.task == task)
        prior = next(q for q in piloted.scores[unmeasured].evidence if q.task == task)
        assert before.kind == after.kind == "measured" and prior.kind == "unknown"
        assert (after.score, after.low) == (before.score, before.low) and after.high >= before.high
        assert prior.score == policy("UNMEASURED_QUALITY") < after.score, (task, after.score)
    # its total rests on its own evidence: the other models' pilot results move it not at all
    assert piloted.scores["cohere"].total == pytest.approx(plain.scores["cohere"].total, abs=0.05)
    row = next(e for r in make_memo(req, catalog, RunContext("r", "2026-11-30T02:00:00+00:00", "f.yaml", SHA,
                                                             pilot=terrible))[0]["ranking"]
               if r["model"] == "cohere" for e in r["evidence"] if e["task"] == "chat")
    assert row["not_piloted"] is True and row["score"] == after.score


def test_a_perfect_zero_width_pilot_is_no_certainty_and_page_1_asks_to_check_it(req, catalog):
    """chrF 100 (interval 100-100) on 20 examples and ROUGE-L F 1 (1-1) on 10: every answer identical
    to its reference. The decision widens it to what 20 and 10 examples allow; page 1 raises a
    caution, names the pilot's size as a risk, and the next step is to check the pilot."""
    from modelmemo.memo.digest import decision_digest

    memo, decision = make_memo(req, catalog, RunContext("r", "2026-11-30T02:00:00+00:00", "f.yaml", SHA, pilot=leads_case()))
    claude = {q.task: q for q in decision.scores["claude"].evidence}
    for task, n in (("chat", 20), ("summarization", 10)):
        half = policy("PILOT_CONFIDENCE_Z") * policy("PILOT_EXAMPLE_SD") / math.sqrt(n)
        assert claude[task].score == 100.0 and claude[task].low == pytest.approx(100 - half) and half > 8
    assert decision.scores["claude"].interval[0] < decision.scores["claude"].total  # no longer certain
    assert memo["pilot"]["identical"] == [
        {"model": "claude", "deployment": "amazon-bedrock", "task": "chat", "metric": "chrf", "n": 20},
        {"model": "claude", "deployment": "amazon-bedrock", "task": "summarization", "metric": "rouge_l_f", "n": 10}]
    page1 = decision_digest(memo)
    # the pick's own pilot: blocking (the headline asks for the check before the choice)
    check = [f for f in page1["blocking"] if f["key"] == "pilot-identical"]
    assert page1["headline"].startswith("Check the pilot before choosing Claude Sonnet 5.5")
    assert len(check) == 1 and check[0]["detail"].startswith(
        "Claude Sonnet 5.5's answers are identical to the references on all 20 chat and 10 summarization examples: "
        "references leaked into the prompt, or an echoing endpoint?")
    assert [r["key"] for r in memo["risks"] if r["key"].startswith("pilot-")] == ["pilot-sample", "pilot-route"]
    assert any(r.startswith("The pilot rests on 20 chat and 10 summarization examples: a reading on 10 examples is "
                            "uncertain by at least ±12.4 quality points") for r in page1["top_risks"])
    assert page1["next_step"].startswith("Check the pilot before acting on it: Claude Sonnet 5.5 answered every example")
    # a pilot that is not perfect raises no such flag, and its memo still names its risks
    memo, _ = make_memo(req, catalog, RunContext("r", "2026-11-30T02:00:00+00:00", "f.yaml", SHA, pilot=challenger_wins()))
    assert memo["pilot"]["identical"] == [] and "pilot-identical" not in {f["key"] for f in decision_digest(memo)["flags"]}
    assert {"pilot-sample", "pilot-route"} <= {r["key"] for r in memo["risks"]} and decision_digest(memo)["top_risks"]


def test_a_reading_on_too_few_examples_is_not_evidence(req, catalog):
    few = evidence(*[reading(offer, "chat", value, n=int(policy("PILOT_MIN_EXAMPLES")) - 1)
                     for offer, value in ((PICK, 10.0), (CLAUDE, 99.0))])
    assert decide(req, catalog, few).recommended == "gemini"
    assert not any(q.pilot for c in decide(req, catalog, few).candidates for q in c.evidence)


def test_the_memo_names_the_pilot_on_page_1_and_in_its_evidence(req, catalog):
    ctx = RunContext("run-1", "2026-11-30T02:00:00+00:00", "support-chatbot.yaml", SHA, pilot=challenger_wins())
    memo, decision = make_memo(req, catalog, ctx)
    jsonschema.validate(memo, json.loads((ROOT / "schemas" / "memo.schema.json").read_text()))
    assert memo["recommended"][0]["model"] == "claude" and memo["pilot"]["examples"] == 30
    claude = next(r for r in memo["ranking"] if (r["model"], r["deployment"]) == CLAUDE)
    chat = next(e for e in claude["evidence"] if e["task"] == "chat")
    assert chat == {"task": "chat", "kind": "pilot", "source": "pilot of support-pilot.jsonl, 2026-11-29",
                    # the bootstrap interval as measured; the score's at least ±8.8 on 20 examples
                    "value": 97.0, "interval": [94.0, 100.0], "score": 97.0, "score_interval": [88.2, 100.0],
                    "metric": "chrf", "n": 20, "measured_at": "2026-11-29T10:00:00Z",
                    "endpoint": "http://127.0.0.1:4000/v1", "called_as": "called/claude",
                    "examples_file": "support-pilot.jsonl"}
    facts = [f for f in memo["facts"] if f["model"] == "claude" and f["fact"] == "quality.chat"]
    assert [(f["source_url"], f["as_of"]) for f in facts] == [("state/pilot/support-chatbot.json", "2026-11-29")]
    summary = next(f for f in memo["facts"] if f["model"] == "claude" and f["fact"] == "quality.summarization")
    assert summary["value"] == "ROUGE-L F 95 (95% interval 92–98) on a 0–100 scale"  # never a bare "0.95"
    from modelmemo.memo.digest import decision_digest

    page1 = decision_digest(memo)
    assert "measured on your 30 examples" in page1["pilot"] and "chrF 97 (95% interval 94–100) on chat" in page1["pilot"]
    assert page1["pilot"] in page1["page1_notes"]  # said on page 1, so the PDF's appendix leaves it out
    assert page1["next_step"].startswith("Go ahead with Claude Sonnet 5.5: your pilot on 30 examples")


def test_without_pilot_data_the_next_step_sizes_the_pilot_and_names_the_command(req, catalog):
    memo, decision = make_memo(req, catalog, RunContext("run-1", "2026-11-30T02:00:00+00:00", "f.yaml", SHA))
    assert memo["pilot"] is None
    size = decision.pilot_size
    # Gemini and ChatGPT are level on total points: sized for the smallest difference worth detecting
    assert size.floored and size.difference == policy("PILOT_DETECTABLE_DIFFERENCE")
    z, sd = policy("PILOT_CONFIDENCE_Z"), policy("PILOT_EXAMPLE_SD")
    assert size.examples == math.ceil(2 * (z * sd / size.difference) ** 2) == 123
    step = memo["next_steps"][0]
    assert "on about 123 real examples per task" in step and "by 5 quality points" in step
    assert "run `modelmemo pilot`" in step


def test_a_large_lead_needs_few_examples_and_a_lead_beyond_quality_says_so(req, catalog):
    from dataclasses import replace

    from modelmemo.decision.separation import pilot_size

    decision = decide(req, catalog)
    pick = decision.scores["gemini"]
    share = 3 / 11 * policy("QUALITY_SHARE")  # the example's weights: requirements 3 of 11
    behind = replace(decision.scores["claude"], total=pick.total - 10 * share)
    size = pilot_size(pick, behind, req.weights)
    assert size.difference == pytest.approx(10, abs=0.5) and not (size.floored or size.beyond)
    decisive = abs(round(pick.total, 1) - round(behind.total, 1)) / share  # the totals as the memo prints them
    assert size.examples == math.ceil(2 * (1.96 * 20 / decisive) ** 2) and 28 <= size.examples <= 35
    further = replace(behind, total=pick.total - 30 * share)  # would need 4: the plan asks for PILOT_MIN_EXAMPLES
    assert pilot_size(pick, further, req.weights).examples == policy("PILOT_MIN_EXAMPLES")
    far = replace(behind, total=pick.total - 101 * share)
    assert pilot_size(pick, far, req.weights).beyond
    assert pilot_size(pick, far, {**req.weights, "requirements": 0}) is None


# --- the batch: the pilot file belongs to its requirement file; new results re-decide -----------------


def _drop(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in EXAMPLE.iterdir():
        shutil.copy(path, folder / path.name)
    return folder


def _store(output: Path, folder: Path, winner: str = "claude") -> None:
    import hashlib

    sha = hashlib.sha256((folder / "support-pilot.jsonl").read_bytes()).hexdigest()
    results = []
    for model, deployment in (PICK, CHATGPT, CLAUDE):
        chrf = 97.0 if model == winner else 12.0
        metrics = (Metric("chat", "chrf", chrf, chrf - 3, chrf + 3, 20, 0, 100, "higher"),
                   Metric("summarization", "rouge_l_f", chrf / 100, chrf / 100 - 0.03, chrf / 100 + 0.03, 10, 0, 1,
                          "higher"),
                   Metric("summarization", "length_ratio", 1.0, 0.9, 1.1, 10, None, None, "closer-to-1"))
        results.append(PilotResult("2026-11-29T10:00:00Z", model, deployment, "cloud", "x", "challenger",
                                   "http://127.0.0.1:4000/v1", "gateway", f"called/{model}", "support-pilot.jsonl", sha,
                                   30, metrics, 0.1, 0.2, 0.001, "catalog"))
    store_results(state_dir(output), "support-chatbot", "support-pilot.jsonl", sha, results)


def _memo(output: Path, summary) -> dict:
    outcome = next(p for p in summary.projects if p.project_id == "support-chatbot")
    return json.loads((output / summary.run_id / outcome.json).read_text())


def run(folder: Path, output: Path):
    return run_batch(folder, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES, renderer=FAKE_PDF,
                     deliver=False)


def test_the_pilot_file_belongs_to_the_requirement_file_that_names_it(tmp_path: Path):
    folder = _drop(tmp_path / "in")
    (folder / "notes.jsonl").write_text("{}\n")  # named by nobody: still reported
    plan = plan_batch(folder)
    assert [n.file for n in plan.notices] == ["notes.jsonl"]
    assert plan.projects[0].pilot_examples == "support-pilot.jsonl"
    # a pilot file in a folder beside it: the folder is the requirement file's too
    (folder / "pilot").mkdir()
    (folder / "support-pilot.jsonl").rename(folder / "pilot" / "support-pilot.jsonl")
    text = (folder / "support-chatbot.yaml").read_text().replace("examples: support-pilot.jsonl",
                                                                 "examples: pilot/support-pilot.jsonl")
    (folder / "support-chatbot.yaml").write_text(text)
    assert [n.file for n in plan_batch(folder).notices] == ["notes.jsonl"]
    # without a pilot section the file is nobody's
    (folder / "support-chatbot.yaml").write_text(text.split("\npilot:")[0] + "\n")
    assert sorted(n.file for n in plan_batch(folder).notices) == ["notes.jsonl", "pilot"]


def test_a_run_decides_with_the_stored_results_and_again_when_they_or_the_examples_change(tmp_path: Path):
    folder, output = _drop(tmp_path / "in"), tmp_path / "out"
    first = run(folder, output)
    assert _memo(output, first)["recommended"][0]["model"] == "gemini" and first.notices == []
    assert [p.status for p in run(folder, output).projects] == ["skipped"]  # nothing changed
    _store(output, folder)  # `modelmemo pilot` stored results: the next run decides again with them
    piloted = run(folder, output)
    memo = _memo(output, piloted)
    assert [p.status for p in piloted.projects] == ["memo"] and memo["recommended"][0]["model"] == "claude"
    assert "measured on your 30 examples" in memo["pilot"]["sentence"]
    again = run(folder, output)  # the same results: skipped, planned from the state without parsing
    assert [p.status for p in again.projects] == ["skipped"]
    state = json.loads((output / "state" / "memos.json").read_text())["support-chatbot"]
    assert state["pilot_examples"] == "support-pilot.jsonl" and state["pilot_sha256"]
    with (folder / "support-pilot.jsonl").open("a") as examples:  # one example more: the results no longer apply
        examples.write(json.dumps({"task": "chat", "input": "Where is my invoice?", "reference": "Under Billing."}) + "\n")
    changed = run(folder, output)
    memo = _memo(output, changed)
    assert [p.status for p in changed.projects] == ["memo"] and memo["pilot"] is None
    assert memo["recommended"][0]["model"] == "gemini"
    assert not any(e["kind"] == "pilot" for r in memo["ranking"] for e in r["evidence"])


def test_an_unreadable_results_file_is_a_note_and_the_memo_rests_on_public_evidence(tmp_path: Path):
    folder, output = _drop(tmp_path / "in"), tmp_path / "out"
    (state_dir(output) / "pilot").mkdir(parents=True)
    (state_dir(output) / "pilot" / "support-chatbot.json").write_text("{not json")
    summary = run(folder, output)
    assert _memo(output, summary)["pilot"] is None
    assert [(n.file, n.note.split(":")[0]) for n in summary.notes] == [("support-chatbot.yaml", "pilot results not used")]


def test_pilot_without_files_takes_exactly_the_files_a_run_reads(tmp_path: Path):
    import os

    from modelmemo.pilot.plan import requirement_files

    folder = _drop(tmp_path / "in")
    (folder / "draft.yaml.part").write_text("x")
    os.symlink(folder / "support-chatbot.yaml", folder / "link.yaml")
    (folder / "sub").mkdir()
    assert requirement_files(folder) == [folder / "support-chatbot.yaml"]
    entries = plan_batch(folder).projects
    assert [Path(p.path) for p in entries] == requirement_files(folder)
