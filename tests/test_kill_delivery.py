"""Property: killing `modelmemo run` at random points never loses an email, and never duplicates one
outside the documented uncertain window (issue 23, item 5).

Each iteration, from one integer seed:

1. A working folder with three small projects (five (project, recipient) pairs: kill-a and kill-c
   have an owner and one `notify` address, kill-b only an owner). Their memos are rendered
   beforehand without email (WeasyPrint, in this process, once per module), so each `modelmemo
   run` is unchanged memos plus delivery: about 4.6 s of CPU against the session's Prefect API
   (conftest `prefect_api`, as the other CLI tests; no temporary server per command). The long
   version also starts some iterations from an empty output folder (the killed run renders, so
   kills land in rendering too) and gives some clean runs `--force` (memos re-rendered with the
   same decision: nothing may be sent again).
2. One to three runs of the real command (`sys.executable -m modelmemo.cli run`: the package has
   no __main__; in a session of its own, whose leftovers are SIGKILLed after each run,
   SMTP to a real aiosmtpd server on loopback, MODELMEMO_SMTP_SECURITY=none), each stopped by
   SIGKILL or SIGTERM (drawn from the seed) at a point drawn from the seed:
   * "data": when the server has received the whole message of the run's k-th email (the end of
     DATA) it holds its reply, the test signals the command, and then (once the command is gone,
     or at most 1 s later: a SIGTERMed command waits for the send in flight) either drops the
     connection without replying ("drop") or sends its "250" after all ("answer": a SIGTERMed
     command that lets the send in flight finish records it as accepted, and nothing may be sent
     again). This lands in the dangerous window, between the end of DATA and the ledger update,
     every time k is reached;
   * "smtp": a random 0-1 s after the run's first MAIL command (between, during or after sends);
   * "start": a random 0.2-4 s after the command started (start-up, planning, rendering, sending).
   The server answers every other DATA after a random 0-300 ms (from the seed), so timed kills
   also land while a reply is pending. A copy counts as delivered as soon as the server has the
   whole message, replied or not (the server may have queued it: the uncertain case).
3. A clean run (no kill) must complete (exit 0; 1 only when a pair ended uncertain or undelivered).

Then, per (project id, recipient) (the inputs do not change, so one pair is one decision; all its
copies must carry one Message-ID):

* delivered at least once;
* delivered at most 1 + W times, and never more than MAX_ATTEMPTS_PER_RECIPIENT (3) times (a
  "sending" entry counts towards that cap, so three kills in one pair's window leave no fourth
  copy: the pair ends "undelivered" and the clean run may exit 1), where W
  counts the kills after which the send ledger (<output>/state/deliveries.json) showed that pair's
  entry in status "sending" (the write-ahead record made before DATA: the kill may have landed in
  the window) or "uncertain" (a reply lost: retried on a later run by design), and either changed
  by the killed run or with a copy received during it (so an entry left by an earlier kill and not
  touched since does not count twice).

A kill in the window that leaves no such entry, followed by a second copy, is the failure this test
exists to find: the ledger of main before the write-ahead change records a send only after the
server's reply, so it fails here ("data" kills duplicate the k-th email with no trace in the
ledger; seed 13: kill-b's owner gets 3 copies, 1 allowed; seed 4: kill-c's two recipients 2 each). The test reads the ledger's
rows by their `project_id`, `recipient` and `status` fields only.

Versions. `test_kills_never_lose_or_duplicate_email` (in CI: the whole suite runs, and this file is
`slow`, like every test that kills real processes) runs SHORT_SEEDS, two iterations chosen to
cover SIGKILL and SIGTERM ("drop" and "answer") in the DATA window: five runs of the command,
25 s measured on this 2-core machine when quiet, plus 30 s for the session's Prefect API and the
renders when the file runs alone (56 s in all; 48-97 s for the test alone under a load average of
5-6).
`test_kills_never_lose_or_duplicate_email_long` runs only with MODELMEMO_FAULT_ITERATIONS set
(e.g. 200: seeds MODELMEMO_FAULT_SEED, default 1000, onwards; 2.75 runs per iteration on average,
more for the iterations that render: about 15 s each on a quiet machine, so 200 take about an
hour; 30-60 s each under a load average of 5-7):

    MODELMEMO_FAULT_ITERATIONS=200 .venv/bin/pytest -q tests/test_kill_delivery.py -k long

A failure names its seed; replay it with MODELMEMO_FAULT_ITERATIONS=1 MODELMEMO_FAULT_SEED=<seed>
(the plan is the same; "data" kills land at the same point, timed ones roughly).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from modelmemo.settings import MAX_ATTEMPTS_PER_RECIPIENT

from .conftest import CATALOG, ROOT, TEMPLATES
from .helpers import free_port, requirements, write_yaml

pytestmark = pytest.mark.slow

ITERATIONS_ENV = "MODELMEMO_FAULT_ITERATIONS"
SEED_ENV = "MODELMEMO_FAULT_SEED"
# 13: SIGTERM on the 2nd DATA, its reply dropped; then SIGKILL on the next run's 1st DATA (the
# same email again: main sends it 3 times). 4: SIGTERM on the 3rd DATA, its reply sent after all
# (the send in flight finishes: main sends it twice). Five runs of the command in all; the timed
# kills are the long version's.
SHORT_SEEDS = (13, 4)
LONG_FIRST_SEED = 1000
MAX_REPORTED_FAILURES = 5  # the long version stops after this many failing iterations

# project id -> recipients (owner first, then notify)
PROJECTS: dict[str, tuple[str, ...]] = {
    "kill-a": ("ann@example.com", "cc-a@example.com"),
    "kill-b": ("bob@example.com",),
    "kill-c": ("cat@example.com", "cc-c@example.com"),
}
PAIRS = sorted((pid, r) for pid, recipients in PROJECTS.items() for r in recipients)
UNSURE = ("sending", "uncertain")  # ledger statuses that say a kill may have landed in the window

RUN_SECONDS = 180  # any single run of the command, loaded machine included
STOP_SECONDS = 60  # a signalled command must be gone this soon
HOLD_AFTER_SIGNAL = 1.0  # "data" kills: longest the held reply waits for the command to go
REPLY_DELAY_MAX = 0.3
_MESSAGE_ID = re.compile(r"^<memo-(.+)-[0-9a-f]{20}@[^>]+>$")


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    signum: int
    mode: str  # "data" | "smtp" | "start"
    draw: float  # data: which email (a fraction of those the run sends); smtp/start: seconds
    answer: bool = False  # data: the held reply is sent after all ("250"), else the connection is dropped


@dataclass(frozen=True)
class Plan:
    seed: int
    kills: tuple[Kill, ...]
    fresh: bool  # start from an empty output folder (the first killed run renders)
    force_clean: bool  # the clean run re-renders (--force): same decisions, nothing sent again

    def describe(self) -> str:
        kills = ", ".join(f"{signal.Signals(k.signum).name}@{k.mode}:{k.draw:.2f}"
                          + ({"data": "/answer" if k.answer else "/drop"}.get(k.mode, "")) for k in self.kills)
        return f"seed {self.seed}: kills [{kills}]{' fresh' if self.fresh else ''}{' force' if self.force_clean else ''}"


def plan_for(seed: int, long: bool) -> Plan:
    rng = random.Random(seed)
    kills = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        signum = rng.choice((signal.SIGKILL, signal.SIGTERM))
        mode = rng.choice(("data", "data", "smtp", "start"))
        draw = {"data": rng.random(), "smtp": rng.uniform(0.0, 1.0), "start": rng.uniform(0.2, 4.0)}[mode]
        kills.append(Kill(signum, mode, draw))
    fresh, force = rng.random() < 0.2, rng.random() < 0.2
    kills = [Kill(k.signum, k.mode, k.draw, rng.random() < 0.5) for k in kills]  # drawn last: older seeds keep their plans
    return Plan(seed, tuple(kills), fresh and long, force and long)


# --- the SMTP server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    run: int
    project_id: str
    recipient: str
    message_id: str


class KillSwitchHandler:
    """aiosmtpd handler: records every (Message-ID, recipient) whose message it received, answers
    DATA after a random delay, and on the armed DATA holds its reply while the test signals the
    command, then drops the connection without replying."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.copies: list[Copy] = []
        self.arm(0, 0, None)

    def arm(self, seed: int, run: int, kill_at: int | None, answer: bool = False) -> None:
        """Before each run: its number, its reply delays (from the seed), the DATA to hold (1-based)
        and whether its reply is sent in the end (else the connection is dropped)."""
        with self.lock:
            self.run = run
            self.delays = random.Random(seed * 100 + run)
            self.kill_at = kill_at
            self.answer_held = answer
            self.data_seen = 0
            self.first_mail = threading.Event()
            self.holding = threading.Event()  # the armed DATA arrived: signal the command now
            self.signalled = threading.Event()
            self.gone = threading.Event()  # the command has exited

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.first_mail.set()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(envelope.content)
        message_id = str(headers.get("Message-ID", "")).strip()
        match = _MESSAGE_ID.match(message_id)
        project_id = match.group(1) if match else f"?{message_id}"
        with self.lock:  # recorded before anything can cancel this coroutine (a lost connection does)
            self.data_seen += 1
            held = self.data_seen == self.kill_at
            answer = self.answer_held
            for recipient in envelope.rcpt_tos:
                self.copies.append(Copy(self.run, project_id, recipient.lower(), message_id))
            delay = self.delays.uniform(0.0, REPLY_DELAY_MAX)
            holding, signalled, gone = self.holding, self.signalled, self.gone
        if not held:
            await asyncio.sleep(delay)
            return "250 Message accepted for delivery"
        holding.set()
        deadline = time.monotonic() + STOP_SECONDS
        while not signalled.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        deadline = time.monotonic() + HOLD_AFTER_SIGNAL
        while not gone.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if answer:  # too late for a SIGKILLed command; a SIGTERMed one may still read it
            return "250 Message accepted for delivery"
        server.transport.close()  # the reply is lost
        return "421 closing"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = KillSwitchHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


