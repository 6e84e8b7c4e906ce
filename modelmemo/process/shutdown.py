"""Stopping on SIGTERM, SIGINT (Ctrl-C) and SIGHUP without leaving anything behind.

Python's default for SIGTERM and SIGHUP is to die on the spot: no `finally`, no context manager
exit, no atexit handler runs, so Prefect's temporary server (a uvicorn subprocess stopped by an
atexit handler) and the render workers were left running. `install()` turns these signals into
a `Stopped` exception in the main thread instead. It unwinds the run like Ctrl-C does: the render
task kills its workers and removes the memos they were writing, Prefect records the run as
crashed, and `modelmemo.cli.main` prints one line and exits 128 + the signal number: 130 for
SIGINT, 143 for SIGTERM, 129 for SIGHUP (the shell's convention). Interpreter exit then runs the
atexit handlers (the temporary Prefect server stops), and the forkserver, whose "alive" pipe
closes, exits. A SIGHUP that was ignored when modelmemo started (nohup) stays ignored. While a
flow runs, Prefect swaps in its own SIGTERM handler; it records the crash, then hands the signal
back to ours, so the outcome is the same.

Stopping must not hang, whatever Prefect does. When the temporary server stops at the same time
(Ctrl-C in a terminal reaches the whole process group, and `systemctl stop` every process of
the service), Prefect's client retries its calls to it for minutes. So every stop signal also starts
a deadline thread (it learns of the signal through `signal.set_wakeup_fd`, even while Prefect's
handler is the installed one): once the temporary server no longer accepts connections (after
MIN_GRACE_SECONDS), or STOP_GRACE_SECONDS after the signal, it stops the server if it still
runs, prints the same line and ends the process with the same exit code (`os._exit`). It first
waits for a clean-up in progress (`critical()`: the render task removing the memos its workers
were writing).

A signal that arrives while stopping, or once the command's work is done (`finish()`: the
atexit handlers run), raises nothing, so it cannot interrupt a clean-up half way; it only starts
the deadline. SIGKILL still works; the next run removes what a killed run left
(`cleanup.clean_up_after_crash`). In-process callers of `cli.main` (tests) get their own
handlers back when it returns (`uninstall()`).

Render workers (`init_render_worker`) ignore SIGINT: the command decides how a worker stops. As
a backstop against orphans, each worker also ends itself as soon as the command's process has
ended, however it ended, even by SIGKILL or `os._exit` (`exit_with`: a thread waiting on a pidfd).
(prctl PR_SET_PDEATHSIG is no help here: a worker's parent is the forkserver, and the forkserver
only exits once every process holding its "alive" pipe is gone, workers included.) Once the
workers are gone, the forkserver and multiprocessing's resource tracker exit by themselves. A
worker killed mid-memo while the run goes on fails, and the run removes what it wrote before it
finishes; one killed with the whole run leaves an incomplete memo that the next run removes (its
JSON, written last, is missing). Prefect's temporary server cannot be helped after a SIGKILL: it stays until killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from types import FrameType
from typing import Any, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE_SECONDS = 10.0  # for the whole orderly stop, atexit handlers included
MIN_GRACE_SECONDS = 1.0  # the main thread's own clean-up starts well within this
POLL_SECONDS = 0.2
SERVER_STOP_SECONDS = 3.0  # after SIGTERM, then SIGKILL
# In a hard stop the server has usually had the signal already and stopped accepting connections,
# yet sometimes stays in its shutdown for seconds (1 stop in 25 here took 3 s): it gets 1 s.
HARD_STOP_SERVER_SECONDS = 1.0

_received: int | None = None  # the first stop signal our handler saw (it raised Stopped for it)
_stopping: int | None = None  # the first stop signal seen by any path (the deadline runs for it)
_finished = False  # the command's work is done: signals no longer raise
_announced = False
_lock = threading.Lock()  # guards _stopping and _announced
_critical = threading.Lock()
_previous: dict[int, Any] = {}  # handlers and wakeup fd to restore in uninstall()
_previous_wakeup = -1
_wakeup: tuple[socket.socket, socket.socket] | None = None


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by a stop signal. A KeyboardInterrupt, so that code which already
    cleans up after Ctrl-C (Prefect's engine, concurrent.futures, watchfiles) does the same here."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _received
    if _received is not None:
        return  # already stopping: let the clean-up finish
    if _finished:
        _begin_stop(signum)  # exiting already: only bound how long that may take
        return
    _received = signum
    _begin_stop(signum)
    raise Stopped(signum)


def install() -> bool:
    """Turn SIGINT, SIGTERM and SIGHUP into `Stopped`. Call from the main thread before any work
    (elsewhere signals cannot be handled: False)."""
    global _received, _stopping, _finished, _announced, _wakeup, _previous_wakeup
    if threading.current_thread() is not threading.main_thread():
        return False
    uninstall()
    _received, _stopping, _finished, _announced = None, None, False, False
    for signum in STOP_SIGNALS:
        if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
            continue  # started with nohup: hanging up must not stop it
        _previous[signum] = signal.signal(signum, _on_signal)
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    _previous_wakeup = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    _wakeup = (reader, writer)
    threading.Thread(target=_watch_signals, args=(reader,), name="modelmemo-signal-watch", daemon=True).start()
    return True


def finish() -> None:
    """The command's work is done and the process is about to exit: from now on a stop signal
    raises nothing (it would interrupt an atexit handler), it only bounds how long exiting takes."""
    global _finished
    _finished = True


def uninstall() -> None:
    """Give back the signal handlers and wakeup fd that `install` replaced (in-process callers)."""
    global _wakeup
    if threading.current_thread() is not threading.main_thread():
        return
    while _previous:
        signum, handler = _previous.popitem()
        signal.signal(signum, handler)
    if _wakeup is not None:
        signal.set_wakeup_fd(_previous_wakeup)
        for end in _wakeup:
            end.close()  # ends _watch_signals
        _wakeup = None


def _watch_signals(reader: socket.socket) -> None:
    """Python's C-level handler writes each signal's number to the wakeup fd, whichever Python
    handler (ours, Prefect's) will run for it: start the deadline on the first stop signal."""
    while True:
        try:
            data = reader.recv(64)
        except OSError:
            return
        if not data:
            return
        for signum in data:
            if signum in STOP_SIGNALS:
                _begin_stop(signum)


def _begin_stop(signum: int) -> None:
    global _stopping
    with _lock:
        if _stopping is not None:
            return
        _stopping = signum
    threading.Thread(target=_enforce_deadline, args=(signum, time.monotonic()), name="modelmemo-stop-deadline",
                     daemon=True).start()


def received() -> int | None:
    """The stop signal received, if any (also when a library swapped our exception for its own)."""
    return _received if _received is not None else _stopping


def exit_code(signum: int) -> int:
    """128 + the signal number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + signum


def message(signum: int) -> str:
    return f"modelmemo: stopped by {signal.Signals(signum).name}; memos already written are complete"


def announce(signum: int) -> int:
    """Print the one-line message (once per process) and return the exit code."""
    global _announced
    with _lock:
        if not _announced:
            _announced = True
            print(message(signum), file=sys.stderr, flush=True)
    return exit_code(signum)


@contextmanager
def critical() -> Iterator[None]:
    """A clean-up that the deadline's hard stop must not cut short (keep it to seconds)."""
    with _critical:
        yield


def temporary_servers() -> list[Any]:
    """Prefect's temporary server objects (SubprocessASGIServer) created in this process, if any."""
    module = sys.modules.get("prefect.server.api.server")  # imported by Prefect before it starts one
    return [] if module is None else list(module.SubprocessASGIServer._instances.values())


def _temporary_server_processes() -> list[tuple[subprocess.Popen, int | None]]:
    """(process, port) of Prefect's temporary server, if Prefect started one in this process."""
    found = []
    for server in temporary_servers():
        process = getattr(server, "server_process", None)
        if process is not None:
            found.append((process, getattr(server, "port", None)))
    return found


def _temporary_server_gone() -> bool:
    """True once the temporary server has exited or closed its port (it is shutting down)."""
    for process, port in _temporary_server_processes():
        if process.poll() is not None:
            return True
        if port:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            except ConnectionRefusedError:
                return True
            except OSError:
                pass  # slow, not gone
    return False


def stop_temporary_server(timeout: float = SERVER_STOP_SECONDS) -> None:
    """Stop Prefect's temporary server subprocess if it still runs (what its atexit handler does)."""
    for process, _port in _temporary_server_processes():
        if process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _enforce_deadline(signum: int, started: float) -> None:
    while time.monotonic() < started + STOP_GRACE_SECONDS:
        # Also once the stop is announced: interpreter exit then drains Prefect's event and log
        # queues into the vanished server, which waits the whole grace period (1 stop in 6).
        if time.monotonic() >= started + MIN_GRACE_SECONDS and _temporary_server_gone():
            break  # Prefect's client would retry against the vanished server for minutes
        time.sleep(POLL_SECONDS)
    _critical.acquire(timeout=STOP_GRACE_SECONDS)
    try:
        stop_temporary_server(HARD_STOP_SERVER_SECONDS)
    finally:
        announce(signum)
        os._exit(exit_code(signum))


# --- render workers --------------------------------------------------------------------------


def exit_with(pid: int) -> None:
    """End this process as soon as process `pid` (the modelmemo command) has ended, however it
    ended. A daemon thread waits on a pidfd (Linux 5.3+), else polls once a second."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)  # gone already: nobody will collect this worker's results
    except (AttributeError, OSError):
        handle = None

    def wait() -> None:
        if handle is not None:
            import select

            select.select([handle], [], [])  # readable once the process has ended (even as a zombie)
        else:
            while True:
                time.sleep(1.0)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
        os._exit(1)

    threading.Thread(target=wait, name="modelmemo-exit-with-parent", daemon=True).start()


def start_forkserver_shielded() -> None:
    """Start multiprocessing's forkserver (and its resource tracker) with the stop signals blocked,
    so that they start that way (a blocked signal mask is inherited across fork and exec).

    Both are processes of the command's process group, so a terminal's Ctrl-C or hang-up reaches
    them as well. Unshielded, the forkserver dies mid-import with a KeyboardInterrupt traceback
    and the resource tracker with "leaked semaphore" warnings. They need no signal: they end when
    this process ends (their pipes close); the forkserver ignores SIGINT once its imports are done,
    which discards a pending one, and never unblocks SIGTERM or SIGHUP.

    This process keeps its handlers meanwhile; they only record a stop signal, which is raised
    again once the forkserver runs. (Ignoring the signals here instead lost them: Prefect's threads
    do not block them, so the kernel delivers a group signal to one of those, where an ignored
    signal is discarded, and the command ran on without its Prefect server.)"""
    _start_shielded(with_forkserver=True)


def start_resource_tracker_shielded() -> None:
    """Only multiprocessing's resource tracker, shielded as `start_forkserver_shielded` does: a
    local Dask cluster's nannies start their workers with spawn, and the queues they talk through
    are semaphores the tracker watches (its "leaked semaphore" warning after a stop included)."""
    _start_shielded(with_forkserver=False)


def _start_shielded(with_forkserver: bool) -> None:
    from multiprocessing import forkserver, resource_tracker

    if threading.current_thread() is not threading.main_thread():
        # signal handlers can only be changed in the main thread
        (forkserver if with_forkserver else resource_tracker).ensure_running()
        return
    deferred: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    warnoptions = list(sys.warnoptions)
    try:
        for signum, handler in previous.items():
            if handler != signal.SIG_IGN:  # started with nohup: SIGHUP stays ignored
                signal.signal(signum, lambda received, _frame: deferred.append(received))
        # After a hard stop (os._exit: no finalizers ran) the resource tracker unlinks the pool's
        # semaphores itself, which is its job, and warns about "leaked semaphore objects" on the
        # terminal; the warning tells the user nothing they can act on. Both are started with this
        # interpreter's flags (multiprocessing.util._args_from_interpreter_flags), which pass
        # sys.warnoptions on as -W options: the filter goes there for the start, not into the
        # environment (nothing in the package writes os.environ).
        sys.warnoptions.append(TRACKER_WARNING_FILTER)
        # Their stderr goes to /dev/null: a worker being forked when the command stops dies in the
        # forkserver's fd handshake with an EOFError traceback. Nothing is lost: a render worker's
        # errors reach the command through its future (pipeline.render_all reports them).
        saved_stderr = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            # The resource tracker first: starting it unblocks SIGINT and SIGTERM again (Python's own
            # shielding of it), so they are blocked again before the forkserver starts.
            resource_tracker.ensure_running()
            if with_forkserver:
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
                forkserver.ensure_running()
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            os.close(devnull)
    finally:
        sys.warnoptions[:] = warnoptions
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if deferred:
        signal.raise_signal(deferred[0])  # handled now, by the handler that was in place


TRACKER_WARNING_FILTER = "ignore:resource_tracker:UserWarning"


@contextmanager
def ctrl_c_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread meanwhile, and so in every thread started meanwhile and every
    process those start, for good (a signal mask is inherited by a new thread, and across fork and
    exec). For helper processes the command stops by itself, such as a local Dask cluster's
    workers: a terminal's Ctrl-C reaches the whole process group, and such a worker would cancel
    its own event loop and print the traceback of a worker closed under a running task. The
    command's own Ctrl-C is not lost: a thread that does not block it takes it and the main thread
    runs the handler, or it stays pending until the mask is restored."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def init_render_worker(command_pid: int | None = None) -> None:
    """ProcessPoolExecutor initializer for render workers: memory cap, no Ctrl-C of their own
    (the command stops them), and no life after the command (see the module docstring).
    SIGTERM is restored: workers inherit the forkserver's blocked stop signals, but the command
    stops a worker with SIGTERM (`Process.terminate`)."""
    from modelmemo.memo.limits import limit_worker_memory
    from modelmemo.memo.render import settle_render_process

    limit_worker_memory()
    settle_render_process()
    # Handlers first, then unblock: a Ctrl-C that reached the group meanwhile is pending here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if command_pid is not None:
        exit_with(command_pid)
