"""A dead or dying Prefect API ends `modelmemo run` quickly, in one line, exit 2 (issue 10, finding 7)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from modelmemo.batch.pipeline import clean_up_after_crash
from modelmemo.batch.retention import is_run_folder

from .conftest import ROOT, copy_examples
from .helpers import free_port, requirements, write_yaml


class TcpProxy:
    """A loopback TCP forwarder in front of the session's Prefect API: closing it is the server dying
    (open connections drop, new ones are refused), without stopping the API other tests use."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
                if self.closed:  # close() does not wake a blocked accept(): the dead API answers nothing
                    client.close()
                    return
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def command_env(api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMEMO_")}
    return {**env, "PREFECT_API_URL": api_url, "MODELMEMO_SETTLE_SECONDS": "0", "MODELMEMO_WORKERS": "1"}


def test_finding7_dead_api_at_start_is_one_line_and_exit_2(tmp_path: Path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    started = time.monotonic()

    result = subprocess.run([sys.executable, "-m", "modelmemo.cli", "run", str(inputs), "--output", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=command_env(f"http://127.0.0.1:{free_port()}/api"))

    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "cannot reach the Prefect API" in result.stderr
    assert time.monotonic() - started < 15
    assert not (tmp_path / "out").exists()


def _api_dies_after(inputs: Path, output: Path, line_start: str) -> tuple[int, str, str, float]:
    """`modelmemo run` reporting to the session's API through a proxy; the proxy (the API) dies once
    the command prints a line starting with `line_start`. (exit code, stdout, stderr, seconds the
    command took after the API died)."""
    from prefect.settings import PREFECT_API_URL

    api = urlsplit(PREFECT_API_URL.value())
    proxy = TcpProxy((api.hostname, api.port))
    command = subprocess.Popen([sys.executable, "-m", "modelmemo.cli", "run", str(inputs), "--output", str(output),
                                "--no-email"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=command_env(f"http://127.0.0.1:{proxy.port}{api.path}"))
    try:
        line = command.stdout.readline()
        while line and not line.startswith(line_start):
            line = command.stdout.readline()
        assert line.startswith(line_start), command.stderr.read()
        proxy.close()
        died = time.monotonic()
        stdout, stderr = command.communicate(timeout=60)
        return command.returncode, stdout, stderr, time.monotonic() - died
    finally:
        command.kill()


def test_finding7_api_dying_mid_run_ends_within_30_s_in_one_line(tmp_path: Path, prefect_api):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for n in range(60):  # ~0.4 s a memo on 2 workers: the run is still going when the watchdog gives up (~12 s)
        write_yaml(inputs / f"p{n:02}.yaml", requirements(**{"project.id": f"project-{n:02}"}))
    output = tmp_path / "out"
    returncode, stdout, stderr, took = _api_dies_after(inputs, output, "[1/")

    assert returncode == 2, stderr
    assert took < 30
    assert len(stderr.splitlines()) == 1 and "lost the Prefect API" in stderr, stderr
    assert "Traceback" not in stdout + stderr
    (run_dir,) = [p for p in output.iterdir() if is_run_folder(p)]
    memos = sorted(p.stem for p in run_dir.glob("project-*.json"))
    assert memos, "memos rendered before the API died are kept"
    for stem in memos:
        assert (run_dir / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    clean_up_after_crash(output)  # what the next run does first: no incomplete memo survives it
    assert sorted(p.stem for p in run_dir.glob("*.pdf")) == memos


def test_finding7_api_dying_after_the_run_does_not_hang_the_exit(tmp_path: Path, prefect_api):
    """The API dies just as a short run ends (its report is printed): Prefect may still be shipping
    its last logs and events, which it would retry for minutes. The command exits within 30 s with
    the run's own exit code and no noise (the API watchdog stays on until the process exits)."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_yaml(inputs / "p.yaml", requirements(**{"project.id": "project-only"}))
    returncode, stdout, stderr, took = _api_dies_after(inputs, tmp_path / "out", "index: ")
    assert returncode == 0, stderr
    assert took < 30
    assert "Traceback" not in stdout + stderr


class SlowApiProxy(TcpProxy):
    """The session's Prefect API behind a loaded server: every HTTP request (health checks included)
    is forwarded `delay` seconds late, so every answer comes that much later; alive, only slow."""

    REQUEST_STARTS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ")

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.delay = delay
        self.requests = 0
        super().__init__(target)

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump_requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump_requests(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if data.startswith(self.REQUEST_STARTS):  # a new request (not a body, not a websocket frame)
                    self.requests += 1
                    time.sleep(self.delay)
                sink.sendall(data)
        except OSError:
            pass


def test_a_slow_but_alive_api_is_not_lost(tmp_path: Path, prefect_api):
    """Issue 23: a Prefect API answering every request (its health check too) in 3.5 s is slow,
    not gone: the run completes (exit 0) instead of being stopped as 'lost' (exit 2)."""
    from prefect.settings import PREFECT_API_URL

    api = urlsplit(PREFECT_API_URL.value())
    proxy = SlowApiProxy((api.hostname, api.port), delay=3.5)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_yaml(inputs / "p.yaml", requirements(**{"project.id": "project-slow"}))
    try:
        result = subprocess.run([sys.executable, "-m", "modelmemo.cli", "run", str(inputs), "--output",
                                 str(tmp_path / "out"), "--no-email"], cwd=ROOT, capture_output=True, text=True,
                                timeout=600, env=command_env(f"http://127.0.0.1:{proxy.port}{api.path}"))
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    assert "lost the Prefect API" not in result.stderr and "Traceback" not in result.stdout + result.stderr
    assert proxy.requests > 1  # the run did talk to the API through the slow proxy
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if is_run_folder(p)]
    assert (run_dir / "project-slow.pdf").read_bytes().startswith(b"%PDF")


def test_an_api_that_accepts_but_never_answers_is_still_lost():
    """The other side of a slow API: a server that takes connections and answers nothing is lost
    once its checks have failed for the whole window (the refused-connection shortcut does not apply)."""
    from modelmemo.process.api_watch import ApiWatchdog

    listener = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog), never answers
    lost = threading.Event()
    problems: list[str] = []

    def on_lost(url: str, problem: str) -> None:
        problems.append(problem)
        lost.set()

    watchdog = ApiWatchdog(lambda: f"http://127.0.0.1:{listener.getsockname()[1]}/api", on_lost, poll_seconds=0.05,
                           give_up_seconds=1.0, known_up=True, health_timeout=0.2).start()
    try:
        assert lost.wait(60), "a hung API was never reported"
    finally:
        watchdog.stop()
        listener.close()
    assert problems and "Timeout" in problems[0]
