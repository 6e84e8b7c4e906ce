"""modelmemo/process/shutdown.py, the parts that need no signal: test_signals.py sends real ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from modelmemo.process.shutdown import TRACKER_WARNING_FILTER

from .conftest import ROOT

FORKSERVER_CHILDREN = """
import json, multiprocessing, os, sys, time
from pathlib import Path
from modelmemo.process import shutdown
multiprocessing.set_start_method("forkserver")
environment, warnoptions = dict(os.environ), list(sys.warnoptions)
shutdown.start_forkserver_shielded()
children = [int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()]

def command(pid):
    for _ in range(200):  # a child just forked shows its command line once it has exec'd
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\\0")
        if "multiprocessing" in " ".join(args):
            return args
        time.sleep(0.02)
    return args

print(json.dumps({
    "environment_unchanged": dict(os.environ) == environment,
    "warnoptions_unchanged": list(sys.warnoptions) == warnoptions,
    "children": [command(pid) for pid in children],
}))
"""


def test_the_forkserver_and_resource_tracker_start_with_the_warning_filter_not_the_environment():
    """Their "leaked semaphore" warning after a hard stop is filtered by a -W option they are
    started with (from sys.warnoptions, for the start only); os.environ is never written."""
    result = subprocess.run([sys.executable, "-c", FORKSERVER_CHILDREN], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["environment_unchanged"] and found["warnoptions_unchanged"]
    commands = [" ".join(args) for args in found["children"]]
    assert any("resource_tracker" in c for c in commands) and any("forkserver" in c for c in commands), commands
    assert all(f"-W{TRACKER_WARNING_FILTER}" in c for c in commands if "multiprocessing" in c), commands


SETTLED_POOL = """
import gc
from flows.batch import _process_pool
with _process_pool(1) as pool:
    frozen = pool.submit(gc.get_freeze_count).result(timeout=120)
print(frozen, gc.get_freeze_count())
"""


def test_render_pool_workers_start_with_their_imports_frozen_out_of_the_garbage_collector():
    """The flow's render workers freeze what is alive after their imports (WeasyPrint, the
    libraries), so collections during a render scan only that render's objects; the command's own
    process is left alone."""
    result = subprocess.run([sys.executable, "-c", SETTLED_POOL], capture_output=True, text=True, cwd=ROOT,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    worker, command = map(int, result.stdout.split())
    assert worker > 20_000 and command == 0


SIGNAL_WHILE_THE_FORKSERVER_STARTS = """
import json, multiprocessing, os, signal, threading, time
from multiprocessing import forkserver
from pathlib import Path
from modelmemo.process import shutdown
multiprocessing.set_start_method("forkserver")
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()  # like Prefect's threads
received, during = [], []
signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
start = forkserver.ensure_running

def start_and_get_signalled():
    os.kill(os.getpid(), signal.SIGTERM)  # to the process: the kernel picks a thread to deliver it
    time.sleep(0.2)
    start()
    during.extend(received)
forkserver.ensure_running = start_and_get_signalled
shutdown.start_forkserver_shielded()
children = [int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()]
blocked = None
for _ in range(500):  # the forkserver's mask once it has exec'd (it never unblocks them)
    for pid in children:
        if "multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes().decode():
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            blocked = int(status["SigBlk"].strip(), 16)
    if blocked is not None:
        break
    time.sleep(0.02)
print(json.dumps({"received": received, "during": during, "blocked": blocked}))
"""


def test_a_stop_signal_while_the_forkserver_starts_is_handled_after_it_not_lost():
    """Ctrl-C while the forkserver starts: the forkserver starts with the stop signals blocked, and the command's own handler still runs, once, after the start (ignoring
    the signal meanwhile lost it: another thread took it, and the command ran on)."""
    import signal

    result = subprocess.run([sys.executable, "-c", SIGNAL_WHILE_THE_FORKSERVER_STARTS], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["during"] == [] and found["received"] == [signal.SIGTERM]
    stop_bits = sum(1 << (signum - 1) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    assert found["blocked"] is not None and found["blocked"] & stop_bits == stop_bits, found["blocked"]
