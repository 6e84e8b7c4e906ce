"""Bench row for a dead mail server: the mail phase of 300 memos against a black-holed SMTP server,
with the default settings.

    .venv/bin/python bench/mail_row.py            # N=300, default settings (about 40 s here)
    .venv/bin/python bench/mail_row.py --quick    # N=5, connect timeout 0.5 s, no backoff: a smoke run

The server is a loopback socket that accepts every connection and never says anything (what a
firewall that swallows packets or a hung server looks like to a client). One memo is rendered by
the pipeline (the tests' fake PDF renderer: the email attaches the PDF's bytes, whatever they
show) and delivered under N project ids, two recipients each, by delivery.ledger.deliver with
Settings.from_env() (MODELMEMO_SMTP_HOST pointed at the socket; every other email setting at its
default unless --quick). Prints the wall time of the mail phase, the connections the server
accepted, and the ratio to what the same phase cost before the circuit breaker and the connect
timeout: N x (retries x timeout + the backoff), every memo waiting out every retry. Exits 1 when
the phase takes a minute or more (not with --quick).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_SECONDS = 60.0
PROJECT = "support-chatbot"


def black_hole() -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket whose connections are accepted (and kept) but never written to."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, accepted


def memo_jobs(folder: Path, n: int) -> list:
    """N delivery jobs: one rendered memo under N project ids, to its owner and notify list."""
    from modelmemo.batch.pipeline import RenderJob, plan_batch, render_project
    from modelmemo.delivery.ledger import DeliveryJob
    from tests.support_renderer import FAKE_PDF

    inputs, run_dir = folder / "inputs", folder / "output" / "run-1"
    inputs.mkdir(parents=True)
    run_dir.mkdir(parents=True)
    shutil.copy(ROOT / "inputs" / f"{PROJECT}.yaml", inputs)
    outcome = render_project(RenderJob(plan_batch(inputs).projects[0], str(run_dir), "run-1",
                                       "2026-11-29T02:00:00+00:00", (str(ROOT / "catalog" / "models.yaml"),),
                                       str(ROOT / "templates"), renderer=FAKE_PDF))
    memo = json.loads((run_dir / f"{PROJECT}.json").read_text(encoding="utf-8"))
    jobs = []
    for i in range(n):
        project_id = f"bench-{i:04d}"
        memo["project"]["id"] = project_id
        (run_dir / f"{project_id}.json").write_text(json.dumps(memo), encoding="utf-8")
        shutil.copy(run_dir / f"{PROJECT}.pdf", run_dir / f"{project_id}.pdf")
        jobs.append(DeliveryJob(project_id, run_dir / f"{project_id}.json", run_dir / f"{project_id}.pdf",
                                outcome.recipients))
    return jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="memos (default 300)")
    parser.add_argument("--quick", action="store_true", help="N=5, connect timeout 0.5 s, no backoff: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n = 5

    from modelmemo.batch import layout
    from modelmemo.delivery.ledger import deliver
    from modelmemo.delivery.mailers import make_mailer
    from modelmemo.settings import Settings

    server, accepted = black_hole()
    env = {"MODELMEMO_SMTP_HOST": "127.0.0.1", "MODELMEMO_SMTP_PORT": str(server.getsockname()[1]),
           "MODELMEMO_SMTP_SECURITY": "none"}
    if args.quick:
        env.update(MODELMEMO_SMTP_CONNECT_TIMEOUT="0.5", MODELMEMO_SMTP_BACKOFF_SECONDS="0")
    settings = Settings.from_env(env)
    with tempfile.TemporaryDirectory(prefix="modelmemo-mail-row-") as tmp:
        jobs = memo_jobs(Path(tmp), args.n)
        start = time.perf_counter()
        records = deliver(jobs, make_mailer(settings.smtp, Path(tmp) / "outbox"),
                          layout.ledger_file(Path(tmp) / "output"), sender=settings.smtp.sender,
                          templates_dir=ROOT / "templates", retries=settings.smtp_retries,
                          backoff_seconds=settings.smtp_backoff_seconds,
                          breaker_failures=settings.smtp_breaker_failures)
        wall = time.perf_counter() - start
    server.close()
    for conn in accepted:
        conn.close()
    smtp = settings.smtp
    backoff = sum(settings.smtp_backoff_seconds * 2 ** i for i in range(settings.smtp_retries - 1))
    before = args.n * (settings.smtp_retries * smtp.timeout + backoff)
    skipped = sum(r.not_attempted for r in records)
    print(f"settings: connect timeout {smtp.connect_timeout:g} s, timeout {smtp.timeout:g} s, "
          f"retries {settings.smtp_retries}, backoff {settings.smtp_backoff_seconds:g} s, "
          f"breaker {settings.smtp_breaker_failures}")
    print(f"{'mail phase, black-holed server':<42} {wall:8.1f} s  ({args.n} memos, {len(records)} emails, "
          f"{skipped} not attempted)")
    print(f"{'connections the server accepted':<42} {len(accepted):8d}")
    print(f"{'before (every memo x every retry)':<42} {before:8.0f} s  (estimate: N x (retries x timeout + backoff))")
    print(f"{'mail phase: now / before':<42} {wall / before:8.4f}")
    if args.quick:
        return 0
    if wall >= TARGET_SECONDS:
        print(f"TARGET MISSED: the mail phase took {wall:.1f} s (target < {TARGET_SECONDS:g} s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
