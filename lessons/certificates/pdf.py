"""The certificate as a one-page landscape A4 PDF (fpdf2), with a QR code to its public page."""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path

FONTS = Path(__file__).parent / "fonts"
ACCENT = (91, 60, 196)
INK = (29, 27, 38)
MUTED = (93, 90, 107)


# Fonts for what DejaVu lacks, tried in order: Symbola (a monochrome subset: symbols, dingbats
# and emoji; PDFs have no colour-emoji support) and Droid Sans Fallback (Chinese, Japanese,
# Korean). Each has one face; bold text uses the regular one.
FALLBACKS = (("Symbola", "Symbola.ttf"), ("DroidFallback", "DroidSansFallback.ttf"))


@cache
def _characters(file: str) -> frozenset[int]:
    """The code points a font has a glyph for (reading only its cmap is fast)."""
    from fontTools.ttLib import TTFont

    with TTFont(FONTS / file, lazy=True) as font:
        return frozenset(font.getBestCmap())


def fallbacks_for(text: str) -> list[tuple[str, str]]:
    """The fallback fonts ``text`` needs beyond DejaVu (Latin, Greek, Cyrillic, many symbols).

    Droid takes seconds to parse, so a certificate loads only the fonts its names use; fpdf2
    embeds only the glyphs drawn, so the PDF stays small."""
    missing = {ord(ch) for ch in text if not ch.isspace()} - _characters("DejaVuSans.ttf")
    needed = []
    for name, file in FALLBACKS:
        if not missing:
            break
        if covered := missing & _characters(file):
            needed.append((name, file))
            missing -= covered
    return needed


def render(
    *,
    student_name: str,
    course_title: str,
    tutor_name: str,
    issued_at: datetime,
    number: str,
    verify_url: str,
    revoked: bool = False,
) -> bytes:
    import segno
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"Certificate {number}")
    pdf.set_author("Duet")
    pdf.set_creator("Duet")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    fallbacks = fallbacks_for(student_name + course_title + tutor_name)
    for name, file in fallbacks:
        for style in ("", "B"):
            pdf.add_font(name, style, str(FONTS / file))
    if fallbacks:
        pdf.set_fallback_fonts([name for name, _ in fallbacks])
    pdf.add_page()
    width = pdf.w
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, width - 20, pdf.h - 20)
    pdf.set_line_width(0.3)
    pdf.rect(14, 14, width - 28, pdf.h - 28)

    def line(text: str, size: float, style: str = "", color: tuple[int, int, int] = INK) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.set_text_color(*color)
        pdf.set_x(20)
        pdf.multi_cell(width - 40, size * 0.5, text, align="C")

    pdf.set_y(30)
    line("♪♫ Duet", 16, "B", ACCENT)
    pdf.ln(6)
    line("Certificate of completion", 30, "B")
    pdf.ln(8)
    line("This certifies that", 13, "", MUTED)
    pdf.ln(3)
    line(student_name, 28, "B", ACCENT)
    pdf.ln(3)
    line("has completed the course", 13, "", MUTED)
    pdf.ln(3)
    line(course_title, 20, "B")
    pdf.ln(3)
    line(f"taught by {tutor_name}", 13, "", MUTED)
    pdf.ln(2)
    line(f"on {issued_at.strftime('%d %B %Y')}", 13, "", MUTED)

    qr = segno.make(verify_url, error="m")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=8, border=2)
    png.seek(0)
    size = 34
    pdf.image(png, x=width - 20 - size - 6, y=pdf.h - 20 - size - 8, w=size, h=size)
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(*MUTED)
    pdf.set_xy(26, pdf.h - 46)
    pdf.multi_cell(
        150,
        5,
        f"Certificate number {number}\nVerify at {verify_url}\nor scan the code.",
        align="L",
    )
    if revoked:
        pdf.set_font("DejaVu", "B", 40)
        pdf.set_text_color(179, 38, 30)
        pdf.set_xy(20, 95)
        pdf.cell(width - 40, 20, "REVOKED", align="C")
    return bytes(pdf.output())
