"""The HTML memo and the index read on a phone (390 px) and a desktop (1280 px) without sideways
scrolling, checked in a real browser: Debian's headless `chromium` (installed by scripts/setup).

Headless Chromium will not make a window narrower than 500 px, so each page is loaded in an
iframe of the exact width (media queries follow the iframe's viewport), and one harness page holds
every memo and the index at both widths: one browser start for the whole check (a few seconds).
The harness writes each frame's `scrollWidth - innerWidth` into its own DOM, read back with
--dump-dom; > 0 means the page scrolls sideways."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from modelmemo.memo.digest import decision_digest
from modelmemo.memo.render import render_index_html, render_memo_html

from .conftest import TEMPLATES
from .test_memo_layout import _examples, _stress

WIDTHS = (390, 1280)
CHROMIUM = shutil.which("chromium")

HARNESS = """<!DOCTYPE html><html><body style="margin:0">
{frames}
<script>
window.addEventListener("load", function () {{  // fires after every frame has loaded
  var results = {{}};
  document.querySelectorAll("iframe").forEach(function (frame) {{
    var doc = frame.contentDocument, win = frame.contentWindow;
    results[frame.dataset.name] = [doc.documentElement.scrollWidth - win.innerWidth, win.innerWidth];
  }});
  document.body.setAttribute("data-results", JSON.stringify(results));
}});
</script></body></html>"""


def _summary(memos: list[tuple[str, dict]]) -> dict:
    projects = []
    for name, memo in memos:
        top = (memo["recommended"] or [{}])[0].get("model")
        projects.append({"project_id": name, "name": memo["project"]["name"], "file": f"{name}.yaml",
                         "status": "memo", "verdict": memo["verdict"], "verdict_label": memo["verdict_label"],
                         "top_model": top, "top_model_name": memo["model_names"].get(top, top),
                         "top_score": (memo["scores"].get(top) or {}).get("total"), "html": f"{name}.html",
                         "pdf": f"{name}.pdf", "json": f"{name}.json", "error": None, "recipients": [],
                         "memo_run_id": "browser", "input_sha256": "0" * 64, "fingerprint": "0" * 64,
                         "change": None, "warnings": []})
    rejected = [{"file": "a-very-long-rejected-file-name-without-any-spaces-at-all-for-the-phone.yaml",
                 "problems": [{"line": 8, "column": 18, "path": "needs.customization",
                               "message": "\"retrain\" is not an accepted value",
                               "allowed": ["prompting", "fine-tuning", "full-control"]}]}]
    return {"summary_version": 1, "run_id": "20261129T020000Z-b0b0", "generated_at": "2026-11-29T02:00:00+00:00",
            "catalog_as_of": "2026-11-29", "counts": {"files": len(projects) + 1, "memos": len(projects),
                                                      "skipped": 0, "failed": 0, "rejected": 1, "not_processed": 0},
            "projects": projects, "rejected": rejected, "not_processed": [], "delivery_counts": {}, "deliveries": []}


def _overflow(folder, pages: list[str]) -> dict[str, list[int]]:
    frames = "\n".join(f'<iframe data-name="{page}@{width}" src="{page}" loading="eager" style="width:{width}px;height:300px;'
                       f'border:0;display:block"></iframe>' for page in pages for width in WIDTHS)
    (folder / "harness.html").write_text(HARNESS.format(frames=frames))
    result = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--allow-file-access-from-files", "--virtual-time-budget=10000",
                             "--window-size=1400,900", "--dump-dom", (folder / "harness.html").as_uri()],
                            capture_output=True, text=True, timeout=60)
    found = re.search(r'data-results="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup installs it)")
def test_memo_and_index_have_no_sideways_scrolling_at_390_and_1280_px(catalog, tmp_path):
    memos = _examples(catalog) + _stress(catalog)
    for name, memo in memos:
        (tmp_path / f"{name}.html").write_text(render_memo_html(memo, TEMPLATES), encoding="utf-8")
        (tmp_path / f"{name}.json").write_text(json.dumps(memo), encoding="utf-8")
        decision_digest(memo)  # the index reads this from each memo's JSON
    (tmp_path / "index.html").write_text(render_index_html(_summary(memos), tmp_path, TEMPLATES), encoding="utf-8")
    pages = [f"{name}.html" for name, _ in memos] + ["index.html"]
    results = _overflow(tmp_path, pages)
    assert len(results) == len(pages) * len(WIDTHS)
    for key, (_, inner) in results.items():  # each frame really had the width under test
        assert inner == int(key.rsplit("@", 1)[1]), (key, inner)
    scrolling = {key: extra for key, (extra, _) in results.items() if extra > 0}
    assert not scrolling, f"pages wider than the window (px too wide): {scrolling}"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup installs it)")
def test_the_browser_check_catches_sideways_scrolling(tmp_path):
    """The check can fail: a page with a 700 px wide block scrolls at 390 px, not at 1280 px."""
    (tmp_path / "wide.html").write_text('<!DOCTYPE html><meta name="viewport" content="width=device-width">'
                                        '<div style="width:700px">wide</div>')
    results = _overflow(tmp_path, ["wide.html"])
    assert results["wide.html@390"][0] > 0 and results["wide.html@1280"][0] <= 0
