"""The whole batch through Prefect against a real (temporary) Prefect API."""

from __future__ import annotations

import contextlib
import json
import logging

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
    with _run_logs_at_info():
        state = memo_batch(input_dir=str(inputs), output_dir=str(root / "output"), run_id="test-run",
                           workers=2, return_state=True)
    return state, root / "output" / "test-run", inputs


@contextlib.contextmanager
def _run_logs_at_info():
    """The session logs at WARNING (conftest); the run's INFO lines are what a Prefect user reads."""
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


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


def _flow_run_record(state):
    """The flow run, its logs and artifacts as the Prefect API (and so the UI) has them."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, LogFilter,
                                                LogFilterFlowRunId)

    async def read():
        async with get_client() as client:
            run = await client.read_flow_run(state.state_details.flow_run_id)
            for _ in range(40):  # logs reach the API in batches, a moment after the run ends
                logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200)
                if any(log.message.startswith(f"run {run.name.split()[0]}: ") and "index" in log.message
                       for log in logs):
                    break
                await asyncio.sleep(0.5)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
            return run, [log.message for log in logs], artifacts

    return asyncio.run(read())


def test_flow_run_is_named_by_run_id_and_says_what_needs_attention(batch_run):
    state, run_dir, _ = batch_run
    run, _, _ = _flow_run_record(state)
    assert run.name.split()[0] == "test-run" == run_dir.name
    assert run.state.is_completed() and run.state.name == "Completed with rejected files"
    assert "2 rejected" in run.state.message


def test_flow_run_logs_name_every_project_rejection_and_email(batch_run):
    state, run_dir, _ = batch_run
    _, logs, _ = _flow_run_record(state)
    text = "\n".join(logs)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"run test-run: " in text and str(run_dir) in text
    for project in summary["projects"]:
        assert any(project["project_id"] in line and project["verdict_label"] in line for line in logs), project
    assert any(line.startswith("rejected broken.yaml:") for line in logs)
    assert any(line.startswith("rejected bad-email.yaml:") and "project.owner.email" in line for line in logs)
    assert any("not processed notes.txt" in line for line in logs)
    assert sum("email to " in line and ": accepted" in line for line in logs) == len(summary["deliveries"])


def test_flow_run_has_result_table_progress_and_index_artifacts_keyed_by_output_folder(batch_run):
    from flows.reporting import artifact_key

    state, run_dir, _ = batch_run
    _, _, artifacts = _flow_run_record(state)
    key = artifact_key(run_dir.parent)
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {key, f"{key}-progress", f"{key}-index"}, sorted(by_key)
    assert by_key[key].type == "table" and "rejected" in by_key[key].description
    assert by_key[f"{key}-progress"].type == "progress" and float(by_key[f"{key}-progress"].data) == 100.0
    assert by_key[f"{key}-index"].type == "markdown" and str(run_dir / "index.html") in by_key[f"{key}-index"].data


def test_artifact_keys_differ_per_output_folder_and_are_valid_prefect_keys(tmp_path):
    import re

    from flows.reporting import artifact_key

    first, second = artifact_key(tmp_path / "a" / "output"), artifact_key(tmp_path / "b" / "output")
    assert first != second and first.startswith("modelmemo-output-")
    assert artifact_key(tmp_path / "Nightly Output!") .startswith("modelmemo-nightly-output-")
    for key in (first, second, artifact_key(tmp_path / "ÜBER")):
        assert re.fullmatch(r"[a-z0-9-]+", key), key


def test_deployment_parameters_are_typed_and_described():
    """What the UI's run form shows: no Python callables, an enum for the runner, every field described."""
    from prefect.utilities.callables import parameter_schema

    from flows.batch import memo_batch

    schema = parameter_schema(memo_batch).model_dump_for_openapi()
    properties = schema["properties"]
    assert "progress" not in properties
    assert properties["runner"]["enum"] == ["local", "dask"]
    assert all(p.get("description") for p in properties.values()), properties


def test_email_task_retries_only_transient_failures_in_deployment_runs(monkeypatch):
    """Prefect retries the email task (ledger: each recipient at most once) for transient failures
    in deployment runs; `modelmemo run` reports at once, and nothing else is retried."""
    from types import SimpleNamespace

    import flows.batch as batch

    def state_raising(exc):
        def result():
            raise exc
        return SimpleNamespace(result=result)

    transient = state_raising(batch.TransientDeliveryFailures("1 emails could not be sent yet"))
    # Prefect's documented way to mock runtime values: PREFECT__RUNTIME__<MODULE>__<NAME>
    monkeypatch.delenv("PREFECT__RUNTIME__DEPLOYMENT__ID", raising=False)
    assert not batch._retry_transient_in_deployments(None, None, transient)
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", "d0e1")
    assert batch._retry_transient_in_deployments(None, None, transient)
    assert not batch._retry_transient_in_deployments(None, None, state_raising(OSError("disk full")))
    # A server that did not answer (the circuit breaker opened): each retry would wait for it again
    # while the run holds the output folder's lock; the next run retries instead.
    dead = state_raising(batch.MailServerUnreachable("600 emails could not be sent yet: ..."))
    assert not batch._retry_transient_in_deployments(None, None, dead)
    assert batch.deliver_task.retries == len(batch.EMAIL_RETRY_DELAYS) and batch.EMAIL_RETRY_DELAYS[0] >= 60


