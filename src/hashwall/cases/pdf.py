"""Plain, searchable PDFs with fpdf2 (pure Python): notices and evidence-pack summaries.

fpdf2's built-in fonts only cover Latin-1, and survivors' names often do not fit it; so a
Unicode TrueType font is used when one is found (``HASHWALL_PDF_FONT``, else DejaVu Sans from
the usual system places). Without one, Latin-1 text still works and anything else is a clear
error rather than a name silently turned into question marks.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)


class PdfError(ValueError):
    """The text cannot be set in any available font."""


def _unicode_font() -> Path | None:
    configured = os.environ.get("HASHWALL_PDF_FONT")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise PdfError(f"HASHWALL_PDF_FONT={configured}: no such font file")
        return path
    return next((Path(p) for p in FONT_CANDIDATES if Path(p).is_file()), None)


def render_pdf(title: str, body: str, created: datetime) -> bytes:
    """A4, one column, title then the body's lines as they are."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_author("hashwall")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    font = _unicode_font()
    if font is not None:
        pdf.add_font("body", "", str(font))
        family = "body"
    else:
        family = "helvetica"
        try:
            (title + body).encode("latin-1")
        except UnicodeEncodeError:
            raise PdfError(
                "the text has characters outside Latin-1 and no Unicode font was found: "
                "set HASHWALL_PDF_FONT to a .ttf file (e.g. DejaVuSans.ttf) or use the .txt/.eml"
            ) from None
    pdf.add_page()
    pdf.set_font(family, size=13)
    pdf.multi_cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, size=10)
    for line in body.splitlines():
        if line.strip():
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(3)
    return bytes(pdf.output())
