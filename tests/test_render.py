"""Rendering: hostile text is escaped in HTML and PDF, nothing is fetched, PDFs are real documents."""

from __future__ import annotations

import copy


import pytest

from modelmemo.memo.document import RunContext, make_memo
from modelmemo.memo.render import RenderError, render_memo_html, render_pdf
from modelmemo.inputs.requirements import Requirements

from .conftest import TEMPLATES
from .helpers import pdf_info, pdf_text, requirements

HOSTILE = {
    "script": "<script>alert('x')</script>",
    "img": '<img src="file:///etc/passwd">',
    "css": "<style>body{background:url(http://example.invalid/x.png)}</style>",
    "link": '<link rel="attachment" href="file:///etc/passwd">',
}


def memo_for(catalog, data) -> dict:
    req = Requirements.from_data(data)
    return make_memo(req, catalog, RunContext("test-run", "2026-11-28T02:00:00+00:00", "x.yaml", "0" * 64))[0]


@pytest.fixture(scope="module")
def hostile_memo(catalog):
    data = requirements(**{
        "project.name": "Evil " + HOSTILE["script"],
        "project.summary": " ".join(HOSTILE.values()),
        "project.owner.name": HOSTILE["img"],
    })
    return memo_for(catalog, data)


def test_hostile_text_is_escaped_in_html(hostile_memo):
    html = render_memo_html(hostile_memo, TEMPLATES)
    for raw in HOSTILE.values():
        assert raw not in html
    assert "&lt;script&gt;alert(" in html
    assert "<script" not in html.lower()
    assert "file:///etc/passwd" not in html.replace("&#34;", '"').split("&lt;img src=")[0]


def test_hostile_text_appears_as_text_in_pdf_and_nothing_is_fetched(hostile_memo, tmp_path):
    html = render_memo_html(hostile_memo, TEMPLATES)
    pdf = tmp_path / "memo.pdf"
    pdf.write_bytes(render_pdf(html, TEMPLATES))
    text = pdf_text(pdf)
    assert "<script>alert('x')</script>" in text.replace("\n", "")  # shown literally, not executed
    assert "root:x:0:0" not in text  # /etc/passwd was not embedded


def test_pdf_is_a4_with_metadata_page_numbers_and_embedded_fonts(catalog, tmp_path):
    memo = memo_for(catalog, requirements(**{"project.name": "Metadata Check"}))
    pdf = tmp_path / "memo.pdf"
    pdf.write_bytes(render_pdf(render_memo_html(memo, TEMPLATES), TEMPLATES))
    info = pdf_info(pdf)
    assert "(A4)" in info["Page size"]
    assert "Metadata Check" in info["Title"]
    assert info["Author"]
    pages = int(info["Pages"])
    assert 1 <= pages <= 7  # a tie shows every tied model's reasons and sourced facts
    text = pdf_text(pdf)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    import subprocess

    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in row for row in rows), fonts  # every font embedded


def test_renderer_refuses_files_outside_templates_and_network(tmp_path):
    html = '<html><body><img src="file:///etc/hostname"></body></html>'
    with pytest.raises(RenderError, match="forbidden"):
        render_pdf(html, TEMPLATES)
    with pytest.raises(RenderError, match="forbidden"):
        render_pdf('<html><body><img src="http://127.0.0.1:9/x.png"></body></html>', TEMPLATES)


def test_renderer_allows_data_urls_and_template_files():
    logo = next(TEMPLATES.glob("logo.*"))
    html = f'<html><body><img src="{logo.name}"><p>ok</p></body></html>'
    assert render_pdf(html, TEMPLATES).startswith(b"%PDF")


def test_template_typo_fails_loudly(tmp_path, catalog):
    import shutil

    from modelmemo.memo.render import jinja_environment

    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    (copy / "memo.html.j2").write_text((copy / "memo.html.j2").read_text() + "{{ memo.no_such_field }}")
    jinja_environment.cache_clear()
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        render_memo_html(memo_for(catalog, requirements()), copy)