def test_long_batches_render_on_fresh_pools_without_losing_or_hanging(prefect_api, tmp_path, monkeypatch):
    """Rendering switches to a fresh process pool every chunk (bounded memory); 3 memos in chunks
    of 2 cross a pool boundary and all arrive, in order of completion, each once."""
    import flows.batch as batch
    from flows.reporting import reporting_progress

    monkeypatch.setattr(batch, "MEMOS_PER_WORKER_PER_POOL", 1)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["research-digest", "ticket-triage", "legal-translation"])
    seen = []
    with reporting_progress(lambda done, total, o: seen.append((done, total, o.status))):
        state = batch.memo_batch(input_dir=str(inputs), output_dir=str(tmp_path / "out"), run_id="chunks",
                                 workers=2, send_email=False, return_state=True)
    assert state.is_completed(), state.message
    assert seen == [(1, 3, "memo"), (2, 3, "memo"), (3, 3, "memo")]
    assert sorted(p.name for p in (tmp_path / "out" / "chunks").glob("*.pdf")) == [
        "legal-translation.pdf", "research-digest.pdf", "ticket-triage.pdf"]


def test_rerun_with_nothing_changed_is_a_flow_run_that_parses_only_the_rejected_files(batch_run, monkeypatch):
    """The nightly rerun: every memo kept, no input it knows parsed again, no render pool, the
    rejections reported as before (line and column), and a flow run on the server whose logs say
    each project is unchanged and each email was sent before, and whose artifacts carry the counts."""
    import flows.batch as batch
    from flows.reporting import artifact_key

    from modelmemo.batch import pipeline

    state, run_dir, inputs = batch_run
    validated: list[str] = []
    real = pipeline.validate_file
    monkeypatch.setattr(pipeline, "validate_file", lambda path, label=None: validated.append(label) or real(path, label))
    monkeypatch.setattr(batch, "_process_pool", lambda workers: pytest.fail("a render pool was started"))
    with _run_logs_at_info():
        rerun = batch.memo_batch(input_dir=str(inputs), output_dir=str(run_dir.parent), run_id="test-rerun",
                                 workers=2, return_state=True)
    assert rerun.name == "Completed with rejected files", rerun.message
    assert sorted(validated) == ["bad-email.yaml", "broken.yaml"]
    first = json.loads((run_dir / "summary.json").read_text())
    summary = json.loads((run_dir.parent / "test-rerun" / "summary.json").read_text())
    assert summary["counts"] == {**first["counts"], "memos": 0, "skipped": first["counts"]["memos"]}
    assert summary["rejected"] == first["rejected"] and summary["rejected"][0]["problems"][0]["line"]
    assert {d["status"] for d in summary["deliveries"]} == {"already-sent"}

    run, logs, artifacts = _flow_run_record(rerun)
    assert run.name.split()[0] == "test-rerun" and run.state.name == "Completed with rejected files"
    lines = "\n".join(logs).splitlines()
    unchanged = [f"{p['project_id']} ({p['file']}): unchanged, memo kept" for p in summary["projects"]]
    assert set(unchanged) <= set(lines)
    assert any(all(line in log.splitlines() for line in unchanged) for log in logs)  # one record, a line each
    assert any(line.startswith("rejected broken.yaml:") for line in lines)
    assert sum(line.startswith("email to ") and ": already-sent" in line for line in lines) == \
        len(summary["deliveries"])
    key = artifact_key(run_dir.parent)
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {key, f"{key}-index"}  # nothing rendered: no progress bar
    assert f"{len(unchanged)} unchanged" in by_key[key].description


def test_log_lines_groups_lines_without_news_into_few_records():
    from flows.reporting import log_lines

    records: list[str] = []
    log_lines(lambda fmt, text: records.append(fmt % text), [f"line {i}" for i in range(250)])
    assert [len(r.splitlines()) for r in records] == [100, 100, 50]
    assert "\n".join(records).splitlines() == [f"line {i}" for i in range(250)]
    log_lines(lambda fmt, text: records.append(text), [])
    assert len(records) == 3


def test_flow_runs_end_without_joining_the_heartbeat_thread(monkeypatch):
    """Prefect's sync engine would wait up to 1 s for its heartbeat thread after each flow run's final
    state; the flows here use Prefect's own helper with join_on_exit=False, as its async engine does."""
    import inspect

    from prefect import flow_engine

    import flows.batch  # noqa: F401 - installs the helper

    # The helper of whichever copy of flows/batch.py was imported first (Prefect loads a deployment's
    # entrypoint as a module copy of its own; that copy must not wrap the installed helper again).
    installed = flow_engine._send_heartbeats
    assert installed.__qualname__ == "_heartbeats_without_join" and installed.__module__.endswith("batch")
    wrapped = installed.__globals__["_prefect_send_heartbeats"]
    assert wrapped.__qualname__ != "_heartbeats_without_join"  # Prefect's own, not a second wrapper
    assert "join_on_exit" in inspect.signature(wrapped).parameters
    calls = []

    @contextlib.contextmanager
    def prefects(engine, join_on_exit=True):
        calls.append((engine, join_on_exit))
        yield

    monkeypatch.setitem(installed.__globals__, "_prefect_send_heartbeats", prefects)
    with flow_engine._send_heartbeats("engine"):
        pass
    assert calls == [("engine", False)]
