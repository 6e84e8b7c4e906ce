"""Every script renders: project names in Latin, Cyrillic, Greek, Arabic, Hebrew, CJK, Devanagari,
Thai and emoji print with real glyphs (no missing-glyph warning, an embedded font that covers
them, the text extractable), and a character no font has is reported as a warning on the memo."""

from __future__ import annotations

import io
import subprocess

import pytest

from modelmemo.memo.render import render_memo_html, render_pdf_checked

from .conftest import TEMPLATES
from .helpers import requirements
from .test_memo_layout import _memo

NAMES = {
    "latin": "Crème brûlée Überprüfung",
    "cyrillic": "Проверка договоров",
    "greek": "Έλεγχος συμβάσεων",
    "arabic": "مراجعة العقود",
    "hebrew": "בדיקת חוזים",
    "chinese": "合同审查助手",
    "japanese": "契約書レビュー",
    "korean": "계약 검토 도우미",
    "devanagari": "अनुबंध समीक्षा",
    "thai": "ตรวจสอบสัญญา",
    "emoji": "Launch 🚀 kit",
}


@pytest.fixture(scope="module")
def all_scripts_pdf(catalog):
    memo = _memo(catalog, requirements(**{"project.name": " · ".join(NAMES.values())}))
    return render_pdf_checked(render_memo_html(memo, TEMPLATES), TEMPLATES)


def test_every_script_renders_with_real_glyphs(all_scripts_pdf, tmp_path):
    assert all_scripts_pdf.warnings == []  # WeasyPrint drew no .notdef box
    pdf = tmp_path / "scripts.pdf"
    pdf.write_bytes(all_scripts_pdf.pdf)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    for family in ("DejaVu-Sans", "Noto-Sans-CJK", "Noto-Sans-Devanagari", "Noto-Sans-Thai", "Noto-Color-Emoji"):
        assert family in fonts, fonts
    from pypdf import PdfReader

    text = " ".join(PdfReader(io.BytesIO(all_scripts_pdf.pdf)).pages[0].extract_text().split())
    for script, name in NAMES.items():
        if script not in ("arabic", "hebrew", "devanagari", "thai", "emoji"):  # shaping reorders these in extraction
            assert name.split()[0] in text, (script, name)


def test_a_memo_without_other_scripts_lists_only_the_brand_font():
    """The fallback fonts cost layout time, so they are listed only when the memo's text needs them."""
    from modelmemo.memo.render import font_stack

    families = ["DejaVu Sans", "Noto Sans CJK SC", "Noto Sans Thai"]
    assert font_stack("Plain English, Ελληνικά, Русский", families) == ["DejaVu Sans"]
    assert font_stack("合同 and ตรวจ", families) == families


def test_a_missing_glyph_is_reported_as_a_warning_on_the_memo(catalog):
    # U+E000 is in the Private Use Area: no installed font has a glyph for it.
    memo = _memo(catalog, requirements(**{"project.name": "Private \ue000 glyph"}))
    rendered = render_pdf_checked(render_memo_html(memo, TEMPLATES), TEMPLATES)
    assert rendered.pdf.startswith(b"%PDF")
    assert len(rendered.warnings) == 1 and "U+E000" in rendered.warnings[0], rendered.warnings
    assert "empty boxes" in rendered.warnings[0]
    # The font configuration and stylesheet are reused across a worker's memos: the next memo with
    # the same missing glyph must be warned about too (a cache must not swallow the warning), and
    # a clean memo after it must not inherit the warning.
    again = render_pdf_checked(render_memo_html(memo, TEMPLATES), TEMPLATES)
    assert len(again.warnings) == 1 and "U+E000" in again.warnings[0], again.warnings
    clean = _memo(catalog, requirements(**{"project.name": "Plain glyphs"}))
    assert render_pdf_checked(render_memo_html(clean, TEMPLATES), TEMPLATES).warnings == []


def _chars_by_font(pdf: bytes) -> dict[str, str]:
    """Each embedded font's name (subset prefix dropped) and the text drawn with it, read back from the PDF."""
    from pypdf import PdfReader

    drawn: dict[str, list[str]] = {}

    def visit(text, cm, tm, font, size):
        if font is not None and text:
            drawn.setdefault(str(font.get("/BaseFont")).split("+")[-1], []).append(text)

    for pdf_page in PdfReader(io.BytesIO(pdf)).pages:
        pdf_page.extract_text(visitor_text=visit)
    return {font: "".join(parts) for font, parts in drawn.items()}


