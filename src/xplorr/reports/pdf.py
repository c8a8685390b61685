"""The report as a PDF (reportlab's platypus): a cover, a one-page executive summary, then one
chapter per currency (trend line, breakdown bars, tables with right-aligned amounts) and the
other areas' sections; page numbers in every footer but the cover's.

Fonts: matplotlib's DejaVu Sans files, embedded (subset) in the PDF: nothing is assumed of the
system's fonts, and every currency symbol CLDR knows has a glyph.
"""

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from xplorr.core.report_sections import Kind, Section
from xplorr.reports import charts
from xplorr.reports.formatting import amount, cell, percent, share, symbol
from xplorr.reports.model import CurrencyReport, Line, Report

FONT = "XplorrSans"
FONT_BOLD = "XplorrSans-Bold"
ACCENT = colors.HexColor("#1e3a8a")
MUTED = colors.HexColor("#6b7280")
RULE = colors.HexColor("#d1d5db")
STRIPE = colors.HexColor("#f3f4f6")
PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
TABLE_ROWS = 25  # the longest breakdown printed; the Excel file has every row

_fonts_registered = False


def _register_fonts() -> None:
    global _fonts_registered
    if not _fonts_registered:
        pdfmetrics.registerFont(TTFont(FONT, str(charts.REGULAR)))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(charts.BOLD)))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)
        _fonts_registered = True


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12)
    return {
        "body": base,
        "muted": ParagraphStyle("muted", parent=base, textColor=MUTED),
        "h1": ParagraphStyle(
            "h1",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=18,
            leading=22,
            spaceAfter=8,
            textColor=ACCENT,
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=12,
            leading=16,
            spaceBefore=10,
            spaceAfter=4,
            textColor=ACCENT,
        ),
        "cover": ParagraphStyle(
            "cover", parent=base, fontName=FONT_BOLD, fontSize=28, leading=34, textColor=ACCENT
        ),
        "cover_sub": ParagraphStyle("cover_sub", parent=base, fontSize=13, leading=18),
        "figure": ParagraphStyle(
            "figure", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20
        ),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
    }


def _footer(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 8)
    canvas.setFillColor(MUTED)
    canvas.drawString(MARGIN, 10 * mm, doc.xplorr_title)
    canvas.drawRightString(PAGE_W - MARGIN, 10 * mm, f"Page {doc.page}")
    canvas.restoreState()


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int],
    widths: Sequence[float] | None = None,
) -> Table:
    """A striped table; columns in ``right`` (amounts, percentages) are right-aligned."""
    table = Table([list(header), *[list(r) for r in rows]], colWidths=widths, repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
        ("TEXTCOLOR", (0, 0), (-1, 0), ACCENT),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, ACCENT),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    style.extend(("ALIGN", (col, 0), (col, -1), "RIGHT") for col in right)
    style.extend(("BACKGROUND", (0, i), (-1, i), STRIPE) for i in range(2, len(rows) + 1, 2))
    table.setStyle(TableStyle(style))
    return table


def _lines_table(lines: Sequence[Line], label: str, currency: str) -> list[Any]:
    shown = lines[:TABLE_ROWS]
    rows = [[line.name, amount(line.cost, currency), share(line.share)] for line in shown]
    out: list[Any] = [
        _table([label, "Cost", "Share"], rows, right=(1, 2), widths=(95 * mm, 40 * mm, 30 * mm))
    ]
    if len(lines) > TABLE_ROWS:
        out.append(
            Paragraph(f"{len(lines) - TABLE_ROWS} more in the Excel report.", _styles()["muted"])
        )
    return out


