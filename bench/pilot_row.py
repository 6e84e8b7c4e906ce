"""The bench's pilot row: how close a pilot's wall time comes to the ideal its concurrency allows.

    .venv/bin/python bench/pilot_row.py            # 200 examples x 3 candidates, 200 ms per answer (~20 s)
    .venv/bin/python bench/pilot_row.py --quick    # 20 x 3: a smoke run

Server    tests/pilot_server.py, the tests' OpenAI-compatible server on 127.0.0.1 (threads), answering
          every request after `--latency` seconds (default 0.2) with the example's reference; in a process
          of its own, as a real endpoint is (in the pilot's process its threads would compete with the
          pilot's event loop for the interpreter lock, which is the server's cost, not the pilot's).
Pilot     run_pilot (what `modelmemo pilot` calls) on one project of N chat examples, three candidates of
          one provider (the catalog's Claude Sonnet, Haiku and Opus offers, through the server as a
          gateway), so one concurrency limit (MODELMEMO_PILOT_CONCURRENCY, default here 8) bounds them all;
          an empty output folder, so nothing is cached.
Figure    wall time of run_pilot (planning, calls, cache writes, metrics with their 1,000-resample
          bootstrap, results) divided by the ideal, calls x latency / concurrency.
          Target <= 1.5. A second run (every answer cached) is printed too; it makes no call.
Exits 1 when the target is missed, or a call is missing or repeated. --quick is a smoke run: its ideal is
1.5 s, against which fixed costs (planning, the client's start) weigh too much for the target to apply.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = 1.5


def _serve(answers: dict, names: dict, latency: float, pipe) -> None:
    """The server's process: says its URL, then answers "count" with (calls, max in flight) until "stop"."""
    from tests.pilot_server import PilotServer

    with PilotServer(answers, names, delay=latency) as server:
        pipe.send(server.url)
        while pipe.recv() == "count":
            pipe.send((server.total_calls, server.max_in_flight))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    examples_count = 20 if args.quick else args.examples

    from modelmemo.catalog.load import load_catalog
    from modelmemo.pilot.plan import PilotOptions
    from modelmemo.pilot.run import run_pilot
    from modelmemo.resources import catalog_file
    from modelmemo.settings import Settings
    from tests.pilot_helpers import HAIKU, OPUS, PICK, answers_for, chat_examples, pilot_env, write_memo, write_project
    import multiprocessing

    catalog = load_catalog([catalog_file()])
    with tempfile.TemporaryDirectory(prefix="modelmemo-pilot-bench-") as folder:
        tmp = Path(folder)
        examples = chat_examples(examples_count)
        requirement = write_project(tmp / "in", examples)
        write_memo(tmp / "out", [PICK], [HAIKU, OPUS])
        names = {PICK[2]: "good", HAIKU[2]: "good", OPUS[2]: "good"}
        here, there = multiprocessing.Pipe()
        server = multiprocessing.get_context("fork").Process(
            target=_serve, args=(answers_for(examples), names, args.latency, there), daemon=True)
        server.start()
        try:
            url = here.recv()
            settings = Settings.from_env(pilot_env(url, MODELMEMO_PILOT_CONCURRENCY=str(args.concurrency),
                                                   MODELMEMO_PILOT_TIMEOUT_SECONDS="60"))
            options = PilotOptions(tmp / "out")
            started = time.perf_counter()
            report = run_pilot([requirement], catalog, settings, options, {}, lambda line: None)
            wall = time.perf_counter() - started
            here.send("count")
            calls, in_flight = here.recv()
            started = time.perf_counter()
            rerun = run_pilot([requirement], catalog, settings, options, {}, lambda line: None)
            rerun_wall = time.perf_counter() - started
            here.send("count")
            rerun_calls = here.recv()[0] - calls
        finally:
            here.send("stop")
            server.join(timeout=10)
    ideal = calls * args.latency / args.concurrency
    ratio = wall / ideal
    row = {"examples": examples_count, "candidates": 3, "calls": calls, "latency_s": args.latency,
           "concurrency": args.concurrency, "max_in_flight": in_flight, "wall_s": round(wall, 2),
           "ideal_s": round(ideal, 2), "ratio": round(ratio, 3), "target": TARGET,
           "rerun_wall_s": round(rerun_wall, 2), "rerun_calls": rerun_calls, "ok": report.ok and rerun.ok}
    if args.json:
        print(json.dumps(row))
    else:
        print(f"pilot: {calls} calls ({examples_count} examples x 3 candidates) at {args.latency:g} s each, "
              f"concurrency {args.concurrency} (max in flight {in_flight}): {wall:.2f} s; ideal {ideal:.2f} s; "
              f"ratio {ratio:.2f} (target <= {TARGET}); rerun from the cache {rerun_wall:.2f} s, {rerun_calls} calls")
    on_target = ratio <= TARGET or args.quick
    return 0 if on_target and row["ok"] and rerun_calls == 0 and calls == 3 * examples_count else 1


if __name__ == "__main__":
    sys.exit(main())
