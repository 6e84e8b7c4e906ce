"""The bench's render row: median render CPU per memo, the current memos against the memo HTML of
before issue 12 (bench/fixtures/memos-before-issue12/), in the same process and run.

    .venv/bin/python bench/render_row.py [--repeats 5]

Each shipped example is rendered to PDF as the pipeline does (render_memo_html + the tagged
PDF/UA-1 render_pdf_checked); each old HTML file with the same WeasyPrint call. Old and new are
interleaved so both see the same machine state, the order within each pair alternating; every memo
is rendered once before the timing starts (a render worker's steady state: fonts and glyphs
loaded), and each timed render follows an untimed gc.collect(), so that neither pays for the
other's garbage. Each memo's figure is its fastest of the repeats (the least disturbed: on this
shared 2-core machine single renders vary by 10-20%), the row's figure the median over the nine.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURE = ROOT / "bench" / "fixtures" / "memos-before-issue12"
TARGET = 0.35


def measure(repeats: int = 5, limit: int | None = None) -> tuple[float, float]:
    """(old, new): median render CPU per memo; `limit` takes the first few examples only (a smoke run)."""
    from modelmemo.catalog.load import load_catalog
    from modelmemo.memo.document import RunContext, make_memo
    from modelmemo.memo.render import render_memo_html, render_pdf, render_pdf_checked, settle_render_process
    from modelmemo.inputs.requirements import Requirements
    from modelmemo.settings import Settings
    from modelmemo.inputs.validation import validate_file

    settings = Settings.from_env()
    templates = settings.templates_dir
    catalog = load_catalog(list(settings.catalog_files))
    new_html = []
    for path in sorted((ROOT / "inputs").iterdir()):
        document, problems = validate_file(path)
        if problems:
            continue
        req = Requirements.from_data(document.data)
        memo, _ = make_memo(req, catalog, RunContext("bench", "2026-11-29T00:00:00+00:00", path.name, document.sha256))
        new_html.append(memo)
    old_html = [p.read_text(encoding="utf-8") for p in sorted(FIXTURE.glob("*.html"))]
    if limit:
        new_html, old_html = new_html[:limit], old_html[:limit]
    for html in old_html:  # warm-up: fonts, glyphs, WeasyPrint's caches, for both sets alike
        render_pdf(html, templates)
    for memo in new_html:
        render_pdf_checked(render_memo_html(memo, templates), templates)
    settle_render_process()  # as every render worker does after its imports
    old_t = [float("inf")] * len(old_html)
    new_t = [float("inf")] * len(new_html)

    def render_old(i: int) -> None:
        gc.collect()  # untimed: a render pays for its own garbage, not for the previous one's
        start = time.process_time()
        render_pdf(old_html[i], templates)
        old_t[i] = min(old_t[i], time.process_time() - start)

    def render_new(i: int) -> None:
        gc.collect()
        start = time.process_time()
        render_pdf_checked(render_memo_html(new_html[i], templates), templates)
        new_t[i] = min(new_t[i], time.process_time() - start)

    for repeat in range(repeats):
        # Which of a pair goes first alternates: the second of a pair runs on the CPU caches the
        # first left (with a fixed order, and no gc.collect() between, the new memo, always second,
        # measured 10-15% slower).
        pair = (render_old, render_new) if repeat % 2 == 0 else (render_new, render_old)
        for i in range(max(len(old_html), len(new_html))):
            for render in pair:
                if i < len(old_t if render is render_old else new_t):
                    render(i)
    return statistics.median(old_t), statistics.median(new_t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="the first few examples only (a smoke run)")
    parser.add_argument("--json", action="store_true", help='print {"old": s, "new": s} only (for run_bench.py)')
    args = parser.parse_args()
    if not args.json:
        print(f"rendering the shipped examples, old and new, {args.repeats} times each (about a minute)...",
              file=sys.stderr, flush=True)
    old, new = measure(args.repeats, args.limit)
    if args.json:
        print(json.dumps({"old": old, "new": new}))
        return 0
    print(f"{'render, memo before issue 12 (cpu/memo)':<44} {old:8.3f} s")
    print(f"{'render, current memo (cpu/memo)':<44} {new:8.3f} s")
    ratio = new / old
    print(f"{'render: current / before issue 12':<52} {ratio:6.3f}  (target <= {TARGET:.2f})  "
          f"{'ok' if ratio <= TARGET else 'MISSED'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
