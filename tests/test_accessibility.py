"""What the memo, the index and the email do for every reader: links told apart by more than colour
(axe-core's link-in-text-block), read from the styles each document's links are laid out with."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from modelmemo.delivery.message import build_memo_email
from modelmemo.memo.render import render_index_html, render_memo_html

from .conftest import TEMPLATES
from .test_browser import _summary
from .test_memo_layout import _examples

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def documents(catalog, tmp_path_factory) -> dict[str, str]:
    """A shipped example's HTML memo (its sources are links), the index of every example, and the
    HTML body of the example's email with a public base URL (its name links to the memo)."""
    folder = tmp_path_factory.mktemp("documents")
    memos = _examples(catalog)
    for name, memo in memos:
        (folder / f"{name}.json").write_text(json.dumps(memo), encoding="utf-8")
    name, memo = memos[0]
    message = build_memo_email(memo, b"%PDF-1.7 fake", "modelmemo@example.com", ["owner@example.com"], TEMPLATES,
                               public_base_url="https://memos.example.com")
    return {"memo": render_memo_html(memo, TEMPLATES),
            "index": render_index_html(_summary(memos), folder, TEMPLATES),
            "email": message.get_body(("html",)).get_content()}


def _laid_out_links(html: str) -> list[tuple[str, object]]:
    """(text, text-decoration-line) of every link's text as WeasyPrint lays the document out."""
    from weasyprint import HTML

    def boxes(box):
        yield box
        for child in getattr(box, "children", ()) or ():
            yield from boxes(child)

    found = []
    for page in HTML(string=html, base_url=TEMPLATES.resolve().as_uri() + "/").render().pages:
        for box in boxes(page._page_box):
            if getattr(box, "text", None) and box.element is not None and box.element.tag == "a":
                found.append((box.text, box.style["text_decoration_line"]))
    return found


@pytest.mark.parametrize("kind", ["memo", "index", "email"])
def test_every_link_is_underlined_in_the_laid_out_document(documents, kind):
    links = _laid_out_links(documents[kind])
    assert links, f"no link laid out in the {kind}"
    plain = [text for text, line in links if line == "none" or "underline" not in line]
    assert not plain, f"{kind}: links told apart by colour only: {plain[:5]}"


def test_the_check_sees_a_link_without_underline():
    links = _laid_out_links('<p>Read <a href="https://example.com" style="text-decoration: none">this</a>.</p>')
    assert links == [("this", "none")]


SCRIPT = """<script>
window.addEventListener("load", function () {
  var found = [];
  document.querySelectorAll("a[href]").forEach(function (a) {
    found.push([a.textContent.trim(), getComputedStyle(a).textDecorationLine]);
  });
  document.body.setAttribute("data-links", JSON.stringify(found));
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup installs it)")
@pytest.mark.parametrize("kind", ["memo", "index", "email"])
def test_every_link_is_underlined_on_screen(documents, kind, tmp_path):
    """The same in a browser, with the screen styles: what axe-core's rule looks at."""
    page = tmp_path / f"{kind}.html"
    page.write_text(documents[kind].replace("</body>", SCRIPT + "</body>"), encoding="utf-8")
    result = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                             "--window-size=1280,900", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=60)
    found = re.search(r'data-links="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    links = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert links, f"no link in the {kind}"
    plain = [text for text, line in links if "underline" not in line]
    assert not plain, f"{kind}: links told apart by colour only: {plain[:5]}"
