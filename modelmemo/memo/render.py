"""HTML (Jinja2) and PDF (WeasyPrint) rendering, locked down.

* Jinja2 escapes every value (`autoescape=True` for every template, whatever its suffix) and
  fails on undefined names (`StrictUndefined`), so a template typo fails the tests, not a memo.
* WeasyPrint gets a URL fetcher that allows only `data:` URLs, files inside `templates/`
  (resolved, so symlinks cannot escape) and installed font files (an @font-face `local()` source,
  fonts.py); anything else stops the render with FatalURLFetchingError instead of silently
  fetching or silently dropping it.
"""

from __future__ import annotations

import atexit
import gc
import logging
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2

from modelmemo.decision.words import language_name, task_label
from modelmemo.memo import chart, compact
from modelmemo.memo import digest as page
from modelmemo.memo.brand import Brand, load_brand
from modelmemo.memo.fonts import (font_stack, glyph_warnings, installed_font_files, missing_glyph_warnings,
                                  text_first_fonts)

MEMO_TEMPLATE = "memo.html.j2"
INDEX_TEMPLATE = "index.html.j2"


class RenderError(Exception):
    """A memo could not be rendered; the project is reported as failed, the batch goes on."""


def _quiet_weasyprint() -> None:
    # fontTools logs subsetting chatter; WeasyPrint's own warnings are not silenced but captured
    # per render (see _capture_warnings): a missing glyph becomes a warning on that memo.
    for name in ("fontTools", "fontTools.subset"):
        logging.getLogger(name).setLevel(logging.ERROR)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _capture_warnings():
    """WeasyPrint's warnings during one render, kept off the console and returned to the caller.

    A glyph no installed font has is drawn as an empty box and logged once per occurrence; that
    is the only trace of it, so it must reach the memo's report rather than stderr (or nowhere)."""
    logger = logging.getLogger("weasyprint")
    collector = _Collector()
    saved = (logger.level, logger.propagate)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    logger.addHandler(collector)
    try:
        yield collector.messages
    finally:
        logger.removeHandler(collector)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


@lru_cache(maxsize=4)
def jinja_environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usd"] = _usd_filter
    env.filters["pct"] = lambda value: f"{value:.0%}"
    env.filters["where"] = page._where
    return env


def _usd_filter(amount: float | None) -> str:
    from modelmemo.decision.costs import usd

    return "unknown" if amount is None else usd(float(amount))


def brand_for(templates_dir: Path) -> Brand:
    """The brand, loaded once, re-read when any file in templates/ changes (a long-lived watcher)."""
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(templates_dir.iterdir())
                  if p.is_file())
    return _load_brand_once(templates_dir, stamp)


@lru_cache(maxsize=4)
def _load_brand_once(templates_dir: Path, stamp: tuple) -> Brand:
    return load_brand(templates_dir)


def render_html(template: str, templates_dir: Path, font_faces: str = "", **context: Any) -> str:
    env = jinja_environment(templates_dir)
    css = (templates_dir / "memo.css").read_text(encoding="utf-8")
    # Rules after the "/* @phone" marker apply to narrow screens only; the templates put them in a
    # <style media=...> element (WeasyPrint cannot parse media features inside the stylesheet).
    css, marker, phone = css.partition("/* @phone")
    css += font_faces  # a memo's own @font-face rules (text_first_fonts), with the print rules
    brand = brand_for(templates_dir)
    return env.get_template(template).render(brand=brand, css=resolve_colors(css, brand),
                                             css_phone=resolve_colors(marker + phone, brand) if marker else "",
                                             **context)


_ROOT_BLOCK = re.compile(r":root\s*\{([^}]*)\}")
_CUSTOM_PROPERTY = re.compile(r"--([a-z][a-z0-9-]*)\s*:\s*(#[0-9a-fA-F]{3,8})\s*;")
_VAR = re.compile(r"var\(--([a-z][a-z0-9-]*)\)")


def resolve_colors(css: str, brand: Brand) -> str:
    """The stylesheet with each `var(--colour)` replaced by its value: the brand's colours from
    brand.yaml, the others from memo.css's own `:root` block.

    WeasyPrint re-parses a var() reference for every element it applies to (a border colour on
    every table cell is a colour parse per cell), which cost a few percent of a memo's render;
    literal colours are parsed once with the stylesheet. Only plain colour properties are
    resolved; `--font` (the per-memo font stack) and element-scoped ones such as `--verdict`
    stay custom properties."""
    values: dict[str, str] = {}
    for block in _ROOT_BLOCK.findall(css):
        values.update(_CUSTOM_PROPERTY.findall(block))
    values.update(brand.colors)
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), css)


def brand_families(brand: Brand) -> list[str]:
    return [f.strip() for f in brand.font_family.split(",") if f.strip()]


