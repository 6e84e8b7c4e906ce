"""Bench rows for `catalog sync`: the sync itself, and the re-issue it causes, in one sitting.

    .venv/bin/python bench/sync_row.py            # sync x5, re-issue at N=300 (a few minutes here)
    .venv/bin/python bench/sync_row.py --quick    # sync x1, re-issue at N=12: a smoke run

sync      read, parse and diff the full recorded models.dev snapshot (tests/data/sync: 5,276 offers),
          OpenRouter's listing and genai-prices' data against the shipped catalog (catalog.sync.plan_sync,
          from local files: no network). Median of the runs; target <= 2 s. Baseline in the same run:
          json.loads of the same models.dev bytes, the floor any parser pays (printed as a ratio).
re-issue  N generated requirement files (run_bench.generate_inputs) rendered once by the batch
          (pipeline.run_batch on a process pool, WeasyPrint, no Prefect: the stages `modelmemo run`
          runs), then one offer's price changed in a synced overlay and the batch run again. Only the
          memos whose decision used that offer are re-rendered; the target is
          rerun wall <= 1.2 x (re-rendered / N) x full-run wall.
Exits 1 when a target is missed (not with --quick).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_bench import ROOT, generate_inputs  # noqa: E402

SYNC_TARGET_SECONDS = 2.0
REISSUE_TARGET = 1.2
RECORDED = ROOT / "tests" / "data" / "sync"
CATALOG = ROOT / "catalog" / "models.yaml"
TEMPLATES = ROOT / "templates"
CHANGED_OFFER = ("claude", "anthropic-api")  # scored by most hosted text projects


def sync_row(work: Path, runs: int) -> float:
    from modelmemo.catalog.fetch import read_listing
    from modelmemo.catalog.listings import genai_prices_listing, parse_models_dev, parse_openrouter
    from modelmemo.catalog.load import load_catalog
    from modelmemo.catalog.sync import plan_sync

    models_dev = work / "api.json"
    models_dev.write_bytes(gzip.decompress((RECORDED / "models-dev-api.json.gz").read_bytes()))
    openrouter = work / "models.json"
    openrouter.write_bytes(gzip.decompress((RECORDED / "openrouter-models.json.gz").read_bytes()))
    catalog = load_catalog([CATALOG])
    today = date.today()
    timings, floors = [], []
    for _ in range(runs):
        started = time.perf_counter()
        json.loads(models_dev.read_bytes())
        floors.append(time.perf_counter() - started)
        started = time.perf_counter()
        listings = {"models.dev": parse_models_dev(read_listing("models.dev", str(models_dev)), "bench", today),
                    "openrouter": parse_openrouter(read_listing("openrouter", str(openrouter)), "bench", today, today),
                    "genai-prices": genai_prices_listing(today, today)}
        plan = plan_sync(catalog, listings, today)
        timings.append(time.perf_counter() - started)
    median, floor = statistics.median(timings), statistics.median(floors)
    print(f"sync: {listings['models.dev'].offer_count:,} + {listings['openrouter'].offer_count:,} + "
          f"{listings['genai-prices'].offer_count:,} listed offers, {len(plan.updates)} offers synced, "
          f"{len(plan.diff)} changes")
    print(f"  parse + diff, median of {runs}: {median:.3f} s (min {min(timings):.3f}, max {max(timings):.3f}); "
          f"json.loads of models.dev alone {floor:.3f} s, ratio {median / floor:.1f}x")
    print(f"{'sync row: parse + diff of a full models.dev snapshot':<60} {median:6.3f} s  "
          f"(target <= {SYNC_TARGET_SECONDS:g} s)  {'ok' if median <= SYNC_TARGET_SECONDS else 'MISSED'}")
    return median


def _overlay(path: Path, offer: tuple[str, str], factor: float) -> None:
    """A synced overlay (the file `catalog sync` writes) moving one offer's token prices by `factor`."""
    from modelmemo.catalog.load import load_catalog

    catalog = load_catalog([CATALOG])
    deployment = next(d for d in catalog.models[offer[0]].deployments if d.id == offer[1])
    facts = {name: {"value": round(float(deployment.value(name)) * factor, 6), "source": "sync-bench",
                    "synced_id": "bench:price-change"} for name in ("input_usd_per_1m", "output_usd_per_1m")}
    path.write_text(json.dumps({
        "catalog_version": 1,
        "sources": {"sync-bench": {"url": "https://example.org/bench", "title": "bench price change",
                                   "as_of": date.today().isoformat()}},
        "models": {}, "offer_updates": {"/".join(offer): {"facts": facts}}}), encoding="utf-8")


def reissue_row(work: Path, n: int, workers: int) -> float:
    from modelmemo.batch.pipeline import run_batch

    inputs, output = work / "inputs", work / "out"
    generate_inputs(inputs, n)
    overlay = work / "synced.json"
    _overlay(overlay, CHANGED_OFFER, 1.0)  # the same prices: the full run already merges an overlay
    # A pool per run, as each `modelmemo run` has (workers forked during a run hold its lock's file).
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        full = run_batch(inputs, output, (CATALOG, overlay), TEMPLATES, executor=pool, deliver=False)
    full_wall = time.perf_counter() - started
    _overlay(overlay, CHANGED_OFFER, 1.25)
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        rerun = run_batch(inputs, output, (CATALOG, overlay), TEMPLATES, executor=pool, deliver=False)
    rerun_wall = time.perf_counter() - started
    rendered = sum(1 for p in full.projects if p.status == "memo")
    reissued = sum(1 for p in rerun.projects if p.status == "memo")
    kept = sum(1 for p in rerun.projects if p.status == "skipped")
    print(f"re-issue: N={n}, {workers} workers; full run {full_wall:.2f} s ({rendered} memos); "
          f"{'/'.join(CHANGED_OFFER)} prices x1.25 -> {reissued} re-rendered, {kept} kept, in {rerun_wall:.2f} s")
    if rendered != n or reissued + kept != n or reissued == 0:
        print("  a run did not render or keep every memo")
        return float("inf")
    ratio = rerun_wall / (reissued / n * full_wall)
    print(f"{'re-issue row: rerun / ((re-rendered / N) x full run)':<60} {ratio:6.3f}    "
          f"(target <= {REISSUE_TARGET:g})  {'ok' if ratio <= REISSUE_TARGET else 'MISSED'}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="batch size of the re-issue row (default 300)")
    parser.add_argument("--runs", type=int, default=5, help="sync runs (default 5)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="render processes")
    parser.add_argument("--quick", action="store_true", help="sync x1, re-issue at N=12: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n, args.runs = 12, 1
    work = Path(tempfile.mkdtemp(prefix="modelmemo-sync-bench-"))
    try:
        print(f"modelmemo sync rows: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at the start", flush=True)
        seconds = sync_row(work, args.runs)
        ratio = reissue_row(work, args.n, args.workers)
        if ratio == float("inf"):
            return 1
        return 0 if args.quick or (seconds <= SYNC_TARGET_SECONDS and ratio <= REISSUE_TARGET) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
