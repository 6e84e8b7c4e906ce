"""Stopping `modelmemo serve`: one line that says it stopped and that the schedule is paused, the
same exit codes as `run` and `watch` (130, 143), and the deployment really paused on the server.

Prefect's own `serve` returns normally on both signals (exit 0, nothing printed), which told a
user or a service manager nothing; these run the real command against the session's Prefect API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


async def _deployment(name: str):
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        try:
            return await client.read_deployment_by_name(f"modelmemo-batch/{name}")
        except ObjectNotFound:
            return None


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_serve_stops_on_a_signal_with_one_line_its_exit_code_and_a_paused_schedule(prefect_api, tmp_path, signum,
                                                                                     code):
    name = f"stop-{signal.Signals(signum).name.lower()}"
    env = {**os.environ, "PREFECT_API_URL": _api_url()}
    serve = subprocess.Popen(
        [sys.executable, "-m", "modelmemo.cli", "serve", "--name", name, "--input-dir", str(tmp_path / "in"),
         "--output", str(tmp_path / "out")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 90
        deployment = None
        while time.monotonic() < deadline:  # registered, and its schedule active, once the runner runs
            deployment = asyncio.run(_deployment(name))
            if deployment is not None and not deployment.paused:
                break
            assert serve.poll() is None, serve.communicate()
            time.sleep(0.5)
        assert deployment is not None and not deployment.paused, "the deployment was never served"
        time.sleep(1)  # the runner's loop is up (its SIGTERM handler is installed when it starts)
        serve.send_signal(signum)
        stdout, stderr = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert serve.returncode == code, (stdout, stderr)
    assert stderr.splitlines() == [f"modelmemo: stopped serving 'modelmemo-batch/{name}' "
                                   f"({signal.Signals(signum).name}); its schedule is paused until "
                                   "`modelmemo serve` runs again"], stderr
    assert "Traceback" not in stdout and stdout.startswith(f"serving deployment 'modelmemo-batch/{name}'")
    assert asyncio.run(_deployment(name)).paused, "stopping serve must pause the deployment's schedule"