def render_memo_html(memo: dict[str, Any], templates_dir: Path) -> str:
    import json

    digest = page.decision_digest(memo)
    fonts, faces = text_first_fonts(font_stack(json.dumps(memo, ensure_ascii=False),
                                               brand_families(brand_for(templates_dir))))
    groups = compact.fact_groups(memo, digest)
    return render_html(MEMO_TEMPLATE, templates_dir, font_faces=faces, memo=memo, d=digest, fonts=fonts,
                       chart=chart.dot_plot(memo, digest), fact_groups=groups,
                       pdf_sources=compact.pdf_sources(memo, groups),
                       task_label=task_label, language_name=language_name,
                       excluded_groups=compact.excluded_groups(memo), differences=compact.differences)


def locked_url_fetcher(templates_dir: Path):
    """A WeasyPrint 70 URLFetcher that serves `data:` URLs and files inside templates_dir only,
    and the installed font files an @font-face `local()` source names (text_first_fonts)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = templates_dir.resolve()

    class LockedURLFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(timeout=5, allowed_protocols=("data", "file"), allow_redirects=False,
                             fail_on_errors=True)

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            scheme = urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(unquote(urlsplit(url).path)).resolve()
                if path != root and root not in path.parents and path not in installed_font_files():
                    raise ValueError(f"refused to load {path.name}: outside the templates folder")
                return URLFetcherResponse(url, path.read_bytes())
            raise ValueError(f"refused to load a {scheme or 'relative'} URL: memos load nothing from outside")

    return LockedURLFetcher()


@dataclass
class RenderedPDF:
    pdf: bytes
    warnings: list[str] = field(default_factory=list)  # reader-facing: missing glyphs, renderer warnings


# Tagged PDF/UA-1: a structure tree (headings, tables, lists, figures with alt text) for screen
# readers, the document title shown instead of the file name, the language, and bookmarks from h1-h3.
PDF_VARIANT = "pdf/ua-1"


# Per thread (a Dask worker may render on several threads; the process pool has one each): the
# parsed stylesheets by their text, and one FontConfiguration. WeasyPrint otherwise parses the
# memo's stylesheet and builds a fresh Pango font map (fonts loaded and shaped from cold) for
# every memo; in a batch both are the same for every memo. Neither is shared across threads,
# because Pango font maps are not thread-safe.
#
# Kept in a module-level table (not threading.local) so that they can all be released at exit:
# Pango objects freed during interpreter teardown crash the process in g_object_unref (SIGSEGV,
# exit -11 after a successful run), so `_release_caches` drops them while GLib is still intact.
_caches: dict[int, dict[str, Any]] = {}  # thread ident -> {"font_config": ..., "stylesheets": {...}}
_caches_lock = threading.Lock()
_STYLESHEETS_KEPT = 8  # a brand's memo and index sheets, a few font stacks; bounded for a watcher


def _thread_cache() -> dict[str, Any]:
    ident = threading.get_ident()  # an ident reused by a new thread inherits a dead thread's cache: fine
    cache = _caches.get(ident)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(ident, {"font_config": None, "stylesheets": {}})
    return cache


def settle_render_process() -> None:
    """For a process that renders many memos, once its imports are done (a pool worker, a Dask
    worker after its preload): what is alive now (WeasyPrint, the libraries, the catalog) stays
    alive, so it is moved out of the garbage collector's way (gc.freeze). Each collection during a
    render then scans the render's own objects only: about 7% of a memo's render CPU here."""
    gc.collect()
    gc.freeze()


@atexit.register
def _release_caches() -> None:
    with _caches_lock:
        _caches.clear()
    gc.collect()


def _font_config():
    from weasyprint.text.fonts import FontConfiguration

    cache = _thread_cache()
    if cache["font_config"] is None:
        cache["font_config"] = FontConfiguration()
    return cache["font_config"]


def _stylesheet(text: str, base_url: str, url_fetcher):
    """The parsed stylesheet for this text (parse warnings surface with the memo that first parses it)."""
    from weasyprint import CSS

    cache = _thread_cache()["stylesheets"]
    key = (text, base_url)
    sheet = cache.pop(key, None)
    if sheet is None:
        sheet = CSS(string=text, base_url=base_url, url_fetcher=url_fetcher, font_config=_font_config())
    cache[key] = sheet  # most recently used last
    while len(cache) > _STYLESHEETS_KEPT:
        cache.pop(next(iter(cache)))
    return sheet


def _print_media(media: str | None) -> bool:
    return not media or any(part.strip().lower() in ("all", "print") for part in media.split(","))


def _prepare_for_print(document, base_url: str, url_fetcher) -> list:
    """Drop from the parsed tree what the PDF never shows, and take out its stylesheets.

    `.web-only` elements are `display: none` in print (memo.css), so removing them changes no
    pixel; it saves WeasyPrint matching every CSS rule against each of their elements. Each
    `<style>` for print is removed and returned as a parsed stylesheet from the per-thread cache,
    in document order, to be applied as the user stylesheets. With no author stylesheets left
    (the templates use no style attributes), user-origin rules cascade over the user-agent
    sheet exactly as the author rules did; screen-only `<style>` elements go too."""
    sheets: list = []

    def remove(parent, index: int, child) -> None:
        # ElementTree keeps the text after an element as its `tail`: hand it to the previous
        # sibling (or the parent) so that removing the element removes nothing else.
        if child.tail:
            if index:
                before = parent[index - 1]
                before.tail = (before.tail or "") + child.tail
            else:
                parent.text = (parent.text or "") + child.tail
        parent.remove(child)

    def visit(parent) -> None:  # document order; a removed element's subtree is not visited
        index = 0
        while index < len(parent):
            child = parent[index]
            if child.tag == "style":
                if _print_media(child.get("media")) and (child.get("type") or "text/css") == "text/css":
                    sheets.append(_stylesheet("".join(child.itertext()), base_url, url_fetcher))
                remove(parent, index, child)
            elif "web-only" in (child.get("class") or "").split():
                remove(parent, index, child)
            else:
                visit(child)
                index += 1

    visit(document.etree_element)
    return sheets


def render_pdf_checked(html: str, templates_dir: Path) -> RenderedPDF:
    """PDF bytes and the render's warnings. Raises RenderError on any refused fetch or failure."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    _quiet_weasyprint()
    try:
        with _capture_warnings() as messages:
            base_url = templates_dir.resolve().as_uri() + "/"
            fetcher = locked_url_fetcher(templates_dir)
            document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
            sheets = _prepare_for_print(document, base_url, fetcher)
            pdf = document.write_pdf(stylesheets=sheets, font_config=_font_config(), uncompressed_pdf=False,
                                     pdf_variant=PDF_VARIANT)
    except FatalURLFetchingError as exc:  # a BaseException: must be caught by name
        cause = exc.__cause__ or exc
        raise RenderError(f"rendering tried to load a forbidden resource: {cause}") from None
    except Exception as exc:  # WeasyPrint raises many kinds; one failed memo must not stop the batch
        raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc
    return RenderedPDF(pdf, glyph_warnings(messages))


