"""A fake PDF renderer for the tests that are about files, state, skip-unchanged, retention, crash
clean-up and delivery, not about what a PDF looks like (those keep WeasyPrint, the default).

`FAKE_PDF` implements modelmemo.memo.pdf_renderer.PdfRenderer: it returns at once (no WeasyPrint
import, no layout) a small but valid one-page A4 PDF whose title is the memo HTML's <title>, so
`pdfinfo` reads it (Pages: 1, Title) and `pdftotext` finds the title and the words "fake renderer".
The same HTML always gives the same bytes. Pass it where a test starts a batch:
`run_batch(..., renderer=FAKE_PDF)`, `make_jobs(..., renderer=FAKE_PDF)`, `RenderJob(..., renderer=FAKE_PDF)`.

It lives here, not in the package: nothing but tests needs it (the command, the flow, Dask and
the benchmark always render for real), and a process-pool worker unpickles it from `tests.` like
any other test helper.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from pathlib import Path

from modelmemo.memo.render import RenderedPDF

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)
A4 = (595.28, 841.89)  # points
PRODUCER = "modelmemo tests: fake renderer"


def one_page_pdf(title: str, lines: list[str]) -> bytes:
    """A minimal PDF 1.7: one A4 page of Helvetica text (WinAnsi; other characters become '?'),
    an Info dictionary with the title (UTF-16) and producer, and an exact cross-reference table."""

    def literal(text: str) -> bytes:
        text = "".join(c if c >= " " else "?" for c in text)
        text = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + text.encode("cp1252", "replace") + b")"

    def utf16(text: str) -> bytes:
        return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"

    content = b"BT /F1 12 Tf 14 TL 56 780 Td " + b" ".join(literal(line) + b" '" for line in lines) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>" % A4,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Title " + utf16(title) + b" /Producer " + literal(PRODUCER) + b" >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def html_title(html: str) -> str:
    found = _TITLE.search(html)
    return " ".join(html_lib.unescape(found.group(1)).split()) if found else ""


@dataclass(frozen=True)
class FakePdfRenderer:
    """A PdfRenderer for tests: a one-page PDF named after the memo, made in microseconds."""

    def render_pdf(self, html: str, templates_dir: Path) -> RenderedPDF:
        title = html_title(html)
        return RenderedPDF(one_page_pdf(title, [title, "Rendered by the fake renderer of modelmemo's tests."]))


FAKE_PDF = FakePdfRenderer()
