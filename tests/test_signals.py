"""Stopping `modelmemo run` and `modelmemo watch` with SIGTERM and Ctrl-C (issue "Safety first",
findings 6 and 10), with real processes: each command runs in its own session, with Prefect's
temporary server (no PREFECT_API_URL), so every process it started, the uvicorn server, the
forkserver and the render workers, can be found in /proc by its session id.

Each test starts one temporary Prefect server (10-20 s here), so each takes 20-40 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from modelmemo.batch.atomic import TEMP_SUFFIX
from modelmemo.batch.state import batch_lock

from .conftest import INPUTS, ROOT

CLI = ROOT / ".venv" / "bin" / "modelmemo"
STOP_MESSAGE = "modelmemo: stopped by {}; memos already written are complete"
START_SECONDS = 90  # the temporary Prefect server takes 10-20 s to start on this 2-core machine
GONE_SECONDS = 10  # every process of the command must be gone this soon after it was stopped

pytestmark = pytest.mark.timeout(180)


def write_inputs(folder: Path, count: int) -> list[str]:
    """`count` requirement files, one project each (copies of a quick example with their own ids)."""
    data = yaml.safe_load((INPUTS / "marketing-images.yaml").read_text(encoding="utf-8"))
    ids = []
    for index in range(count):
        data["project"]["id"] = f"signal-test-{index:02d}"
        (folder / f"{data['project']['id']}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        ids.append(data["project"]["id"])
    return ids


def session_processes(session_id: int) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process whose session id is `session_id`."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2:].split()[:4]
        if int(session) == session_id and state != "Z":
            found[int(entry)] = command.strip()
    return found


class Command:
    """A modelmemo command in a session of its own, its output lines collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], program: tuple[str, ...] = (str(CLI),)):
        self.process = subprocess.Popen([*program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=env, start_new_session=True)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def wait_for(self, text: str, stream: str = "stdout", timeout: float = START_SECONDS) -> None:
        lines = self.stdout if stream == "stdout" else self.stderr
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if any(text in line for line in lines):
                return
            time.sleep(0.05)
        if any(text in line for line in lines):
            return
        pytest.fail(f"no {text!r} on {stream} within {timeout:.0f} s (exit code {self.process.poll()}):\n"
                    + self.output()[-3000:])

    def stop(self, signum: int, whole_group: bool = False, read_all: bool = True) -> tuple[int, float]:
        """Send the signal (to the process, or to its whole process group as Ctrl-C in a terminal
        does); return its exit code and how long it took to exit. read_all: wait until its output
        pipes close (every process that inherited them has ended too)."""
        assert len(session_processes(self.process.pid)) > 1, "nothing running to stop"
        sent = time.monotonic()
        (os.killpg if whole_group else os.kill)(self.process.pid, signum)
        code = self.process.wait(timeout=60)
        took = time.monotonic() - sent
        for reader in self._readers if read_all else ():
            reader.join(timeout=GONE_SECONDS)
        return code, took

    def leftovers(self, timeout: float = GONE_SECONDS) -> dict[int, str]:
        """Processes of the session still there after `timeout` seconds (polling, so it is quick)."""
        deadline = time.monotonic() + timeout
        while (left := session_processes(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def kill_all(self) -> None:
        """Test clean-up: nothing of this command may outlive the test, whatever happened."""
        for pid in session_processes(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def command_env(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # the temporary server starts
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", MODELMEMO_SETTLE_SECONDS="0")
    return env


@pytest.fixture
def start(command_env):
    started: list[Command] = []

    def start_command(*args: str, program: tuple[str, ...] = (str(CLI),), **env: str) -> Command:
        command = Command(list(args), {**command_env, **env}, program)
        started.append(command)
        return command

    yield start_command
    for command in started:
        command.kill_all()


def incomplete_memos(output: Path) -> list[str]:
    """Memo parts without their JSON (written last), and temporary files, in any run folder."""
    found = []
    for run_dir in (p for p in output.iterdir() if p.is_dir() and p.name != "state"):
        names = {p.name for p in run_dir.iterdir()}
        for name in names:
            stem, _, ext = name.rpartition(".")
            if (ext in ("pdf", "html") and name != "index.html" and f"{stem}.json" not in names) \
                    or name.endswith(TEMP_SUFFIX):
                found.append(f"{run_dir.name}/{name}")
    return found


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def assert_stopped_cleanly(command: Command, code: int, signum: int) -> None:
    name = signal.Signals(signum).name
    assert code == 128 + signum, command.output()[-3000:]
    assert "Traceback" not in command.output(), command.output()[-3000:]
    assert [line.rstrip("\n") for line in command.stderr] == [STOP_MESSAGE.format(name)], command.output()[-3000:]
    assert command.leftovers() == {}


# --- SIGTERM ---------------------------------------------------------------------------------


def test_finding6_sigterm_watcher_leaves_no_process(start, tmp_path: Path):
    """A watcher stopped with SIGTERM while it waits for files: its temporary Prefect server
    (started for the catch-up run) goes with it."""
    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    write_inputs(drop, 1)
    watcher = start("watch", str(drop), "--output", str(output), "--no-email", "--debounce", "0.2")
    watcher.wait_for("watching")
    watcher.wait_for("1 memo,")  # the catch-up run is done: the server is up, the watcher is idle
    assert any("uvicorn" in cmd for cmd in session_processes(watcher.process.pid).values())

    code, took = watcher.stop(signal.SIGTERM)

    assert_stopped_cleanly(watcher, code, signal.SIGTERM)
    assert took < GONE_SECONDS


def test_finding6_sigterm_run_stops_render_workers(start, tmp_path: Path):
    """SIGTERM to a run while its workers render: the workers stop at once (no memo is written
    after the command ended), no memo is left half-written, and the next run completes them all."""
    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    ids = write_inputs(drop, 12)
    run = start("run", str(drop), "--output", str(output), "--no-email", "--workers", "2")
    run.wait_for("[1/12]")
    workers = [cmd for cmd in session_processes(run.process.pid).values() if "forkserver" in cmd]
    assert len(workers) >= 3, workers  # the forkserver and two workers

    code, _ = run.stop(signal.SIGTERM)

    assert_stopped_cleanly(run, code, signal.SIGTERM)
    assert incomplete_memos(output) == []
    before = snapshot(output)
    time.sleep(2)
    assert snapshot(output) == before  # nobody is writing any more
    written = [p.stem for p in output.glob("*/signal-test-*.json")]
    assert 1 <= len(written) < len(ids), written  # stopped mid-batch, after the first memo

    again = start("run", str(drop), "--output", str(output), "--no-email", "--workers", "2")
    assert again.process.wait(timeout=START_SECONDS + 60) == 0, again.output()[-3000:]
    assert sorted(p.stem for p in output.glob("*/signal-test-*.json")) == sorted(ids)
    assert again.leftovers() == {}  # a normal run leaves nothing running either


def test_finding6_sigkill_run_leaves_no_render_worker(start, tmp_path: Path):
    """The backstop: even a run killed outright (SIGKILL: nothing of it runs any more) leaves no
    render worker, forkserver or resource tracker behind. (Prefect's temporary server does stay:
    nothing can stop it after a SIGKILL; the test's clean-up kills it.)"""
    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    write_inputs(drop, 12)
    run = start("run", str(drop), "--output", str(output), "--no-email", "--workers", "2")
    run.wait_for("[1/12]")

    code, _ = run.stop(signal.SIGKILL, read_all=False)  # the server still holds the pipes

    assert code == -signal.SIGKILL
    deadline = time.monotonic() + GONE_SECONDS
    while (left := [cmd for cmd in session_processes(run.process.pid).values() if "multiprocessing" in cmd]) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


# --- Ctrl-C ----------------------------------------------------------------------------------


def test_finding10_ctrl_c_prints_one_line(start, tmp_path: Path):
    """Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the command, the
    temporary Prefect server, the forkserver and the render workers. One line, no traceback, exit
    code 130, nothing left running and no half-written memo."""
    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    write_inputs(drop, 12)
    watcher = start("watch", str(drop), "--output", str(output), "--no-email")
    watcher.wait_for("[1/12]")  # the catch-up run is rendering

    code, took = watcher.stop(signal.SIGINT, whole_group=True)

    assert_stopped_cleanly(watcher, code, signal.SIGINT)
    assert took < GONE_SECONDS
    assert incomplete_memos(output) == []


@pytest.mark.slow
@pytest.mark.timeout(420)  # a local Dask cluster and the temporary server start on a busy 2-core machine
def test_ctrl_c_during_a_dask_run_prints_one_line(start, tmp_path: Path):
    """Issue 23: Ctrl-C during `run --runner dask` printed 34-101 lines of tracebacks and warnings
    from the local Dask cluster's workers, its nannies and multiprocessing's resource tracker. Now
    as with the local runner: the one line, exit code 130, no process left, no half-written memo.
    Ctrl-C reaches the whole process group, the cluster's worker processes included."""
    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    write_inputs(drop, 16)
    run = start("run", str(drop), "--output", str(output), "--no-email", "--runner", "dask", "--workers", "2",
                program=(sys.executable, "-m", "modelmemo.cli"))
    run.wait_for("[1/16]", timeout=3 * START_SECONDS)  # rendering has started on the cluster

    code, _ = run.stop(signal.SIGINT, whole_group=True)

    stderr = [line.rstrip("\n") for line in run.stderr]
    assert code == 128 + signal.SIGINT, run.output()[-3000:]
    assert "Traceback" not in run.output(), run.output()[-3000:]
    assert STOP_MESSAGE.format("SIGINT") in stderr and len(stderr) <= 2, stderr
    assert run.leftovers() == {}
    assert incomplete_memos(output) == []


# --- the catch-up run ------------------------------------------------------------------------


def test_finding6_catch_up_run_retried_when_locked(start, tmp_path: Path):
    """The run `watch` does at start finds the output folder locked (the nightly run, say): it is
    retried like any failed watch run, without waiting for a new file."""
    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    write_inputs(drop, 1)
    with batch_lock(output):
        watcher = start("watch", str(drop), "--output", str(output), "--no-email",
                        MODELMEMO_WATCH_RETRY_SECONDS="1")
        watcher.wait_for("another modelmemo run", stream="stderr")
    watcher.wait_for("1 memo,", timeout=60)  # the retry, once the lock is free
    assert [p.stem for p in output.glob("*/signal-test-*.json")] == ["signal-test-00"]
    watcher.stop(signal.SIGTERM)
    assert watcher.leftovers() == {}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_finding10_group_signal_while_the_forkserver_starts_prints_one_line(start, tmp_path: Path, signum):
    """Ctrl-C, or a terminal closing (SIGHUP), reaches the whole process group, the forkserver and
    its resource tracker included, possibly while the forkserver is still importing the renderer.
    They start with stop signals ignored, so no traceback or 'leaked semaphore' warning appears."""
    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    write_inputs(drop, 6)
    run = start("run", str(drop), "--output", str(output), "--no-email", "--workers", "2")
    deadline = time.monotonic() + START_SECONDS
    while not any("forkserver" in cmd for cmd in session_processes(run.process.pid).values()):
        assert time.monotonic() < deadline and run.process.poll() is None, run.output()[-3000:]
        time.sleep(0.02)

    code, took = run.stop(signum, whole_group=True)

    assert_stopped_cleanly(run, code, signum)
    assert took < GONE_SECONDS
    assert incomplete_memos(output) == []