def render_memo(memo: dict[str, Any], templates_dir: Path, renderer: Any) -> tuple[str, RenderedPDF]:
    """The memo's HTML and its PDF from `renderer` (a pdf_renderer.PdfRenderer).

    A missing glyph is only found by laying the PDF out, and the PDF is laid out from the HTML:
    when the first render finds characters no font has, the memo records the warning
    (memo["render_warnings"], so its JSON and email say it too) and the HTML and PDF are rendered
    once more with the warning above the memo's name. The PDF's reader sees why there are empty
    boxes, not only the index. The warnings returned are both renders' (the second adds none)."""
    html = render_memo_html(memo, templates_dir)
    rendered = renderer.render_pdf(html, templates_dir)
    missing = missing_glyph_warnings(rendered.warnings)
    if not missing or memo.get("render_warnings") == missing:
        return html, rendered
    memo["render_warnings"] = missing
    html = render_memo_html(memo, templates_dir)
    again = renderer.render_pdf(html, templates_dir)
    return html, RenderedPDF(again.pdf, list(dict.fromkeys(rendered.warnings + again.warnings)))


def render_pdf(html: str, templates_dir: Path) -> bytes:
    """PDF bytes from memo HTML (warnings dropped: callers that report use render_pdf_checked)."""
    return render_pdf_checked(html, templates_dir).pdf


def _index_row(project: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """A project of the index with its memo's page-1 digest (cost vs budget, flags, every pick),
    read from the memo JSON the row links to (this run's, or an earlier run's for an unchanged
    memo). A memo that cannot be read still gets its row, without the digest."""
    import json

    row = dict(project, digest=None)
    link = project.get("json")
    if project.get("status") in ("memo", "skipped") and link:
        path = (run_dir / link).resolve()
        if run_dir.resolve().parent in path.parents:  # only memos inside the output folder
            try:
                row["digest"] = page.decision_digest(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                row["digest"] = None
    flags = len((row["digest"] or {}).get("flags") or [])
    # Attention first: failed memos, then memos with warnings (missing glyphs), then flagged
    # decisions (most flags first), then clean ones; by name within each group.
    rank = 0 if project.get("status") == "failed" else 1 if project.get("warnings") else 2 if flags else 3
    row["attention"] = (rank, -flags, str(project.get("name") or project.get("project_id")))
    return row


def render_index_html(summary: dict[str, Any], run_dir: Path, templates_dir: Path) -> str:
    rows = sorted((_index_row(p, run_dir) for p in summary.get("projects") or []), key=lambda r: r["attention"])
    return render_html(INDEX_TEMPLATE, templates_dir, summary=summary, rows=rows)
