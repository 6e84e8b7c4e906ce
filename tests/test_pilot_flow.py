"""The pilot's Prefect flow: the same parameters and the same plain function as `modelmemo pilot`,
on a real (temporary) Prefect API; its log carries the plan and outcome, never a key or an example."""

from __future__ import annotations

import json
from pathlib import Path

from .pilot_helpers import HAIKU, KEY, PICK, answers_for, chat_examples, pilot_env, write_memo, write_project
from .pilot_server import PilotServer
from .test_flow import _run_logs_at_info


def _logged(state) -> list[str]:
    """The flow run's log lines as the Prefect API (and so the UI) has them."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async def read() -> list[str]:
        async with get_client() as client:
            run_id = state.state_details.flow_run_id
            for _ in range(40):  # logs reach the API in batches, a moment after the run ends
                logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
                if any(log.message.startswith(("dry run: ", "spent ~$")) for log in logs):
                    return [log.message for log in logs]
                await asyncio.sleep(0.5)
            return [log.message for log in logs]

    return asyncio.run(read())


def test_the_flow_pilots_and_fails_when_a_candidate_fails(prefect_api, tmp_path: Path, monkeypatch):
    from flows.pilot import pilot_flow

    examples = chat_examples(4)
    requirement = write_project(tmp_path / "in", examples)
    output = tmp_path / "out"
    write_memo(output, [PICK], [HAIKU])
    with PilotServer(answers_for(examples), {PICK[2]: "good", HAIKU[2]: "good"}) as server:
        for name, value in pilot_env(server.url).items():
            monkeypatch.setenv(name, value)
        with _run_logs_at_info():
            dry = pilot_flow(files=[str(requirement)], output_dir=str(output), dry_run=True, return_state=True)
            assert dry.is_completed() and server.total_calls == 0
            state = pilot_flow(files=[str(requirement)], output_dir=str(output), return_state=True)
        assert state.is_completed() and server.total_calls == 8
        stored = json.loads((output / "state" / "pilot" / "pilot-project.json").read_text())
        assert [r["model"] for r in stored["results"]] == ["claude", "claude-haiku"]
        server.behaviours[HAIKU[2]] = "storm"
        write_project(tmp_path / "in", chat_examples(5))  # one more example: a call to make
        with _run_logs_at_info():
            failed = pilot_flow(files=[str(requirement)], output_dir=str(output), max_usd=5.0, return_state=True)
    assert failed.is_failed() and "see the log" in failed.message
    logged = "\n".join(line for run in (dry, state, failed) for line in _logged(run))
    assert "dry run: 8 call(s) to make" in logged and "measured: claude/anthropic-api" in logged
    assert "failed: claude-haiku/anthropic-api" in logged and "rate limited (HTTP 429)" in logged
    assert KEY not in logged and examples[0]["input"] not in logged and examples[0]["reference"] not in logged
