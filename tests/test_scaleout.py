"""Scale-out without a shared disk (issue 15), against a real external Dask cluster.

The scheduler and two worker processes run in a mount namespace of their own in which the test's
temporary folder (drop folder, output folder, Prefect home) and the checkout's templates/,
catalog/, inputs/ and output/ are hidden under empty tmpfs mounts, with a working directory and
HOME of their own and no PREFECT_* or MODELMEMO_* settings. Whatever they render, they can only
have got from the work units and the bundle.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from .conftest import ROOT, copy_examples

PROJECTS = ["research-digest", "ticket-triage", "legal-translation", "support-chatbot", "marketing-images"]
FROZEN = datetime(2026, 11, 29, 2, 0, 0, tzinfo=timezone.utc)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                children = [int(c) for c in open(f"/proc/{current}/task/{tid}/children").read().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _can_unshare() -> bool:
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def isolated_cluster(tmp_path_factory):
    """(scheduler address, worker processes' root pid, the workers' HOME, hidden folders)."""
    if shutil.which("unshare") is None or not _can_unshare():
        pytest.skip("needs unshare --mount (root or CAP_SYS_ADMIN) to hide folders from the workers")
    hidden_root = tmp_path_factory.getbasetemp()
    hidden = [hidden_root] + [ROOT / name for name in ("templates", "catalog", "inputs", "output")
                              if (ROOT / name).is_dir()]
    home = Path(tempfile.mkdtemp(prefix="modelmemo-worker-home-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MODELMEMO_"))}
    env["HOME"] = str(home)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    mounts = " && ".join(f"mount -t tmpfs -o size=1m,mode=0755 modelmemo-hidden '{p}'" for p in hidden)
    # The scheduler and the workers share the namespace; the workers use a scratch folder in their HOME.
    script = (f"{mounts} && ( {dask} scheduler --host 127.0.0.1 --port {port} --no-dashboard & "
              f"exec {dask} worker {address} --nworkers 2 --nthreads 1 --no-dashboard "
              f"--local-directory '{home}/scratch' )")
    cluster = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], cwd=home,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        from distributed import Client

        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout=5, set_as_default=False) as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or cluster.poll() is not None:
                    raise RuntimeError("the isolated Dask cluster did not start: "
                                       + (cluster.stderr.read().decode(errors="replace")[-2000:]
                                          if cluster.poll() is not None else "timed out"))
                time.sleep(1)
        yield address, cluster.pid, home, hidden
    finally:
        os.killpg(cluster.pid, 15)
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, 9)
            cluster.wait()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def local_and_dask_runs(prefect_api, isolated_cluster, tmp_path_factory):
    """The same inputs through the local pool and through the isolated cluster, same run id and
    a frozen clock, so that no byte may differ."""
    from flows.batch import memo_batch
    from modelmemo.batch import pipeline

    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return FROZEN if tz else FROZEN.replace(tzinfo=None)

    root = tmp_path_factory.mktemp("scaleout")
    inputs = root / "inputs"
    inputs.mkdir()
    copy_examples(inputs, PROJECTS)
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    levels = [logger.level for logger in loggers]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "datetime", FrozenClock)
        # The session logs at WARNING (conftest); the chunk tasks' INFO lines are what a Prefect user
        # reads. setLevel, not a patched `level`: it also clears the loggers' isEnabledFor caches, which
        # an earlier run in this session (test_dask) left saying INFO is off, so no chunk log was sent.
        for logger in loggers:
            logger.setLevel(logging.INFO)
        try:
            local = memo_batch(input_dir=str(inputs), output_dir=str(root / "local"), run_id="same-run", workers=2,
                               send_email=False, return_state=True)
            dask = memo_batch(input_dir=str(inputs), output_dir=str(root / "dask"), run_id="same-run", runner="dask",
                              dask_address=isolated_cluster[0], send_email=False, return_state=True)
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)
    return local, dask, root / "local" / "same-run", root / "dask" / "same-run", inputs


def test_workers_cannot_see_the_run_or_input_folders(isolated_cluster, local_and_dask_runs):
    from distributed import Client

    address, _, home, hidden = isolated_cluster
    _, _, _, dask_run, inputs = local_and_dask_runs
    with Client(address, set_as_default=False) as client:
        seen = client.run(lambda paths: {p: os.path.exists(p) for p in paths},
                          [str(dask_run), str(inputs), str(ROOT / "templates" / "brand.yaml"),
                           str(ROOT / "catalog" / "models.yaml")])
        places = client.run(lambda: (os.getcwd(), os.environ.get("HOME")))
    assert len(seen) == 2
    for worker, exists in seen.items():
        assert not any(exists.values()), (worker, exists)
    assert dask_run.is_dir() and inputs.is_dir()  # they exist, for the test process
    assert all(place == (str(home), str(home)) for place in places.values()), places


def test_dask_memos_are_byte_identical_to_the_local_runners(local_and_dask_runs):
    local, dask, local_run, dask_run, _ = local_and_dask_runs
    assert local.is_completed(), local.message
    assert dask.is_completed(), dask.message
    names = sorted(f"{project}.{suffix}" for project in PROJECTS for suffix in ("pdf", "html", "json"))
    assert sorted(p.name for p in local_run.iterdir() if p.suffix in (".pdf", ".html", ".json")
                  and p.stem in PROJECTS) == names
    for name in names:
        assert (dask_run / name).read_bytes() == (local_run / name).read_bytes(), name
    summaries = [json.loads((run / "summary.json").read_text()) for run in (local_run, dask_run)]
    assert summaries[0]["projects"] == summaries[1]["projects"]


def test_chunk_task_runs_report_to_the_flows_api_and_no_worker_runs_prefect(isolated_cluster, local_and_dask_runs):
    from distributed import Client
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterTaskRunId

    address, cluster_pid, home, _ = isolated_cluster
    _, dask, _, _, _ = local_and_dask_runs
    flow_run_id = dask.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        chunks = sorted((t for t in task_runs if t.name.startswith("render-chunk-")), key=lambda t: t.name)
        # 5 memos on 2 worker threads: one memo per chunk (at least 4 chunks per thread)
        assert [t.name for t in chunks] == [f"render-chunk-{i}-of-5" for i in range(1, 6)]
        assert all(t.state.is_completed() for t in chunks)
        logged = ""
        for _ in range(20):  # logs reach the API in batches
            logs = client.read_logs(log_filter=LogFilter(task_run_id=LogFilterTaskRunId(any_=[t.id for t in chunks])))
            logged = "\n".join(log.message for log in logs)
            if all(project in logged for project in PROJECTS):
                break
            time.sleep(0.5)
        assert all(project in logged for project in PROJECTS), logged
    with Client(address, set_as_default=False) as client:
        imported = client.run(lambda: sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect.")))
    assert imported and all(modules == [] for modules in imported.values()), imported
    servers = [_cmdline(pid) for pid in _descendants(cluster_pid)
               if "uvicorn" in _cmdline(pid) or "prefect" in _cmdline(pid)]
    assert servers == []
    assert not (home / ".prefect").exists()


def test_an_unreachable_scheduler_fails_the_run_in_one_line(prefect_api, tmp_path, monkeypatch):
    from flows.batch import memo_batch
    from modelmemo.batch import scaleout

    monkeypatch.setattr(scaleout, "CONNECT_SECONDS", 2)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    state = memo_batch(input_dir=str(inputs), output_dir=str(tmp_path / "out"), runner="dask",
                       dask_address=f"tcp://127.0.0.1:{_free_port()}", send_email=False, return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert "cannot reach the Dask scheduler" in str(error) and "\n" not in str(error)
    assert not list((tmp_path / "out").glob("*/ticket-triage.*"))