def test_an_emoji_in_the_project_name_leaves_every_digit_and_letter_to_the_text_font(catalog):
    """Pango takes digits from a colour emoji font listed anywhere in the font-family (it covers them
    for keycaps): with an emoji in the name, most figures of the memo were set in Noto Color Emoji."""
    memo = _memo(catalog, requirements(**{"project.name": "🚀 Launch 2027"}))
    rendered = render_pdf_checked(render_memo_html(memo, TEMPLATES), TEMPLATES)
    assert rendered.warnings == []
    drawn = _chars_by_font(rendered.pdf)
    emoji_fonts = {font: text for font, text in drawn.items() if "Emoji" in font}
    assert "🚀" in "".join(emoji_fonts.values()), drawn.keys()  # the emoji still prints from the emoji font
    for font, text in emoji_fonts.items():
        assert not [ch for ch in text if ch.isascii() and not ch.isspace()], (font, text[:80])
    text_digits = sum(ch.isdigit() for font, text in drawn.items() if font.startswith("DejaVu-Sans") for ch in text)
    assert text_digits > 100  # the memo's figures, all from the text font


def test_a_missing_glyph_is_said_in_the_memo_and_in_the_email_that_carries_it(tmp_path):
    """Not only in the index: the PDF (page 1), the HTML and JSON memo, and the email's text and HTML
    bodies say which characters print as empty boxes. The file goes through the real pipeline
    (validation, scoring, WeasyPrint), so the character is one an input file can carry."""
    import json

    from modelmemo.batch.pipeline import RenderJob, plan_batch, render_project
    from modelmemo.delivery.message import build_memo_email

    from .conftest import CATALOG
    from .helpers import pdf_text, write_yaml

    inputs, run_dir = tmp_path / "inputs", tmp_path / "run"
    inputs.mkdir()
    run_dir.mkdir()
    write_yaml(inputs / "boxes.yaml", requirements(**{"project.id": "boxes", "project.name": "Private \ue000 glyph"}))
    write_yaml(inputs / "clean.yaml", requirements(**{"project.id": "clean", "project.name": "Plain glyphs"}))
    plan = plan_batch(inputs)
    assert sorted(p.project_id for p in plan.projects) == ["boxes", "clean"]  # both pass validation
    memos = {}
    for project in plan.projects:
        outcome = render_project(RenderJob(project, str(run_dir), "run-1", "2026-11-28T02:00:00+00:00",
                                           (str(CATALOG),), str(TEMPLATES)))
        assert outcome.status == "memo", outcome.error
        memo = json.loads((run_dir / f"{project.project_id}.json").read_text(encoding="utf-8"))
        html = (run_dir / f"{project.project_id}.html").read_text(encoding="utf-8")
        page_1 = " ".join(pdf_text(run_dir / f"{project.project_id}.pdf").split("\f")[0].split())
        message = build_memo_email(memo, (run_dir / f"{project.project_id}.pdf").read_bytes(), "modelmemo@example.com",
                                   ["owner@example.com"], TEMPLATES)
        bodies = [" ".join(message.get_body((kind,)).get_content().split()) for kind in ("plain", "html")]
        memos[project.project_id] = (outcome, memo, html, page_1, bodies)

    outcome, memo, html, page_1, bodies = memos["boxes"]
    assert len(outcome.warnings) == 1 and "U+E000" in outcome.warnings[0]  # the index's warning, as before
    assert memo["render_warnings"] == list(outcome.warnings)
    assert 'class="render-warning"' in html and "U+E000" in html
    assert "Warning: 1 character(s) have no glyph" in page_1 and "(U+E000)" in page_1, page_1[:400]
    for body in bodies:
        assert "Warning:" in body and "U+E000" in body and "empty boxes" in body, body[:600]

    outcome, memo, html, page_1, bodies = memos["clean"]
    assert outcome.warnings == () and "render_warnings" not in memo
    assert 'class="render-warning"' not in html and "Warning:" not in page_1
    assert not any("Warning:" in body for body in bodies)