def _short(name: str, limit: int = 23) -> str:
    """A name that fits a half-page column (the full name is in the chapter's tables)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _image(png: bytes, width: float) -> Image:
    img = Image(io.BytesIO(png))
    ratio = img.imageHeight / img.imageWidth
    img.drawWidth, img.drawHeight = width, width * ratio
    return img


def _key_figures(cr: CurrencyReport) -> list[list[str]]:
    rows = [
        ["Total spend", amount(cr.total, cr.currency)],
        ["Previous period", amount(cr.previous_total, cr.currency)],
        ["Change", f"{amount(cr.change, cr.currency)} ({percent(cr.change_percent)})"],
    ]
    if cr.forecast is not None:
        f = cr.forecast
        rows.append(
            [
                f"Forecast {f.period_start:%B %Y}",
                f"{amount(f.forecast, cr.currency)} "
                f"({amount(f.low, cr.currency)} to {amount(f.high, cr.currency)})",
            ]
        )
    return rows


def _summary(report: Report, s: dict[str, ParagraphStyle], trends: dict[str, bytes]) -> list[Any]:
    story: list[Any] = [Paragraph("Executive summary", s["h1"])]
    scope = f"{escape(report.account_name)}" if report.account_name else "All cloud accounts"
    story.append(
        Paragraph(
            f"{scope} · {report.start:%d %b %Y} to {report.end:%d %b %Y} ({report.days} days), "
            f"compared with {report.previous_start:%d %b %Y} to {report.previous_end:%d %b %Y}.",
            s["muted"],
        )
    )
    if not report.currencies:
        story.append(Spacer(1, 8 * mm))
        story.append(Paragraph("No cost data in this period.", s["body"]))
        return story
    if len(report.currencies) > 1:
        story.append(
            Paragraph(
                "Costs are billed in several currencies; each is reported on its own and never "
                "added to another.",
                s["muted"],
            )
        )
    width = (PAGE_W - 2 * MARGIN) / 2 - 4 * mm
    for cr in report.currencies:
        story.append(Paragraph(f"Spend in {cr.currency}", s["h2"]))
        story.append(Paragraph(amount(cr.total, cr.currency), s["figure"]))
        figures = _table(["", ""], _key_figures(cr), right=(1,), widths=(45 * mm, 120 * mm))
        story.append(figures)
        top = [
            [_short(line.name), amount(line.cost, cr.currency), share(line.share)]
            for line in cr.by_service[:5]
        ]
        movers = [
            [_short(m.name), amount(m.change, cr.currency), percent(m.change_percent)]
            for m in cr.top_movers[:5]
        ]
        half = (width - 2 * mm) / mm
        cols = (half * 0.52 * mm, half * 0.28 * mm, half * 0.20 * mm)
        pair = Table(
            [
                [
                    _table(["Top services", "Cost", "Share"], top, right=(1, 2), widths=cols),
                    _table(["Top movers", "Change", "%"], movers, right=(1, 2), widths=cols),
                ]
            ],
            colWidths=(width + 4 * mm, width + 4 * mm),
        )
        pair.setStyle(
            TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONT", (0, 0), (-1, -1), FONT)])
        )
        story.append(Spacer(1, 3 * mm))
        story.append(pair)
        if len(report.currencies) == 1:
            story.append(Spacer(1, 4 * mm))
            story.append(_image(trends[cr.currency], PAGE_W - 2 * MARGIN))
    return story


def _chapter(cr: CurrencyReport, s: dict[str, ParagraphStyle], trend: bytes) -> list[Any]:
    sym = symbol(cr.currency)
    full = PAGE_W - 2 * MARGIN
    story: list[Any] = [
        Paragraph(f"Spend in {cr.currency}: {amount(cr.total, cr.currency)}", s["h1"]),
        _image(trend, full),
    ]
    if cr.by_service:
        story.append(_image(charts.bars_png(cr.by_service, "Top services", sym), full))
    for label, lines in (
        ("Provider", cr.by_provider),
        ("Cloud account", cr.by_account),
        ("Service", cr.by_service),
        ("Region", cr.by_region),
    ):
        first, *rest = _lines_table(lines, label, cr.currency)
        story.append(KeepTogether([Paragraph(f"By {label.lower()}", s["h2"]), first]))
        story.extend(rest)
    if cr.top_movers:
        rows = [
            [
                m.name,
                amount(m.previous, cr.currency),
                amount(m.current, cr.currency),
                amount(m.change, cr.currency),
                percent(m.change_percent),
            ]
            for m in cr.top_movers
        ]
        story.append(Paragraph("Top movers (services)", s["h2"]))
        story.append(
            _table(
                ["Service", "Previous", "Current", "Change", "%"],
                rows,
                right=(1, 2, 3, 4),
                widths=(60 * mm, 27 * mm, 27 * mm, 27 * mm, 25 * mm),
            )
        )
    return story


def _section(section: Section, s: dict[str, ParagraphStyle]) -> list[Any]:
    story: list[Any] = [Paragraph(escape(section.title), s["h1"])]
    if section.note:
        story.append(Paragraph(escape(section.note), s["muted"]))
    if section.figures:
        rows = [[escape(f.label), cell(f.value, f.kind, f.currency)] for f in section.figures]
        story.append(_table(["", ""], rows, right=(1,), widths=(80 * mm, 60 * mm)))
    for t in section.tables:
        story.append(Paragraph(escape(t.title), s["h2"]))
        right = [
            i for i, c in enumerate(t.columns) if c.kind in (Kind.MONEY, Kind.PERCENT, Kind.NUMBER)
        ]
        rows = [
            [cell(v, c.kind, t.currency) for v, c in zip(r, t.columns, strict=True)] for r in t.rows
        ]
        story.append(_table([c.title for c in t.columns], rows, right=right))
    return story


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes."""
    _register_fonts()
    s = _styles()
    # Each currency's trend is drawn once: the summary and the chapter show the same chart.
    trends = {
        cr.currency: charts.trend_png(cr.daily, symbol(cr.currency)) for cr in report.currencies
    }
    out = io.BytesIO()
    doc = BaseDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=report.title,
        author="Xplorr",
        creator="Xplorr",
        initialFontName=FONT,  # the canvas' default font is Helvetica, a system/viewer font
        subject=f"Cloud costs of {report.org_name}",
    )
    doc.xplorr_title = f"{report.org_name} · {report.title}"
    frame = Frame(MARGIN, MARGIN, PAGE_W - 2 * MARGIN, PAGE_H - 2 * MARGIN, id="body")
    doc.addPageTemplates(
        [
            PageTemplate(id="cover", frames=[frame]),
            PageTemplate(id="body", frames=[frame], onPage=_footer),
        ]
    )
    scope = escape(report.account_name) if report.account_name else "All cloud accounts"
    story: list[Any] = [
        Spacer(1, 70 * mm),
        Paragraph("Cloud cost report", s["cover"]),
        Spacer(1, 6 * mm),
        Paragraph(escape(report.org_name), s["cover_sub"]),
        Paragraph(f"{report.start:%d %B %Y} to {report.end:%d %B %Y}", s["cover_sub"]),
        Paragraph(scope, s["cover_sub"]),
        Spacer(1, 30 * mm),
        Paragraph(
            f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC by Xplorr. Amounts: "
            f"{report.metric} cost, rounded to each currency's minor units.",
            s["muted"],
        ),
        NextPageTemplate("body"),
        PageBreak(),
        *_summary(report, s, trends),
    ]
    for cr in report.currencies:
        story.extend([PageBreak(), *_chapter(cr, s, trends[cr.currency])])
    for section in report.sections:
        story.extend([PageBreak(), *_section(section, s)])
    doc.build(story)
    return out.getvalue()
