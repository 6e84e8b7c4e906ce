"""Bench row for the nightly rerun: one full run, then reruns with nothing changed, in one sitting.

    .venv/bin/python bench/rerun_row.py            # N=300, 7 reruns (about 2 min here)
    .venv/bin/python bench/rerun_row.py --quick    # N=5, 2 reruns: a smoke run

Generates N inputs as run_bench.py does, starts `prefect server start`, runs `modelmemo run` once
against it (the full run: every memo rendered and emailed to the outbox), then the same command
again and again with nothing changed. Prints each run, the median rerun and the ratio median rerun
wall / full-run wall: run_bench.py's target "nightly rerun, nothing changed" (<= 0.05). A rerun
takes a few seconds, so one sample is at the mercy of anything else the machine does: the median
of several is the figure. Exits 1 when the target is missed or a run fails (not with --quick).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_bench import PYTHON, generate_inputs, measure, row, start_server, stop_server  # noqa: E402

TARGET = 0.05


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="batch size (default 300)")
    parser.add_argument("--reruns", type=int, default=7, help="reruns with nothing changed (default 7)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="render workers for the full run (default: one per CPU)")
    parser.add_argument("--quick", action="store_true", help="N=5, 2 reruns: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n, args.reruns = 5, 2

    work = Path(tempfile.mkdtemp(prefix="modelmemo-rerun-"))
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "MODELMEMO_WORKERS": str(args.workers)}
    env.pop("MODELMEMO_SMTP_HOST", None)
    try:
        inputs = work / "inputs"
        generate_inputs(inputs, args.n)
        print(f"modelmemo rerun row: N={args.n}, {args.workers} workers, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.2f} at the start", flush=True)
        server, url, _ = start_server(env)
        try:
            served = {**env, "PREFECT_API_URL": url}
            command = [PYTHON, "-m", "modelmemo.cli", "run", str(inputs), "--output", str(work / "out")]
            full = measure(command, served)
            print(f"\n{'':<34} {'wall':>10} {'cpu':>10} {'peak rss':>11}\n{row('full run (server)', full)}", flush=True)
            reruns = []
            for number in range(1, args.reruns + 1):
                reruns.append(measure(command, served))
                print(row(f"rerun unchanged #{number}", reruns[-1]), flush=True)
        finally:
            stop_server(server)
        failed = [m for m in [full, *reruns] if m.returncode != 0]
        unchanged = [m for m in reruns if f"0 memos, {args.n} unchanged" not in m.output]
        median = statistics.median(m.wall for m in reruns)
        ratio = median / full.wall
        print(f"\nmedian rerun wall {median:.2f} s (min {min(m.wall for m in reruns):.2f}, "
              f"max {max(m.wall for m in reruns):.2f}); load {os.getloadavg()[0]:.2f} at the end")
        print(f"{'nightly rerun, nothing changed: wall / full run':<52} {ratio:6.3f}  (target <= {TARGET:.2f})  "
              f"{'ok' if ratio <= TARGET else 'MISSED'}")
        for m in failed + unchanged:
            print(f"--- a run that failed or did not keep every memo ---\n{m.output[-2000:]}")
        if failed or unchanged:
            return 1
        return 0 if args.quick or ratio <= TARGET else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