def test_combination_with_a_tie_for_one_task_renders_the_tie_on_page_1(tmp_path):
    """No model covers text and images; Alpha and Beta tie for text: page 1 says so, the email too."""
    from modelmemo.delivery.message import memo_subject

    from .test_decision import fixture_catalog, fixture_catalog_data

    data = fixture_catalog_data()
    data["models"]["alpha-api"]["facts"]["tasks"]["value"] = ["chat", "text-generation"]
    data["models"]["beta-api"]["quality"] = copy.deepcopy(data["models"]["alpha-api"]["quality"])  # rated alike
    catalog = fixture_catalog(tmp_path, data)
    memo = memo_for(catalog, requirements(**{
        "needs.tasks": ["text-generation", "image-generation"], "budget.monthly_usd": 10000,
        "budget.volume": {"requests_per_month": 1000, "tokens_per_request": 1000, "images_per_month": 100}}))
    picks = {p["task"]: p for p in memo["recommended"]}
    assert set(picks) == {"text-generation", "image-generation"}
    text_pick = picks["text-generation"]
    assert {text_pick["model"], *text_pick["tied"]} == {"alpha-api", "beta-api"}
    assert memo["tied"] and memo["tie_separation"].startswith("for text generation:")
    pdf = tmp_path / "memo.pdf"
    pdf.write_bytes(render_pdf(render_memo_html(memo, TEMPLATES), TEMPLATES))
    page_1 = " ".join(pdf_text(pdf).split("\f")[0].split())
    first = memo["model_names"][text_pick["model"]]
    other = "Beta" if first == "Alpha" else "Alpha"
    assert f"Use {first} or {other} for text generation" in page_1  # the headline names both tied picks
    assert "Tie for a task: for text generation:" in page_1  # the flag strip, with what separates them
    assert "(tie)" in memo_subject(memo)


def test_pdf_leaves_out_web_only_elements_and_keeps_the_text_around_them(tmp_path):
    """The PDF path removes `.web-only` elements from the parsed tree (they are display: none in
    print anyway) and takes the <style> elements out as cached stylesheets: the text after a
    removed element, the stylesheet's rules and a print-only style must all still apply."""
    html = ('<html><head><style>p { color: #a12b2b } .web-only { display: none } .big { font-size: 20pt }</style>'
            '<style media="screen">p { display: none }</style><style media="print">.hide { display: none }</style>'
            '</head><body><p class="big">before <span class="web-only">WEBONLY</span>after-kept '
            '<span class="hide">PRINTHIDDEN</span>tail-kept</p><div class="web-only"><p>GONE</p></div>'
            '<p><b class="web-only">X</b>first-child-tail</p></body></html>')
    pdf = tmp_path / "pruned.pdf"
    pdf.write_bytes(render_pdf(html, TEMPLATES))
    text = " ".join(pdf_text(pdf).split())
    assert "before after-kept tail-kept" in text and "first-child-tail" in text, text
    assert "WEBONLY" not in text and "GONE" not in text and "PRINTHIDDEN" not in text
    # The same stylesheet text again (now from the cache) still styles the document.
    pdf.write_bytes(render_pdf(html.replace("before", "again"), TEMPLATES))
    text = " ".join(pdf_text(pdf).split())
    assert "again after-kept tail-kept" in text and "PRINTHIDDEN" not in text, text


def _shipped_memos(catalog) -> list[dict]:
    from .conftest import example_inputs
    from modelmemo.inputs.validation import validate_file

    memos = []
    for path in example_inputs():
        document, problems = validate_file(path)
        if not problems:
            memos.append(memo_for(catalog, document.data))
    return memos


