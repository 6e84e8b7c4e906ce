"""The PDF renderer as an interface: all the batch needs from WeasyPrint, behind one method.

The batch never calls WeasyPrint itself: it renders each memo's PDF through the `PdfRenderer` it
is given, from the entry point down (`pipeline.run_batch(renderer=...)` and
`run_locked_batch(renderer=...)`, a field of each `RenderJob`, a parameter of
`work_unit.render_unit`). `WEASYPRINT`, the real one, is the default at every step, and the only
renderer the command, the flow, Dask workers and the benchmark use. Tests that are about files,
state, skip-unchanged, retention, crash clean-up and delivery pass a fake that returns a small
valid one-page PDF at once (tests/support_renderer.py), so only the tests that look at PDFs pay for
real ones. (The same pattern as Dagster's resources: one interface, a real implementation and a
fake, chosen by whoever starts the run.)

A renderer travels inside each `RenderJob` to the process pool's workers, so it must pickle: an
instance of a module-level class that holds no open resources (per-process caches belong in
module globals, as memo/render.py keeps WeasyPrint's fonts and stylesheets).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from modelmemo.memo.render import RenderedPDF, render_pdf_checked


@runtime_checkable
class PdfRenderer(Protocol):
    def render_pdf(self, html: str, templates_dir: Path) -> RenderedPDF:
        """The memo's HTML as PDF bytes, with reader-facing warnings (e.g. missing glyphs).

        `templates_dir` is the only folder the HTML may load files from (stylesheets, fonts,
        images). Raises `render.RenderError` when the memo cannot be rendered; the caller bounds
        the time it may take (`limits.time_limit`)."""
        ...


@dataclass(frozen=True)
class WeasyPrintRenderer:
    """The real renderer: a tagged PDF/UA through WeasyPrint, locked down (memo/render.py)."""

    def render_pdf(self, html: str, templates_dir: Path) -> RenderedPDF:
        return render_pdf_checked(html, templates_dir)


WEASYPRINT: PdfRenderer = WeasyPrintRenderer()
