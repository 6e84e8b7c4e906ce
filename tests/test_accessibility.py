"""What the memo, the index and the email do for every reader: links told apart by more than colour
(axe-core's link-in-text-block), read from the styles each document's links are laid out with; and
text the user wrote (project name, summary, owner, recipients, file names) in an element with
dir="auto", so a right-to-left name reads in its own direction."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
import shutil
import subprocess

import pytest

from modelmemo.delivery.message import build_memo_email
from modelmemo.memo.render import render_index_html, render_memo_html

from .conftest import TEMPLATES
from .helpers import requirements
from .test_browser import _summary
from .test_memo_layout import _examples, _memo

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


HEBREW = {"name": "בדיקת חוזים", "summary": "סקירת חוזים אוטומטית לצוות המשפטי", "owner": "דנה לוי",
          "file": "בדיקת-חוזים.yaml"}


class _Elements(HTMLParser):
    """For each text run of a page: the attributes of the element that holds it (the innermost)."""

    VOID = {"br", "img", "meta", "link", "input", "hr", "wbr", "col", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.texts: list[tuple[str, str, dict]] = []  # (text, tag, attributes)

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip() and self.stack:
            self.texts.append((data, *self.stack[-1]))


def _holders(html: str, needle: str) -> list[tuple[str, dict]]:
    """(tag, attributes) of each element whose own text contains needle (not <title> or <meta>)."""
    parser = _Elements()
    parser.feed(html)
    return [(tag, attrs) for text, tag, attrs in parser.texts if needle in text and tag not in ("title", "style")]


def _assert_dir_auto(html: str, needle: str, where: str) -> None:
    holders = _holders(html, needle)
    assert holders, f"{needle!r} not found in the {where}"
    assert all(attrs.get("dir") == "auto" for _, attrs in holders), (where, needle, holders)


def test_text_the_user_wrote_sits_in_an_element_with_dir_auto(catalog, tmp_path):
    memo = _memo(catalog, requirements(**{"project.name": HEBREW["name"], "project.summary": HEBREW["summary"],
                                          "project.owner.name": HEBREW["owner"],
                                          "project.notify": ["legal@example.com"]}))
    memo["input_file"] = HEBREW["file"]
    html = render_memo_html(memo, TEMPLATES)
    for key in ("name", "summary", "owner", "file"):
        _assert_dir_auto(html, HEBREW[key], "memo")
    _assert_dir_auto(html, "legal@example.com", "memo")

    (tmp_path / "hebrew.json").write_text(json.dumps(memo), encoding="utf-8")
    summary = _summary([("hebrew", memo)])
    summary["projects"][0]["file"] = HEBREW["file"]
    summary["rejected"][0]["file"] = "נדחה.yaml"
    summary["not_processed"] = [{"file": "לא-עובד.txt", "kind": "file", "reason": "not a requirement file"}]
    index = render_index_html(summary, tmp_path, TEMPLATES)
    for needle in (HEBREW["name"], HEBREW["file"], "נדחה.yaml", "לא-עובד.txt"):
        _assert_dir_auto(index, needle, "index")

    for base_url in (None, "https://memos.example.com"):  # the name as text, and as a link
        message = build_memo_email(memo, b"%PDF-1.7 fake", "modelmemo@example.com", ["owner@example.com"], TEMPLATES,
                                   public_base_url=base_url)
        body = message.get_body(("html",)).get_content()
        for needle in (HEBREW["name"], HEBREW["owner"]):
            _assert_dir_auto(body, needle, "email")


def test_the_dir_check_sees_an_element_without_dir_auto():
    with pytest.raises(AssertionError):
        _assert_dir_auto('<h1 dir="auto">בדיקה</h1><p>Owner בדיקה</p>', "בדיקה", "page")
    _assert_dir_auto('<h1 dir="auto">בדיקה</h1><p>Owner <span dir="auto">בדיקה</span></p>', "בדיקה", "page")