def test_memo_prose_names_tasks_and_languages_never_their_codes(catalog):
    """Readers see "text generation" and "English", not the schema's "text-generation" and "en", in
    every sentence the engine writes (reasons, notes, risks, exclusions) and in the HTML's text."""
    import re

    codes = re.compile(r"\b(text|image)-generation\b|documents (en|de|fr|es|it)\b|\b(en|de|fr|es|it), (en|de|fr|es|it)\b")
    memos = _shipped_memos(catalog)
    assert len(memos) >= 9
    for memo in memos:
        prose = [memo["verdict_reason"], *memo["notes"], *(r["text"] for r in memo["risks"]),
                 *(r for why in memo["excluded"].values() for r in why),
                 *(f["reason"] for s in memo["scores"].values() for f in s["factors"].values())]
        found = [p for p in prose if codes.search(p)]
        assert not found, found[:3]
        text = re.sub(r"https?://\S+|<[^>]+>", " ", render_memo_html(memo, TEMPLATES).split("<body", 1)[1])
        assert not codes.search(text), codes.search(text)
    clinical = next(m for m in memos if "text-generation" in m["requirements"]["tasks"])
    assert any("covers text generation" in f["reason"] for s in clinical["scores"].values()
               for f in s["factors"].values())


def test_pick_vs_runner_up_states_only_what_differs_in_the_pdf_and_everything_in_the_html():
    from modelmemo.memo.compact import differences

    llama = ("At least $4,055/month vs $9,000/month budget (may exceed the budget, 45% of the budget); "
             "only a floor is known (-10).")
    mistral = ("At least $11,720/month vs $9,000/month budget (over budget, 130% of the budget); "
               "only a floor is known (-10).")
    assert differences(llama, mistral) == (
        "At least $4,055/month vs $9,000/month budget (may exceed the budget, 45% of the budget).",
        "At least $11,720/month vs $9,000/month budget (over budget, 130% of the budget).")
    # A semicolon inside parentheses does not split a clause; a shared fit clause is dropped.
    a = "Fit 100 (covers chat; documents English); quality 67.1 (chat: 54.8, 4th of 5); 50% fit + 50% quality."
    b = "Fit 100 (covers chat; documents English); quality 78.6 (chat: 64.2, 3rd of 5); 50% fit + 50% quality."
    assert differences(a, b) == ("Quality 67.1 (chat: 54.8, 4th of 5).", "Quality 78.6 (chat: 64.2, 3rd of 5).")
    # A side with nothing of its own is shown whole, never blank; identical words are returned whole.
    assert differences("Sent to OpenAI.", "Sent to OpenAI; SOC 2: unknown (-5).") == ("Sent to OpenAI.", "SOC 2: unknown (-5).")
    assert differences("Same words.", "Same words.") == ("Same words.", "Same words.")


def test_pdf_compare_table_and_exclusions_are_the_short_forms(catalog, tmp_path):
    """In the PDF: the pick-vs-runner-up row carries only the differing clauses and excluded models
    are grouped by reason; the HTML keeps every full reason."""
    memo = next(m for m in _shipped_memos(catalog) if m["project"]["name"] == "Product Launch Kit")
    html = render_memo_html(memo, TEMPLATES)
    pdf = tmp_path / "memo.pdf"
    pdf.write_bytes(render_pdf(html, TEMPLATES))
    text = " ".join(pdf_text(pdf).split())
    gemini = memo["scores"]["gemini"]["factors"]["requirements"]["reason"]
    import html as markup

    assert "Fit 100 (covers text generation, image generation" in gemini and gemini in markup.unescape(html)
    quality = gemini.split("; quality ")[1].split(" (")[0]
    assert f"Quality {quality} (text generation:" in text and "Fit 100 (covers text generation" not in text
    lacking_images = [memo["model_names"][m] for m, why in memo["excluded"].items()
                      if why[0].startswith("does not cover required task(s): image generation")]
    assert len(lacking_images) >= 3
    assert "Lacks image generation: " + ", ".join(lacking_images) + "." in text


