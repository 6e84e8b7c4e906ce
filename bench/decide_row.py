"""The bench's decide row: median decision time per memo with the full synced catalog, against the
render CPU of the same memos, in the same process and run.

    .venv/bin/python bench/decide_row.py              # 9 examples + 50 generated, 5 repeats (a few minutes)
    .venv/bin/python bench/decide_row.py --quick      # 2 + 2 memos, 1 repeat: a smoke run

Catalog   the shipped catalog plus the overlay `catalog sync` writes (DIR/state/catalog/synced.json),
          produced here by catalog.synced.sync_catalog (what `modelmemo catalog sync` calls) from the
          recorded listings in tests/data/sync as local mirror files (no network), then merged by
          load_catalog as every run after a sync merges it.
Memos     the shipped examples in inputs/ and a seeded set of generated requirements (tasks, budgets,
          volumes, security, residency, support, long-term goals and weights varied; each checked
          against the requirements schema).
decide    decide(req, catalog): CPU time (time.process_time) of the decision alone, the requirements
          already parsed. Target: median <= 50 ms per memo.
render    the baseline, measured in the same loop: render CPU of the same memo (make_memo's document,
          then render_memo_html + the tagged PDF/UA-1 render_pdf_checked, as bench/render_row.py does).
          decide/render says how small a part of a memo's cost deciding is.
A memo's decide and render are timed back to back in each repeat (same machine state), each after an
untimed gc.collect(), after one untimed warm-up of every memo and settle_render_process() (a render
worker's steady state). Each memo's figure is its fastest of the repeats (this shared 2-core machine
is noisy), the row's figure the median over the memos. make_memo (decide plus the memo document with
its sensitivity analysis) is printed alongside for information; it has no target. Exits 1 when the
target is missed (with --quick too).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECORDED = ROOT / "tests" / "data" / "sync"
TARGET_MS = 50.0
GENERATED = 50
SEED = 22  # issue 22
GENERATED_AT = "2026-11-29T00:00:00+00:00"

TASK_SETS = [["chat"], ["chat", "summarization"], ["text-generation"], ["code"], ["code", "chat"], ["translation"],
             ["image-generation"], ["embeddings"], ["classification", "embeddings"],
             ["summarization", "classification"], ["text-generation", "image-generation"],
             ["chat", "code", "summarization", "translation"]]


@dataclass
class Memo:
    name: str
    req: Any  # Requirements
    document: dict[str, Any]  # make_memo's memo, what the renderer takes


def generated_requirements(n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """N varied requirement documents (tests/helpers.requirements' shape), deterministic for a seed."""
    rng = random.Random(seed)
    documents = []
    for i in range(n):
        tasks = rng.choice(TASK_SETS)
        volume: dict[str, int] = {"requests_per_month": rng.choice([1_000, 10_000, 200_000, 5_000_000]),
                                  "tokens_per_request": rng.choice([300, 1_000, 4_000, 20_000])}
        if "image-generation" in tasks:
            volume["images_per_month"] = rng.choice([100, 5_000, 100_000])
        security: dict[str, Any] = {"data_sensitivity": rng.choice(["public", "internal", "confidential", "regulated"]),
                                    "on_premises_only": rng.random() < 0.15}
        if rng.random() < 0.15:
            security["transparency_required"] = True
        if rng.random() < 0.25:
            security["data_residency"] = rng.choice([["EU"], ["US"], ["EU", "UK"], ["JP"]])
        document = {
            "schema_version": 1,
            "project": {"id": f"decide-bench-{i:03d}", "name": f"Decide bench project {i}",
                        "owner": {"name": "Bench Owner", "email": "owner@example.com"}},
            "needs": {"tasks": tasks,
                      "languages": rng.choice([["en"], ["en"], ["en", "es"], ["de", "fr", "it"], ["ja"]]),
                      "customization": rng.choice(["prompting"] * 4 + ["fine-tuning", "full-control"])},
            "budget": {"monthly_usd": rng.choice([50, 1_000, 10_000, 250_000]), "volume": volume},
            "support": {"ml_expertise": rng.choice(["none", "basic", "strong"]),
                        "vendor_sla_required": rng.random() < 0.4},
            "security": security,
            "long_term": {"growth": rng.choice(["low", "medium", "high"]),
                          "lock_in_tolerance": rng.choice(["low", "medium", "high"])},
        }
        if rng.random() < 0.5:
            document["weights"] = {f: rng.choice([0, 1, 2, 5]) for f in
                                   ("requirements", "budget", "support", "security", "long_term")}
            document["weights"]["requirements"] = rng.choice([1, 3])  # never all zero
        documents.append(document)
    return documents


def synced_catalog(work: Path) -> tuple[Any, str]:
    """The shipped catalog (and any MODELMEMO_CATALOG_EXTRA files) with a fresh sync's overlay merged."""
    from modelmemo.catalog.load import load_catalog
    from modelmemo.catalog.synced import sync_catalog, synced_file, with_synced
    from modelmemo.settings import Settings

    models_dev, openrouter = work / "api.json", work / "models.json"
    models_dev.write_bytes(gzip.decompress((RECORDED / "models-dev-api.json.gz").read_bytes()))
    openrouter.write_bytes(gzip.decompress((RECORDED / "openrouter-models.json.gz").read_bytes()))
    files = tuple(Settings.from_env().catalog_files)
    output = work / "out"
    outcome = sync_catalog(files, output, str(models_dev), str(openrouter))
    if outcome.written != synced_file(output) or not outcome.written.is_file():
        raise SystemExit(f"catalog sync wrote no overlay ({outcome.written})")
    merged = with_synced(files, output)
    catalog = load_catalog(list(merged))
    offers = [d for m in catalog.models.values() for d in m.deployments]
    synced_facts = sum(1 for d in offers for f in d.facts.values() if getattr(f, "synced_id", ""))
    if not synced_facts:
        raise SystemExit("the merged catalog has no synced fact: the overlay was not merged")
    plan = outcome.plan
    listed = " + ".join(f"{listing.offer_count:,}" for listing in plan.listings.values())
    summary = (f"catalog: {len(files)} shipped file(s) + synced overlay ({listed} listed offers -> "
               f"{len(plan.updates)} offers synced, {len(plan.applied)} changes applied): "
               f"{len(catalog.models)} models, {len(offers)} offers, {synced_facts} synced facts")
    return catalog, summary


def load_memos(catalog: Any, generated: int, examples_limit: int | None) -> list[Memo]:
    from modelmemo.inputs.requirements import Requirements
    from modelmemo.inputs.validation import schema_validator, validate_file
    from modelmemo.memo.document import RunContext, make_memo

    memos = []
    examples = sorted((ROOT / "inputs").iterdir())
    for path in examples[:examples_limit]:
        document, problems = validate_file(path)
        if problems or document is None:
            raise SystemExit(f"shipped example {path.name} does not validate: {problems[:1]}")
        req = Requirements.from_data(document.data)
        memo, _ = make_memo(req, catalog, RunContext("bench", GENERATED_AT, path.name, document.sha256))
        memos.append(Memo(path.name, req, memo))
    validator = schema_validator()
    for data in generated_requirements(generated):
        errors = [e.message for e in validator.iter_errors(data)]
        if errors:
            raise SystemExit(f"generated {data['project']['id']} does not validate: {errors[0]}")
        name = data["project"]["id"] + ".json"
        sha = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        req = Requirements.from_data(data)
        memo, _ = make_memo(req, catalog, RunContext("bench", GENERATED_AT, name, sha))
        memos.append(Memo(name, req, memo))
    return memos


def measure(memos: list[Memo], catalog: Any, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """Per memo, fastest of the repeats, in seconds of CPU: (decide, render, make_memo)."""
    from modelmemo.memo.document import RunContext, decide, make_memo
    from modelmemo.memo.render import render_memo_html, render_pdf_checked, settle_render_process
    from modelmemo.settings import Settings

    templates = Settings.from_env().templates_dir
    contexts = [RunContext("bench", GENERATED_AT, m.name, "0" * 64) for m in memos]
    for memo in memos:  # warm-up: fonts, glyphs, WeasyPrint's caches; the decision's code paths
        decide(memo.req, catalog)
        render_pdf_checked(render_memo_html(memo.document, templates), templates)
    settle_render_process()  # as every render worker does after its imports
    decide_t = [float("inf")] * len(memos)
    render_t = [float("inf")] * len(memos)
    make_t = [float("inf")] * len(memos)
    for _ in range(repeats):
        for i, memo in enumerate(memos):
            gc.collect()  # untimed: each timing pays for its own garbage only
            start = time.process_time()
            decide(memo.req, catalog)
            decide_t[i] = min(decide_t[i], time.process_time() - start)
            gc.collect()
            start = time.process_time()
            make_memo(memo.req, catalog, contexts[i])
            make_t[i] = min(make_t[i], time.process_time() - start)
            gc.collect()
            start = time.process_time()
            render_pdf_checked(render_memo_html(memo.document, templates), templates)
            render_t[i] = min(render_t[i], time.process_time() - start)
    return decide_t, render_t, make_t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per memo (default 5)")
    parser.add_argument("--generated", type=int, default=GENERATED, help=f"generated memos (default {GENERATED})")
    parser.add_argument("--quick", action="store_true", help="2 examples + 2 generated memos, 1 repeat: a smoke run")
    args = parser.parse_args()
    examples_limit = None
    if args.quick:
        args.repeats, args.generated, examples_limit = 1, 2, 2
    work = Path(tempfile.mkdtemp(prefix="modelmemo-decide-bench-"))
    try:
        print(f"modelmemo decide row: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at the start", flush=True)
        catalog, summary = synced_catalog(work)
        print(summary, flush=True)
        memos = load_memos(catalog, args.generated, examples_limit)
        shipped = len(memos) - args.generated
        print(f"memos: {shipped} shipped examples + {args.generated} generated (seed {SEED}), "
              f"{args.repeats} timed repeat(s) each, fastest kept", flush=True)
        decide_t, render_t, make_t = measure(memos, catalog, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    decide_ms = statistics.median(decide_t) * 1000
    render_ms = statistics.median(render_t) * 1000
    make_ms = statistics.median(make_t) * 1000
    worst = max(range(len(memos)), key=lambda i: decide_t[i])
    ratios = [d / r for d, r in zip(decide_t, render_t)]
    print(f"{'decide, median over ' + str(len(memos)) + ' memos (cpu/memo)':<48} {decide_ms:8.2f} ms  "
          f"(min {min(decide_t) * 1000:.2f}, max {decide_t[worst] * 1000:.2f}: {memos[worst].name})")
    print(f"{'make_memo: decide + memo document (cpu/memo)':<48} {make_ms:8.2f} ms  (information, no target)")
    print(f"{'render, same memos (cpu/memo)':<48} {render_ms:8.1f} ms  "
          f"(min {min(render_t) * 1000:.1f}, max {max(render_t) * 1000:.1f})")
    print(f"{'decide/render per memo':<48} median {statistics.median(ratios):.4f}, max {max(ratios):.4f}")
    met = decide_ms <= TARGET_MS
    print(f"decide: median {decide_ms:.1f} ms per memo (target <= {TARGET_MS:g} ms: {'met' if met else 'MISSED'}); "
          f"render {render_ms:.0f} ms; decide/render {decide_ms / render_ms:.3f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
