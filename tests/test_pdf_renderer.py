"""The PDF renderer interface (modelmemo/memo/pdf_renderer.py): WeasyPrint is the default at every
step, and a renderer given at the entry point reaches every render, across the process pool too."""

from __future__ import annotations

import inspect
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from modelmemo.batch import pipeline, unchanged, work_unit
from modelmemo.batch.state import render_fingerprint
from modelmemo.memo.document import MEMO_VERSION
from modelmemo.memo.pdf_renderer import WEASYPRINT, PdfRenderer, WeasyPrintRenderer

from .conftest import CATALOG, TEMPLATES, copy_examples
from .helpers import pdf_info, pdf_text
from .support_renderer import FAKE_PDF, PRODUCER, FakePdfRenderer, html_title


class OtherFake(FakePdfRenderer):
    """Another renderer: its memos are not the fake's."""


def test_weasyprint_is_the_default_wherever_a_renderer_can_be_given():
    assert isinstance(WEASYPRINT, WeasyPrintRenderer)
    for function in (pipeline.run_batch, pipeline.run_locked_batch, pipeline.make_jobs, work_unit.render_unit):
        assert inspect.signature(function).parameters["renderer"].default is WEASYPRINT, function.__name__
    assert pipeline.RenderJob.__dataclass_fields__["renderer"].default is WEASYPRINT


def test_both_renderers_fit_the_interface_and_pickle():
    for renderer in (WEASYPRINT, FAKE_PDF):
        assert isinstance(renderer, PdfRenderer)
        assert pickle.loads(pickle.dumps(renderer)) == renderer


def test_the_renderer_given_to_run_batch_renders_every_memo_on_a_forkserver_pool(drop_folder: Path, tmp_path: Path):
    """As the flow's pool starts its workers (forkserver): each job carries the fake to its worker."""
    copy_examples(drop_folder, ["legal-translation", "marketing-images"])
    output = tmp_path / "out"
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        summary = pipeline.run_batch(drop_folder, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES,
                                     executor=pool, deliver=False, renderer=FAKE_PDF)
    assert [p.status for p in summary.projects] == ["memo", "memo"], [p.error for p in summary.projects]
    for outcome in summary.projects:
        pdf = output / summary.run_id / outcome.pdf
        info = pdf_info(pdf)  # a valid PDF, one page, named after the memo
        assert info["Producer"] == PRODUCER and info["Pages"] == "1"
        title = html_title((output / summary.run_id / outcome.html).read_text(encoding="utf-8"))
        assert title and info["Title"] == title and "fake renderer" in pdf_text(pdf)


def test_a_memo_from_another_renderer_is_never_kept_as_unchanged(drop_folder: Path, tmp_path: Path, catalog):
    """Skip-unchanged compares what made the memo: WeasyPrint's fingerprint is the one it always was;
    another renderer's memos get their own, so a real run never keeps a fake PDF (nor the reverse)."""
    weasyprint = render_fingerprint(catalog.sha256, "t", MEMO_VERSION)
    assert unchanged.current_fingerprint(catalog, "t") == weasyprint
    assert unchanged.current_fingerprint(catalog, "t", WeasyPrintRenderer()) == weasyprint
    assert unchanged.current_fingerprint(catalog, "t", FAKE_PDF) != weasyprint
    copy_examples(drop_folder, ["marketing-images"])
    output = tmp_path / "out"

    def statuses(renderer: PdfRenderer) -> list[str]:
        summary = pipeline.run_batch(drop_folder, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES,
                                     deliver=False, renderer=renderer)
        return [p.status for p in summary.projects]

    assert statuses(FAKE_PDF) == ["memo"] and statuses(FAKE_PDF) == ["skipped"]
    assert statuses(OtherFake()) == ["memo"] and statuses(FAKE_PDF) == ["memo"]
