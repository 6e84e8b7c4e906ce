"""The memo as a printed document: every shipped example and a set of stress inputs lay out inside
the page's content area, keep each cost row with its formula, put at most 3 pages before the
Appendix (which flows on after the proof: it never starts a new page while the page before has room),
and come out as tagged PDF/UA-1 with title, language and
bookmarks. Layout is checked on WeasyPrint's own box tree, not by eye."""

from __future__ import annotations

import re

import io
from pathlib import Path

import pytest

from modelmemo.memo.digest import decision_digest
from modelmemo.memo.document import RunContext, make_memo
from modelmemo.memo.render import render_memo_html, render_pdf_checked
from modelmemo.inputs.requirements import Requirements
from modelmemo.inputs.validation import validate_file

from .conftest import TEMPLATES, example_inputs
from .helpers import requirements

TOLERANCE_PT = 0.5 * 4 / 3  # half a point, in CSS px (WeasyPrint's unit)
ORPHANS = ("h1", "h2", "h3", "h4", "caption")  # never the last thing on a page
# The Appendix starts a new page only when the page before it is at least this full: a forced break
# before it left the page before under 40% full in a third of the memos.
MIN_FILL_BEFORE_APPENDIX = 0.6


def _memo(catalog, data: dict) -> dict:
    req = Requirements.from_data(data)
    return make_memo(req, catalog, RunContext("layout", "2026-11-28T02:00:00+00:00", "x.yaml", "0" * 64))[0]


def _examples(catalog) -> list[tuple[str, dict]]:
    memos = []
    for path in example_inputs():
        document, problems = validate_file(path)
        assert not problems, problems
        memos.append((path.stem, _memo(catalog, document.data)))
    return memos


def _stress(catalog) -> list[tuple[str, dict]]:
    long_word = "Supercalifragilisticexpialidocious" * 3
    return [
        ("long-names", _memo(catalog, requirements(**{
            "project.name": "Enterprise-wide multilingual knowledge assistant for regulated customer operations " * 2,
            "project.summary": f"{long_word} " + "A long summary that goes on. " * 20,
            "project.owner.name": "Maximiliana Konstantinopoulou-Vanderbilt-Featherstonehaugh",
            "needs.languages": ["en", "de", "fr", "es", "it", "pt", "nl", "ja", "zh", "ko", "ar", "hi"],
        }))),
        ("many-models", _memo(catalog, requirements(**{
            "needs.tasks": ["chat"], "budget.monthly_usd": 100000,
            "budget.volume": {"requests_per_month": 1000000, "tokens_per_request": 4000}}))),
        ("combination", _memo(catalog, requirements(**{
            "needs.tasks": ["chat", "image-generation", "embeddings", "translation"],
            "needs.languages": ["en", "de"],
            "budget.volume": {"requests_per_month": 50000, "tokens_per_request": 1200, "images_per_month": 5000}}))),
        ("no-volume-tiny-budget", _memo(catalog, requirements(**{
            "budget.monthly_usd": 1, "budget.volume": None}))),
    ]


def _boxes(box):
    yield box
    for child in getattr(box, "children", ()) or ():
        yield from _boxes(child)


def _layout(html: str):
    from weasyprint import HTML

    return HTML(string=html, base_url=TEMPLATES.resolve().as_uri() + "/").render()


