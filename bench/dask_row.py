"""Bench row for scale-out: the same batch on a Dask LocalCluster and on the local process pool.

    .venv/bin/python bench/dask_row.py            # N=300 (about 12 min here)
    .venv/bin/python bench/dask_row.py --quick    # N=6 smoke run

Both runs are `modelmemo run --no-email` against one running `prefect server start`, with the
same number of render processes: the local pool (`--workers W`), then `--runner dask
--dask-address` of a LocalCluster started here beforehand (W worker processes, one thread each;
its start-up is not timed, as a cluster is already running in production). Prints both rows, the
Dask wall / local-pool wall ratio (target <= 1.10 at N=300) and the orchestration overhead per memo
(wall x workers / memos - render CPU per memo, the render CPU taken from the Dask worker processes
themselves). Exits 1 when the target is missed or a run fails (not with --quick).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_bench import PYTHON, Measure, _tree_sample, generate_inputs, measure, row, start_server, stop_server  # noqa: E402

TARGET = 1.10


def process_cpu(pid: int) -> float:
    return sum(_tree_sample(pid)[1].values())


def measure_dask(inputs: Path, output: Path, env: dict[str, str], workers: int,
                 email: bool = False) -> tuple[Measure, float]:
    """`modelmemo run --runner dask` on a fresh LocalCluster: (the command's measure, the CPU seconds
    the Dask worker processes spent meanwhile). email=True keeps the email stage (outbox), as
    run_bench's "server" row does."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        before = sum(process_cpu(pid) for pid in pids)
        result = measure([PYTHON, "-m", "modelmemo.cli", "run", str(inputs), "--output", str(output)]
                         + ([] if email else ["--no-email"])
                         + ["--runner", "dask", "--dask-address", cluster.scheduler_address], env)
        worker_cpu = sum(process_cpu(pid) for pid in pids) - before
    return result, worker_cpu


def measure_local(inputs: Path, output: Path, env: dict[str, str], workers: int) -> Measure:
    return measure([PYTHON, "-m", "modelmemo.cli", "run", str(inputs), "--output", str(output), "--no-email",
                    "--workers", str(workers)], env)


def report(n: int, workers: int, local: Measure, dask: Measure, worker_cpu: float) -> list[tuple[str, float, float]]:
    """Print the rows and figures; return the targets as (label, value, limit)."""
    print(row("local pool (server)", local))
    print(row("dask LocalCluster (server)", dask) + f"   workers' cpu {worker_cpu:.1f} s")
    render_cpu = worker_cpu / n
    print()
    print(f"{'render cpu per memo (on the dask workers)':<52} {render_cpu:6.3f} s")
    for name, m in (("local pool", local), ("dask", dask)):
        print(f"{'wall x workers / memos, ' + name:<52} {m.wall * workers / n:6.3f} s"
              f"   orchestration overhead {m.wall * workers / n - render_cpu:+.3f} s per memo")
    return [("scale-out: dask wall / local-pool wall", dask.wall / local.wall, TARGET)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="N=6: a smoke run of this script")
    args = parser.parse_args()
    if args.quick:
        args.n = 6
    work = Path(tempfile.mkdtemp(prefix="modelmemo-bench-dask-"))
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1"}
    for name in ("PREFECT_API_URL", "MODELMEMO_SMTP_HOST", "MODELMEMO_WORKERS"):
        env.pop(name, None)
    try:
        inputs = work / "inputs"
        generate_inputs(inputs, args.n)
        print(f"modelmemo scale-out row: N={args.n}, {args.workers} workers, {os.cpu_count()} CPUs, work dir {work}")
        server, url, _ = start_server(env)
        try:
            served = {**env, "PREFECT_API_URL": url}
            local = measure_local(inputs, work / "local", served, args.workers)
            dask, worker_cpu = measure_dask(inputs, work / "dask", served, args.workers)
        finally:
            stop_server(server)
        print(f"\n{'':<34} {'wall':>10} {'cpu':>10} {'peak rss':>11}   (cpu, rss: the command's process tree)")
        targets = report(args.n, args.workers, local, dask, worker_cpu)
        missed = False
        for label, value, limit in targets:
            ok = value <= limit
            missed |= not ok
            print(f"{label:<52} {value:6.3f}  (target <= {limit:.2f})  {'ok' if ok else 'MISSED'}")
        failed = [(name, m) for name, m in (("local", local), ("dask", dask)) if m.returncode != 0]
        for name, m in failed:
            print(f"--- {name} exited {m.returncode} ---\n{m.output[-2000:]}")
        if args.quick:
            return 1 if failed else 0
        return 1 if missed or failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
