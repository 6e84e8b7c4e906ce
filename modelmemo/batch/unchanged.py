"""Skipping what has not changed: which memos of the last runs are still valid (same input, same
catalog, templates, memo version and renderer), and recording each fresh memo so the next run can
skip it. The state file itself (its format, its lock) is batch/state.py."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from modelmemo.batch import layout
from modelmemo.batch.layout import memo_file
from modelmemo.batch.state import MemoState, render_fingerprint
from modelmemo.batch.work_unit import PlannedProject, ProjectOutcome
from modelmemo.catalog.load import Catalog
from modelmemo.memo.document import MEMO_VERSION
from modelmemo.memo.pdf_renderer import WEASYPRINT, PdfRenderer


def current_fingerprint(catalog: Catalog, templates_sha256: str, renderer: PdfRenderer = WEASYPRINT) -> str:
    """WeasyPrint's memos as ever; another renderer's (a test's fake) are never kept by a real run, nor keep one."""
    fingerprint = render_fingerprint(catalog.sha256, templates_sha256, MEMO_VERSION)
    return fingerprint if renderer == WEASYPRINT else f"{fingerprint}+{type(renderer).__qualname__}"


def previous_memo_path(state: MemoState, project_id: str, output_dir: Path) -> str | None:
    entry = state.entries.get(project_id)
    if not entry:
        return None
    path = memo_file(layout.run_dir(output_dir, entry["run_id"]), project_id, "json")
    return str(path) if path.is_file() else None


def split_unchanged(projects: Iterable[PlannedProject], state: MemoState, fingerprint: str, output_dir: Path,
                    force: bool = False) -> tuple[list[PlannedProject], list[ProjectOutcome]]:
    """(projects to render, outcomes for projects whose previous memo is still valid)."""
    to_render: list[PlannedProject] = []
    skipped: list[ProjectOutcome] = []
    for planned in projects:
        entry = None if force else state.unchanged(planned.project_id, planned.input_sha256, fingerprint, output_dir)
        if entry is None:
            to_render.append(planned)
            continue
        prefix = f"../{entry['run_id']}/{planned.project_id}"  # relative to this run's folder (layout.memo_name)
        skipped.append(ProjectOutcome(
            planned.project_id, planned.name, planned.file, "skipped",
            verdict=entry.get("verdict"), verdict_label=entry.get("verdict_label"), top_model=entry.get("top_model"),
            top_model_name=entry.get("top_model_name"), top_score=entry.get("top_score"),
            html=prefix + ".html", pdf=prefix + ".pdf", json=prefix + ".json",
            recipients=tuple(entry.get("recipients", ())), memo_run_id=entry["run_id"],
            input_sha256=planned.input_sha256, fingerprint=fingerprint,
        ))
    return to_render, skipped


def record_outcome(state: MemoState, outcome: ProjectOutcome) -> None:
    """Remember a fresh memo so the next run can skip it; saved at once (a crash loses nothing)."""
    if outcome.status != "memo":
        return
    state.record(outcome.project_id, run_id=outcome.memo_run_id, file=outcome.file,
                 input_sha256=outcome.input_sha256, fingerprint=outcome.fingerprint, verdict=outcome.verdict,
                 verdict_label=outcome.verdict_label, top_model=outcome.top_model,
                 top_model_name=outcome.top_model_name, top_score=outcome.top_score,
                 recipients=list(outcome.recipients))
    state.save()


def templates_fingerprint(templates_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(templates_dir.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(templates_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
