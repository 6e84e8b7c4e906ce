"""The nightly deployment on a real Prefect API: its schedule, and a triggered run producing memos."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, copy_examples


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def test_deployment_schedule_has_the_configured_cron_and_time_zone(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.deployment import nightly_deployment

    deployment_id = nightly_deployment("15 3 * * 1-5", "Europe/Berlin", str(tmp_path / "in"), str(tmp_path / "out"),
                                       name="schedule-check").apply()

    async def read():
        async with get_client() as client:
            return await client.read_deployment(deployment_id)

    deployment = asyncio.run(read())
    assert deployment.name == "schedule-check"
    [schedule] = deployment.schedules
    assert schedule.active
    assert schedule.schedule.cron == "15 3 * * 1-5"
    assert schedule.schedule.timezone == "Europe/Berlin"
    assert deployment.parameters == {"input_dir": str(tmp_path / "in"), "output_dir": str(tmp_path / "out"),
                                     "sync_catalog": True}  # nightly: the catalog is synced first
    assert deployment.global_concurrency_limit.limit == 1


def test_default_schedule_is_nightly_at_two():
    from flows.deployment import nightly_deployment

    deployment = nightly_deployment()
    assert deployment.schedules[0].schedule.cron == "0 2 * * *"


def test_serve_command_runs_a_triggered_deployment_run(prefect_api, tmp_path):
    """`modelmemo serve` in its own process; a run triggered through the API writes memos."""
    from prefect.deployments import run_deployment

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["research-digest"])
    output = tmp_path / "output"
    env = {**os.environ, "PREFECT_API_URL": _api_url(), "MODELMEMO_SETTLE_SECONDS": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "modelmemo.cli", "serve", "--name", "serve-test", "--cron", "0 2 * * *",
         "--timezone", "UTC", "--input-dir", str(inputs), "--output", str(output)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        flow_run = None
        deadline = time.monotonic() + 90
        while flow_run is None and time.monotonic() < deadline:
            try:
                flow_run = run_deployment("modelmemo-batch/serve-test", timeout=180)
            except Exception:  # the deployment is registered a moment after the process starts
                if server.poll() is not None:
                    pytest.fail(f"serve exited early: {server.stdout.read()}")
                time.sleep(1)
        assert flow_run is not None, "deployment never appeared"
        assert flow_run.state.is_completed(), flow_run.state
        latest = (output / "LATEST").read_text().strip()
        assert (output / latest / "research-digest.pdf").stat().st_size > 10_000
        assert list((output / latest / "outbox").glob("research-digest-*.eml"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_prefect_yaml_describes_the_same_flow_and_schedule():
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [deployment] = spec["deployments"]
    flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
    assert flow.name == "modelmemo-batch"
    assert deployment["schedules"][0]["cron"] == "0 2 * * *"
    assert deployment["concurrency_limit"] == 1