# --- the command -------------------------------------------------------------------------------


def cli_env(port: int) -> dict[str, str]:
    """The test session's environment (its PREFECT_HOME, analytics off, settle 0) pointed at the
    session's Prefect API and the loopback server; no failpoint, no other SMTP setting."""
    from prefect.settings import PREFECT_API_URL

    own = ("MODELMEMO_FAILPOINT", ITERATIONS_ENV, SEED_ENV)  # the command refuses unknown MODELMEMO_* names
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELMEMO_SMTP_") and k not in own}
    env.update(PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               MODELMEMO_SETTLE_SECONDS="0", MODELMEMO_SMTP_HOST="127.0.0.1", MODELMEMO_SMTP_PORT=str(port),
               MODELMEMO_SMTP_SECURITY="none", MODELMEMO_SMTP_TIMEOUT="20", MODELMEMO_SMTP_RETRIES="2",
               MODELMEMO_SMTP_BACKOFF_SECONDS="0")
    return env


@dataclass
class RunResult:
    label: str
    returncode: int | None
    signalled: bool
    seconds: float
    log: Path
    stop_seconds: float = 0.0  # from the signal to the command's exit

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def session_members(session_id: int) -> list[int]:
    """Live processes of the session the command started (it leads its own: start_new_session)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2:].split()[:4]
            if int(session) == session_id and state != "Z":
                found.append(int(entry))
    return found


def stop_session(process: subprocess.Popen) -> None:
    """Whatever is left of this command's session (a stuck command, render workers): SIGKILL."""
    if process.poll() is None:  # not reaped: its process group id is still its own
        os.killpg(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    for pid in session_members(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_command(work: Path, env: dict[str, str], label: str, handler: KillSwitchHandler,
                kill: Kill | None = None, force: bool = False) -> RunResult:
    """One `modelmemo run` in its own session; with `kill`, signalled at the kill's point."""
    log = work / f"{label}.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelmemo.cli", "run", str(work / "inputs"), "--output", str(work / "output"),
             "--workers", "1", *(["--force"] if force else [])],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    signalled, signalled_at = False, 0.0
    try:
        if kill is not None:
            if kill.mode == "data":
                trigger, delay = handler.holding, 0.0
            elif kill.mode == "smtp":
                trigger, delay = handler.first_mail, kill.draw
            else:
                trigger, delay = None, kill.draw
            deadline = started + RUN_SECONDS
            while process.poll() is None and trigger is not None and not trigger.is_set() \
                    and time.monotonic() < deadline:
                trigger.wait(0.02)
            fire_at = time.monotonic() + delay
            while process.poll() is None and time.monotonic() < fire_at:
                time.sleep(0.01)
            if process.poll() is None and (trigger is None or trigger.is_set()):
                os.kill(process.pid, kill.signum)
                signalled, signalled_at = True, time.monotonic()
            handler.signalled.set()
        try:
            process.wait(timeout=STOP_SECONDS if signalled else RUN_SECONDS)
        except subprocess.TimeoutExpired:
            pass  # reported below: returncode None
        returncode = process.poll()
        handler.gone.set()
        stopped_at = time.monotonic()
    finally:
        stop_session(process)  # also on a failure of the test itself
    return RunResult(label, returncode, signalled, stopped_at - started, log,
                     stopped_at - signalled_at if signalled else 0.0)


# --- the ledger --------------------------------------------------------------------------------


def ledger_rows(output: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(project id, recipient) -> the ledger's row (the test's inputs never change: one row each)."""
    try:
        data = json.loads((output / "state" / "deliveries.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {(row["project_id"], row["recipient"].lower()): row for row in data["deliveries"]}


# --- one iteration -----------------------------------------------------------------------------


@dataclass
class Outcome:
    plan: Plan
    runs: list[RunResult] = field(default_factory=list)
    windows: Counter = field(default_factory=Counter)
    held: int = 0  # "data" kills that landed with the server holding a reply
    copies: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def report(self) -> str:
        runs = "; ".join(f"{r.label}: exit {r.returncode} after {r.seconds:.1f} s"
                         + (f" (signalled; gone {r.stop_seconds:.1f} s later)" if r.signalled else "")
                         for r in self.runs)
        return f"{self.plan.describe()} | {runs} | windows {dict(self.windows)}"


def pending_projects(rows: dict[tuple[str, str], dict[str, Any]]) -> int:
    """How many emails (one per project) the next run will send at most: projects with a
    recipient not yet recorded as accepted."""
    return sum(any(rows.get((pid, r), {}).get("status") != "accepted" for r in recipients)
               for pid, recipients in PROJECTS.items())


def run_iteration(plan: Plan, base: Path, rendered: Path, port: int, handler: KillSwitchHandler) -> Outcome:
    outcome = Outcome(plan)
    work = base / f"seed-{plan.seed}"
    shutil.copytree(rendered / "inputs", work / "inputs")
    if not plan.fresh:
        shutil.copytree(rendered / "output", work / "output")
    env = cli_env(port)
    with handler.lock:
        first_copy = len(handler.copies)
    previous = ledger_rows(work / "output")
    for number, kill in enumerate(plan.kills, start=1):
        pending = pending_projects(previous)
        kill_at = 1 + int(kill.draw * max(pending, 1)) if kill.mode == "data" else None
        handler.arm(plan.seed, number, kill_at, kill.answer)
        result = run_command(work, env, f"kill{number}", handler, kill)
        outcome.runs.append(result)
        outcome.held += kill.mode == "data" and handler.holding.is_set() and result.signalled
        if result.returncode is None:
            outcome.violations.append(f"{result.label}: still running {STOP_SECONDS} s after "
                                      f"{signal.Signals(kill.signum).name}:\n{result.tail()}")
        elif not result.signalled and result.returncode not in (0, 1):
            outcome.violations.append(f"{result.label}: exited {result.returncode} before the kill:\n{result.tail()}")
        rows = ledger_rows(work / "output")
        with handler.lock:
            copied = {(c.project_id, c.recipient) for c in handler.copies[first_copy:] if c.run == number}
        for pair, row in rows.items():
            # Left "sending" or "uncertain" by this run: its entry changed, or the server got a
            # copy in this run (a write-ahead entry that a retry rewrites identically).
            if row.get("status") in UNSURE and (row != previous.get(pair) or pair in copied):
                outcome.windows[pair] += 1
        previous = rows
    handler.arm(plan.seed, len(plan.kills) + 1, None)
    clean = run_command(work, env, "clean", handler, force=plan.force_clean)
    outcome.runs.append(clean)
    rows = ledger_rows(work / "output")
    with handler.lock:
        copies = handler.copies[first_copy:]
    check(outcome, work / "output", clean, rows, copies)
    return outcome


def check(outcome: Outcome, output: Path, clean: RunResult, rows: dict[tuple[str, str], dict[str, Any]],
          copies: list[Copy]) -> None:
    problems = outcome.violations
    unconfirmed = {pair for pair, row in rows.items() if row.get("status") in ("uncertain", "undelivered")}
    if clean.returncode not in ((0, 1) if unconfirmed else (0,)):
        problems.append(f"the clean run exited {clean.returncode} (unconfirmed pairs: {sorted(unconfirmed)}):\n"
                        f"{clean.tail()}")
    try:
        memos = json.loads((output / "state" / "memos.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        memos = {}
        problems.append(f"state/memos.json unreadable after the clean run: {exc}")
    if sorted(memos) != sorted(PROJECTS):
        problems.append(f"memos after the clean run: {sorted(memos)}, expected {sorted(PROJECTS)}")
    outcome.copies = Counter((c.project_id, c.recipient) for c in copies)
    strangers = sorted(set(outcome.copies) - set(PAIRS))
    if strangers:
        problems.append(f"the server received emails for unknown pairs: {strangers}")
    for pair in PAIRS:
        count, windows = outcome.copies[pair], outcome.windows[pair]
        allowed = min(1 + windows, MAX_ATTEMPTS_PER_RECIPIENT)
        ids = sorted({c.message_id for c in copies if (c.project_id, c.recipient) == pair})
        runs = [c.run for c in copies if (c.project_id, c.recipient) == pair]
        status = rows.get(pair, {}).get("status")
        if count < 1:
            problems.append(f"{pair}: never delivered (ledger status {status})")
        if count > allowed:
            problems.append(f"{pair}: delivered {count} times (in runs {runs}), at most {allowed} allowed: "
                            f"{windows} kill(s) left a 'sending'/'uncertain' ledger entry for it; "
                            f"ledger status now {status}")
        if len(ids) > 1:
            problems.append(f"{pair}: copies carry {len(ids)} Message-IDs {ids}: one decision, one Message-ID")
        if status != "accepted" and not (windows and status in ("uncertain", "undelivered")):
            problems.append(f"{pair}: ledger status {status} after the clean run ({windows} windows)")


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three projects' memos, rendered once by WeasyPrint without email (as `run --no-email`
    would): <base>/inputs and <base>/output, copied by each iteration."""
    from modelmemo.batch.pipeline import run_batch

    base = tmp_path_factory.mktemp("kill-delivery-rendered")
    inputs = base / "inputs"
    inputs.mkdir()
    for index, (pid, recipients) in enumerate(PROJECTS.items()):
        data = requirements(**{"project.id": pid, "project.name": f"Kill test {pid[-1].upper()}",
                               "project.owner.email": recipients[0],
                               "needs.tasks": [("chat",), ("summarization",), ("chat", "code")][index]})
        if len(recipients) > 1:
            data["project"]["notify"] = list(recipients[1:])
        write_yaml(inputs / f"{pid}.yaml", data)
    summary = run_batch(inputs, base / "output", catalog_files=(CATALOG,), templates_dir=TEMPLATES, executor=None,
                        deliver=False)
    assert summary.counts["memos"] == len(PROJECTS), summary.as_dict()
    return base


def run_seeds(seeds: list[int], long: bool, base: Path, rendered: Path, port: int,
              handler: KillSwitchHandler) -> list[Outcome]:
    outcomes, failed = [], []
    for seed in seeds:
        outcome = run_iteration(plan_for(seed, long), base, rendered, port, handler)
        outcomes.append(outcome)
        print(("FAIL " if outcome.violations else "ok   ") + outcome.report()
              + f" | copies {sorted(outcome.copies.items())}", flush=True)
        if outcome.violations:
            failed.append(outcome)
            if len(failed) >= MAX_REPORTED_FAILURES:
                break
        else:
            shutil.rmtree(base / f"seed-{seed}", ignore_errors=True)
    if failed:
        lines = []
        for outcome in failed:
            lines.append(f"seed {outcome.plan.seed} ({outcome.report()}):")
            lines += [f"    {problem}" for problem in outcome.violations]
        replay = f"{ITERATIONS_ENV}=1 {SEED_ENV}={failed[0].plan.seed} pytest tests/test_kill_delivery.py -k long"
        pytest.fail(f"{len(failed)} of {len(outcomes)} iterations broke the email contract (replay: {replay}):\n"
                    + "\n".join(lines), pytrace=False)
    return outcomes


@pytest.mark.timeout(420)
def test_kills_never_lose_or_duplicate_email(prefect_api, rendered, smtp_server, tmp_path):
    """SHORT_SEEDS: SIGTERM (reply dropped, then sent) and SIGKILL while the server holds the reply to a DATA."""
    port, handler = smtp_server
    outcomes = run_seeds(list(SHORT_SEEDS), False, tmp_path, rendered, port, handler)
    assert sum(o.held for o in outcomes) >= 3, [o.report() for o in outcomes]  # the window was hit


def _long_iterations() -> int:
    return int(os.environ.get(ITERATIONS_ENV) or 0)


@pytest.mark.skipif(not _long_iterations(), reason=f"the long version runs with {ITERATIONS_ENV}=N (e.g. 200)")
@pytest.mark.timeout(300 + 120 * _long_iterations())
def test_kills_never_lose_or_duplicate_email_long(prefect_api, rendered, smtp_server, tmp_path):
    port, handler = smtp_server
    first = int(os.environ.get(SEED_ENV) or LONG_FIRST_SEED)
    outcomes = run_seeds(list(range(first, first + _long_iterations())), True, tmp_path, rendered, port, handler)
    print(f"{len(outcomes)} iterations, {sum(len(o.plan.kills) for o in outcomes)} kills, "
          f"{sum(o.held for o in outcomes)} with a reply held, {sum(sum(o.windows.values()) for o in outcomes)} "
          "windows in the ledger")
