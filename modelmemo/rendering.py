"""HTML (Jinja2) and PDF (WeasyPrint) rendering, locked down.

* Jinja2 escapes every value (`autoescape=True` for every template, whatever its suffix) and
  fails on undefined names (`StrictUndefined`), so a template typo fails the tests, not a memo.
* WeasyPrint gets a URL fetcher that allows only `data:` URLs and files inside `templates/`
  (resolved, so symlinks cannot escape); anything else stops the render with
  FatalURLFetchingError instead of silently fetching or silently dropping it.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2

from .brand import Brand, load_brand

MEMO_TEMPLATE = "memo.html.j2"
INDEX_TEMPLATE = "index.html.j2"


class RenderError(Exception):
    """A memo could not be rendered; the project is reported as failed, the batch goes on."""


def _quiet_weasyprint() -> None:
    # WeasyPrint logs one warning per unsupported CSS property or missing glyph; those are
    # template bugs caught by tests, not something to print in every nightly run.
    for name in ("weasyprint", "fontTools", "fontTools.subset"):
        logging.getLogger(name).setLevel(logging.ERROR)


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
    return env


def _usd_filter(amount: float | None) -> str:
    from .costs import usd

    return "unknown" if amount is None else usd(float(amount))


def brand_for(templates_dir: Path) -> Brand:
    """The brand, loaded once, re-read when any file in templates/ changes (a long-lived watcher)."""
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(templates_dir.iterdir())
                  if p.is_file())
    return _load_brand_once(templates_dir, stamp)


@lru_cache(maxsize=4)
def _load_brand_once(templates_dir: Path, stamp: tuple) -> Brand:
    return load_brand(templates_dir)


def render_html(template: str, templates_dir: Path, **context: Any) -> str:
    env = jinja_environment(templates_dir)
    css = (templates_dir / "memo.css").read_text(encoding="utf-8")
    return env.get_template(template).render(brand=brand_for(templates_dir), css=css, **context)


def render_memo_html(memo: dict[str, Any], templates_dir: Path) -> str:
    return render_html(MEMO_TEMPLATE, templates_dir, memo=memo)


def locked_url_fetcher(templates_dir: Path):
    """A WeasyPrint 70 URLFetcher that serves `data:` URLs and files inside templates_dir only."""
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
                if path != root and root not in path.parents:
                    raise ValueError(f"refused to load {path.name}: outside the templates folder")
                return URLFetcherResponse(url, path.read_bytes())
            raise ValueError(f"refused to load a {scheme or 'relative'} URL: memos load nothing from outside")

    return LockedURLFetcher()


def render_pdf(html: str, templates_dir: Path) -> bytes:
    """PDF bytes from memo HTML. Raises RenderError on any refused fetch or rendering failure."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    _quiet_weasyprint()
    try:
        document = HTML(string=html, base_url=templates_dir.resolve().as_uri() + "/",
                        url_fetcher=locked_url_fetcher(templates_dir))
        return document.write_pdf(uncompressed_pdf=False)
    except FatalURLFetchingError as exc:  # a BaseException: must be caught by name
        cause = exc.__cause__ or exc
        raise RenderError(f"rendering tried to load a forbidden resource: {cause}") from None
    except Exception as exc:  # WeasyPrint raises many kinds; one failed memo must not stop the batch
        raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc
