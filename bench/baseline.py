"""The benchmark's baseline: a plain serial loop over modelmemo's pure functions, no Prefect.

    python bench/baseline.py INPUT_DIR OUTPUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from modelmemo.catalog.load import load_catalog
from modelmemo.memo.document import RunContext, make_memo
from modelmemo.memo.render import render_memo_html, render_pdf
from modelmemo.inputs.requirements import Requirements
from modelmemo.settings import Settings
from modelmemo.inputs.validation import validate_file


def main(input_dir: Path, output_dir: Path) -> int:
    settings = Settings.from_env()
    catalog = load_catalog(list(settings.catalog_files))
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(input_dir.iterdir()):
        document, problems = validate_file(path)
        if problems:
            continue
        req = Requirements.from_data(document.data)
        memo, _ = make_memo(req, catalog, RunContext("baseline", "2026-01-01T00:00:00+00:00", path.name, document.sha256))
        html = render_memo_html(memo, settings.templates_dir)
        (output_dir / f"{req.project_id}.pdf").write_bytes(render_pdf(html, settings.templates_dir))
        (output_dir / f"{req.project_id}.html").write_text(html, encoding="utf-8")
        (output_dir / f"{req.project_id}.json").write_text(json.dumps(memo, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
