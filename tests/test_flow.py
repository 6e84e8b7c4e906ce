"""The whole batch through Prefect against a real (temporary) Prefect API."""

from __future__ import annotations

import json

import pytest

from .conftest import copy_examples
from .helpers import pdf_info, pdf_text, requirements, write_yaml


@pytest.fixture(scope="module")
def batch_run(prefect_api, tmp_path_factory):
    """One flow run over every shipped example plus two broken files and a stray file."""
    from flows.batch import memo_batch

    root = tmp_path_factory.mktemp("flow")
    inputs = root / "inputs"
    inputs.mkdir()
    copy_examples(inputs)
    (inputs / "broken.yaml").write_text("schema_version: 1\nproject: [unclosed\n")
    write_yaml(inputs / "bad-email.yaml", requirements(**{"project.owner.email": "nobody"}))
    (inputs / "notes.txt").write_text("not an input")
    state = memo_batch(input_dir=str(inputs), output_dir=str(root / "output"), run_id="test-run",
                       workers=2, return_state=True)
    return state, root / "output" / "test-run", inputs


def test_flow_completes_and_reports_every_file(batch_run):
    state, run_dir, inputs = batch_run
    assert state.is_completed(), state.message
    summary = json.loads((run_dir / "summary.json").read_text())
    examples = [p for p in inputs.iterdir() if p.suffix in (".yaml", ".json")]
    assert summary["counts"]["memos"] == len(examples) - 2
    assert sorted(r["file"] for r in summary["rejected"]) == ["bad-email.yaml", "broken.yaml"]
    assert [n["file"] for n in summary["not_processed"]] == ["notes.txt"]
    bad = next(r for r in summary["rejected"] if r["file"] == "bad-email.yaml")
    assert bad["problems"][0]["path"] == "project.owner.email" and bad["problems"][0]["line"]


def test_pdf_memos_contain_project_name_and_verdict(batch_run):
    _, run_dir, _ = batch_run
    summary = json.loads((run_dir / "summary.json").read_text())
    for project in summary["projects"]:
        assert project["status"] == "memo", project
        memo = json.loads((run_dir / project["json"]).read_text())
        text = " ".join(pdf_text(run_dir / project["pdf"]).split())
        assert memo["project"]["name"] in text
        assert memo["verdict_label"] in text
        assert memo["verdict_label"] in (run_dir / project["html"]).read_text()
        assert memo["project"]["name"] in pdf_info(run_dir / project["pdf"])["Title"]


def test_memo_json_matches_its_schema(batch_run):
    from jsonschema import Draft202012Validator

    from .conftest import ROOT

    _, run_dir, _ = batch_run
    schema = json.loads((ROOT / "schemas" / "memo.schema.json").read_text())
    validator = Draft202012Validator(schema)
    for path in run_dir.glob("*.json"):
        if path.name != "summary.json":
            errors = [e.message for e in validator.iter_errors(json.loads(path.read_text()))]
            assert errors == [], (path.name, errors)


def test_index_lists_projects_and_rejections(batch_run):
    _, run_dir, _ = batch_run
    index = (run_dir / "index.html").read_text()
    assert "broken.yaml" in index and "bad-email.yaml" in index
    assert "support-chatbot.pdf" in index


def test_flow_run_and_artifact_are_recorded_in_prefect(batch_run):
    from prefect.client.orchestration import get_client

    state, _, _ = batch_run

    async def read():
        async with get_client() as client:
            artifact = await client.read_latest_artifacts()
            return [a for a in artifact if a.key == "modelmemo-batch"]

    import asyncio

    artifacts = asyncio.run(read())
    assert artifacts and "rejected" in (artifacts[0].description or "")


def test_long_batches_render_on_fresh_pools_without_losing_or_hanging(prefect_api, tmp_path, monkeypatch):
    """Rendering switches to a fresh process pool every chunk (bounded memory); 3 memos in chunks
    of 2 cross a pool boundary and all arrive, in order of completion, each once."""
    import flows.batch as batch

    monkeypatch.setattr(batch, "MEMOS_PER_WORKER_PER_POOL", 1)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["research-digest", "ticket-triage", "legal-translation"])
    seen = []
    state = batch.memo_batch(input_dir=str(inputs), output_dir=str(tmp_path / "out"), run_id="chunks", workers=2,
                             send_email=False, progress=lambda done, total, o: seen.append((done, total, o.status)),
                             return_state=True)
    assert state.is_completed(), state.message
    assert seen == [(1, 3, "memo"), (2, 3, "memo"), (3, 3, "memo")]
    assert sorted(p.name for p in (tmp_path / "out" / "chunks").glob("*.pdf")) == [
        "legal-translation.pdf", "research-digest.pdf", "ticket-triage.pdf"]
