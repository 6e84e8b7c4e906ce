"""Run one batch in this process, for the fault tests: `python -m tests.fault_runner INPUT OUTPUT`.

Renders serially (executor=None), so a MODELMEMO_FAILPOINT kills the whole run, not a worker.
Prints the summary's counts as one JSON line; exit 0 when the summary is ok, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog" / "models.yaml"
TEMPLATES = ROOT / "templates"


def main(argv: list[str]) -> int:
    from modelmemo.batch.pipeline import run_batch

    input_dir, output_dir = Path(argv[0]), Path(argv[1])
    summary = run_batch(input_dir, output_dir, catalog_files=(CATALOG,), templates_dir=TEMPLATES, executor=None)
    print(json.dumps({"run_id": summary.run_id, "counts": summary.counts,
                      "delivery_counts": summary.delivery_counts}), flush=True)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
