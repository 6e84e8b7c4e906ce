"""Run one batch in this process, for the fault tests:
`python -m tests.fault_runner INPUT OUTPUT [--fake-pdf]`.

Renders serially (executor=None), so a MODELMEMO_FAILPOINT kills the whole run, not a worker.
--fake-pdf renders the PDFs with the fake renderer (tests/support_renderer.py), for the tests about
files, state and emails. Prints the summary's counts as one JSON line; exit 0 when the summary is
ok, 1 otherwise.
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

    from modelmemo.memo.pdf_renderer import WEASYPRINT
    from tests.support_renderer import FAKE_PDF

    input_dir, output_dir = Path(argv[0]), Path(argv[1])
    renderer = FAKE_PDF if "--fake-pdf" in argv[2:] else WEASYPRINT
    summary = run_batch(input_dir, output_dir, catalog_files=(CATALOG,), templates_dir=TEMPLATES, executor=None,
                        renderer=renderer)
    print(json.dumps({"run_id": summary.run_id, "counts": summary.counts,
                      "delivery_counts": summary.delivery_counts}), flush=True)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