def _check_document(name: str, html: str, max_pages_before_appendix: int | None = 3) -> list[str]:
    """Every fault of one laid-out memo: boxes past the content area, cost rows split from their
    formulas, the Appendix on a new page while the page before had room, more than 3 pages before it."""
    from weasyprint.formatting_structure.boxes import BlockLevelBox, LineBox, MarginBox, ReplacedBox

    document = _layout(html)
    faults = []
    cost_pages: dict[int, set[int]] = {}
    appendix_page = None
    fills: list[float] = []  # how full each page is: the bottom of its last line or image
    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box
        left, top = page_box.content_box_x(), page_box.content_box_y()
        right, bottom = left + page_box.width, top + page_box.height
        last_block = None  # the page's last block-level box in document order (its deepest)
        content_bottom = top
        for child in page_box.children:
            if isinstance(child, MarginBox):
                continue  # running headers and footers live in the margin by design
            for box in _boxes(child):
                if isinstance(box, BlockLevelBox) and box.element is not None:
                    last_block = box
                if box.width is None or not hasattr(box, "border_box_x"):
                    continue
                x0, y0 = box.border_box_x(), box.border_box_y()
                x1, y1 = x0 + box.border_width(), y0 + box.border_height()
                if isinstance(box, (LineBox, ReplacedBox)):
                    content_bottom = max(content_bottom, y1)
                if x0 < left - TOLERANCE_PT or x1 > right + TOLERANCE_PT or y1 > bottom + TOLERANCE_PT:
                    what = getattr(box, "text", None) or getattr(box.element, "tag", "?") if box.element is not None else "?"
                    faults.append(f"{name} p{number}: {type(box).__name__} {str(what)[:40]!r} at x {x0:.0f}-{x1:.0f}, "
                                  f"y to {y1:.0f} outside {left:.0f}-{right:.0f} x {top:.0f}-{bottom:.0f}")
                element = box.element
                if element is not None and "cost-block" in (element.get("class") or "").split():
                    cost_pages.setdefault(id(element), set()).add(number)
                if element is not None and element.get("id") == "appendix" and appendix_page is None:
                    appendix_page = number
                    # First on its page (no line above it here) while the page before had room.
                    if content_bottom <= top and number > 1 and fills[-1] < MIN_FILL_BEFORE_APPENDIX:
                        faults.append(f"{name}: the Appendix starts page {number}, leaving page {number - 1} "
                                      f"{fills[-1]:.0%} full")
        fills.append((content_bottom - top) / page_box.height)
        # A heading (or a table's caption) must never end a page with what it introduces on the next.
        if last_block is not None and number < len(document.pages) and last_block.element_tag in ORPHANS:
            text = " ".join("".join(b.text for b in _boxes(last_block) if getattr(b, "text", None)).split())
            faults.append(f"{name} p{number}: ends with an orphaned {last_block.element_tag} {text[:50]!r}")
    faults += [f"{name}: a cost row is split from its formula across pages {sorted(pages)}"
               for pages in cost_pages.values() if len(pages) > 1]
    if appendix_page is None:
        faults.append(f"{name}: no Appendix")
    elif max_pages_before_appendix is not None and appendix_page - 1 > max_pages_before_appendix:
        faults.append(f"{name}: {appendix_page - 1} pages before the Appendix (at most 3)")
    return faults


def test_every_shipped_example_and_stress_input_stays_inside_the_margins(catalog):
    examples, stress = _examples(catalog), _stress(catalog)
    assert len(examples) == 9
    faults = []
    for name, memo in examples:  # the shipped examples: also at most 3 pages before the Appendix
        faults += _check_document(name, render_memo_html(memo, TEMPLATES))
    for name, memo in stress:  # a 12-language, 600-character-summary project may run longer
        faults += _check_document(name, render_memo_html(memo, TEMPLATES), max_pages_before_appendix=None)
    assert not faults, "\n".join(faults)


def test_the_layout_check_catches_a_box_past_the_margin_a_split_cost_row_and_an_orphaned_heading(catalog):
    """The checker itself can fail: a too-wide table, a cost block forced across a page break, a
    heading forced to end a page, and the Appendix forced onto a new page after a near-empty one."""
    name, memo = _examples(catalog)[0]
    html = render_memo_html(memo, TEMPLATES)
    wide = html.replace("<h2>Cost vs budget</h2>", '<table style="width: 130%"><tr><td>wide</td></tr></table>'
                        "<h2>Cost vs budget</h2>", 1)
    split = html.replace('<div class="cost-block">',
                         '<div class="cost-block" style="break-inside: auto"><div style="height: 700pt"></div>', 1)
    orphan = html.replace("<h2>Cost vs budget</h2>", '<h2>Cost vs budget</h2><div style="break-before: page"></div>', 1)
    # A page holding one line, then the Appendix forced onto the next: the page before it had room.
    forced = html.replace('<section class="appendix"', '<p style="break-before: page">One line.</p>'
                          '<section style="break-before: page" class="appendix"', 1)
    assert forced != html
    assert any("outside" in f for f in _check_document("wide", wide))
    assert any("orphaned h2 'Cost vs budget'" in f for f in _check_document("orphan", orphan))
    assert any("split" in f for f in _check_document("split", split))
    assert any("the Appendix starts page" in f for f in _check_document("forced", forced))