def test_a_tie_is_explained_by_the_evidence_never_by_a_points_margin(tmp_path):
    """A tie says the evidence cannot separate the models, never "within half a point" (the old
    rule, which a new user found in 4 memos where the gap was several points)."""
    from .test_decision import twin_catalog

    tied = [memo_for(twin_catalog(tmp_path), requirements(**{"needs.tasks": ["chat"]}))]
    assert all(m["tied"] for m in tied)
    for memo in tied:
        html = render_memo_html(memo, TEMPLATES)
        assert "within half a point (or statistically indistinguishable)" not in html
        assert "The top candidates are tied (page 1 says why: the evidence cannot separate them)" in html


def test_pdf_cites_each_source_by_its_title_and_the_html_keeps_the_full_description(catalog, tmp_path):
    """The PDF's sources are one run-in paragraph of numbered titles without the catalog's
    annotations (but keeping "third party"); the HTML lists each source whole with its address."""
    from modelmemo.memo.compact import pdf_source_title

    assert pdf_source_title("Enterprise privacy at OpenAI (stored copy)") == "Enterprise privacy at OpenAI"
    assert pdf_source_title("Claude Enterprise Compliance: BAA, SOC 2, GDPR and Data Policy (third party, last "
                            "verified June 13, 2026)") == ("Claude Enterprise Compliance: BAA, SOC 2, GDPR and Data "
                                                           "Policy (third party)")
    # A bare name keeps the annotation's first clause (whose page it is), never an empty title.
    assert pdf_source_title("Service tiers (Anthropic API docs; stored copy, undated)") == "Service tiers (Anthropic API docs)"
    assert pdf_source_title("No annotation at all") == "No annotation at all"

    memo = next(m for m in _shipped_memos(catalog) if m["project"]["name"] == "Code Review Assistant")
    html = render_memo_html(memo, TEMPLATES)
    pdf = tmp_path / "memo.pdf"
    pdf.write_bytes(render_pdf(html, TEMPLATES))
    text = " ".join(pdf_text(pdf).split())
    gpu_guide = next(s for s in memo["sources"] if s["title"].startswith("Cloud GPU pricing guide"))
    assert len(gpu_guide["title"]) > 60 and gpu_guide["title"] in html and gpu_guide["url"] in html
    assert f"[{gpu_guide['n']}] Cloud GPU pricing guide (third party), checked {gpu_guide['as_of']}." in text
    assert gpu_guide["title"][len("Cloud GPU pricing guide ("):][:30] not in text


def test_chart_draws_each_visible_mark_once_and_its_alt_text_keeps_every_value(catalog):
    """A hollow mark at the same place as another of its shape, or under a pick's filled mark,
    is not drawn; the alt text still names every model's value."""
    from modelmemo.memo.chart import dot_plot
    from modelmemo.memo.digest import decision_digest

    memo = next(m for m in _shipped_memos(catalog) if m["project"]["name"] == "Research Digest")
    chart = dot_plot(memo, decision_digest(memo))
    budget = next(r for r in chart["rows"] if r["factor"] == "budget")
    assert len({p["value"] for p in budget["points"]}) == 1 and len(budget["points"]) >= 4  # all 50: no volume
    drawn = [p for p in budget["points"] if not p["hidden"]]
    assert all(p["pick"] for p in drawn)  # every hollow mark sits under a pick's
    for row in chart["rows"]:
        shown = [(p["value"], p["open"]) for p in row["points"] if not p["hidden"] and not p["pick"]]
        assert len(shown) == len(set(shown))
        assert all(p["pick"] for p in row["points"] if p["value"] in {q["value"] for q in row["points"] if q["pick"]}
                   and not p["hidden"])
    budget_alt = chart["alt"].split("Budget fit: ", 1)[1].split(". ", 1)[0]
    assert all(f"{p['name']} 50" in budget_alt for p in budget["points"])