def test_page_1_alone_says_what_to_do_what_it_costs_and_what_could_make_it_wrong(catalog, tmp_path):
    from .helpers import pdf_text

    seen_notes = set()
    for name, memo in _examples(catalog):
        digest = decision_digest(memo)
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(render_pdf_checked(render_memo_html(memo, TEMPLATES), TEMPLATES).pdf)
        # A line may break after a hyphen inside a name ("gpt-" / "oss-120b"): read it back joined.
        page_1 = re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(pdf_text(pdf).split("\f")[0].split()))
        assert " ".join(digest["headline"].split()) in page_1, name
        assert " ".join(memo["verdict_reason"].split()) in page_1, name  # the "Why", constraint named
        assert "Cost vs budget" in page_1 and "What could make this wrong" in page_1 and "Next step" in page_1, name
        for flag in digest["flags"]:
            assert flag["label"] in page_1, (name, flag)
        if any(c["status"] == "floor" for c in digest["costs"]):
            assert "within budget" not in page_1.lower(), name  # a floor is never within budget
        # What changes the decision is on page 1, not only in the Appendix: the decision table (pick,
        # challengers, the other side), an open-source combination when no single open-source model
        # covers every task, unconfirmed facts that could flip the pick (as a top risk).
        for row in digest["table"]:
            assert row["name"] in page_1 and f"{row['p_best']:.2f}" in page_1, (name, row["name"])
        for key in ("other_side", "unconfirmed_facts"):
            if memo[key]:
                assert " ".join(memo[key].split())[:60] in page_1, (name, key)
                seen_notes.add(key)
    assert "other_side" in seen_notes


def test_pdf_is_tagged_pdf_ua_with_title_language_and_bookmarks(catalog):
    from pypdf import PdfReader

    name, memo = _examples(catalog)[-1]
    reader = PdfReader(io.BytesIO(render_pdf_checked(render_memo_html(memo, TEMPLATES), TEMPLATES).pdf))
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert str(root["/Lang"]).startswith("en")
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])
    assert memo["project"]["name"] in reader.metadata.title
    assert reader.xmp_metadata is not None and b"pdfuaid" in reader.xmp_metadata.stream.get_data()
    def flat(items):
        for item in items:
            yield from flat(item) if isinstance(item, list) else [item.title]

    titles = list(flat(reader.outline))
    assert memo["project"]["name"] in titles[0] and "Appendix" in titles

    found: dict[str, int] = {}
    alts = []

    def walk(node, depth=0):
        node = node.get_object()
        if isinstance(node, dict):
            tag = node.get("/S")
            if tag is not None:
                found[str(tag)] = found.get(str(tag), 0) + 1
                if str(tag) == "/Figure" and "/Alt" in node:
                    alts.append(str(node["/Alt"]))
            kids = node.get("/K")
            if kids is not None and depth < 60:
                for kid in (kids if isinstance(kids, list) else [kids]):
                    if hasattr(kid, "get_object") or isinstance(kid, (dict, list)):
                        walk(kid, depth + 1)

    walk(root["/StructTreeRoot"])
    for tag in ("/H1", "/H2", "/Table", "/TR", "/TH", "/TD", "/L", "/LI", "/P", "/Caption"):
        assert found.get(tag), (tag, sorted(found))
    assert any("Scores out of 100" in alt for alt in alts), alts  # the chart's alt text carries the values
