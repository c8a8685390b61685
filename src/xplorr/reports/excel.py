"""The report as an Excel workbook (xlsxwriter): a summary sheet, then one sheet per section and
currency (daily trend, providers, accounts, services, regions, top movers) and one per other
area's table. Amounts are numbers (exact decimals written as numbers) with the currency's format;
headers are frozen, every table has an autofilter, and the trend and breakdowns carry native
Excel charts."""

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from xplorr.core.report_sections import Cell, Kind, Section
from xplorr.reports.formatting import excel_money_format
from xplorr.reports.model import CurrencyReport, Line, Report

SHEET_NAME_MAX = 31
_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", " "))


class _Book:
    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.header = wb.add_format({"bold": True, "bg_color": "#1e3a8a", "font_color": "#ffffff"})
        self.title = wb.add_format({"bold": True, "font_size": 14, "font_color": "#1e3a8a"})
        self.percent = wb.add_format({"num_format": '0.00" %"'})
        self.date = wb.add_format({"num_format": "yyyy-mm-dd"})
        self.bold = wb.add_format({"bold": True})
        self._money: dict[str, Any] = {}
        self._names: set[str] = set()

    def money(self, currency: str) -> Any:
        if currency not in self._money:
            self._money[currency] = self.wb.add_format({"num_format": excel_money_format(currency)})
        return self._money[currency]

    def sheet(self, name: str) -> Worksheet:
        base = name.translate(_FORBIDDEN)[:SHEET_NAME_MAX]
        candidate, n = base, 2
        while candidate.lower() in self._names:
            suffix = f" ({n})"
            candidate = base[: SHEET_NAME_MAX - len(suffix)] + suffix
            n += 1
        self._names.add(candidate.lower())
        return self.wb.add_worksheet(candidate)


def _number(value: Decimal) -> float | int:
    """Excel stores IEEE doubles: an amount rounded to its minor units is written as the
    double nearest to it, so it reads back as the same digits."""
    return int(value) if value == value.to_integral_value() else float(value)


def _table(
    book: _Book,
    ws: Worksheet,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    kinds: Sequence[Kind],
    currency: str | None,
    *,
    first_row: int = 0,
) -> None:
    """Header at ``first_row`` (frozen below it), rows, autofilter, column widths."""
    for col, title in enumerate(header):
        ws.write_string(first_row, col, title, book.header)
    widths = [len(h) + 2 for h in header]
    for r, row in enumerate(rows, start=first_row + 1):
        for c, (value, kind) in enumerate(zip(row, kinds, strict=True)):
            if value is None:
                ws.write_blank(r, c, None)
            elif isinstance(value, Decimal):
                fmt = None
                if kind is Kind.MONEY and currency:
                    fmt = book.money(currency)
                elif kind is Kind.PERCENT:
                    fmt = book.percent
                ws.write_number(r, c, _number(value), fmt)
                widths[c] = max(widths[c], 14)
            elif isinstance(value, int):
                ws.write_number(r, c, value)
            elif isinstance(value, date):
                ws.write_datetime(r, c, value, book.date)
                widths[c] = max(widths[c], 12)
            else:
                ws.write_string(r, c, value)
                widths[c] = max(widths[c], min(len(value) + 2, 60))
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    ws.freeze_panes(first_row + 1, 0)
    ws.autofilter(first_row, 0, first_row + max(len(rows), 1), len(header) - 1)


def _bar_chart(book: _Book, ws: Worksheet, title: str, rows: int, currency: str) -> None:
    if rows == 0:
        return
    shown = min(rows, 15)
    chart = book.wb.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": title,
            "categories": [ws.name, 1, 0, shown, 0],
            "values": [ws.name, 1, 1, shown, 1],
            "fill": {"color": "#2563eb"},
        }
    )
    chart.set_title({"name": title})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    chart.set_x_axis({"num_format": excel_money_format(currency)})
    chart.set_size({"width": 640, "height": 24 * shown + 120})
    ws.insert_chart(1, 4, chart)


def _lines_sheet(book: _Book, label: str, lines: Sequence[Line], currency: str) -> None:
    ws = book.sheet(f"{label} {currency}")
    rows = [(line.name, line.cost, line.share) for line in lines]
    _table(
        book,
        ws,
        [label, f"Cost ({currency})", "Share"],
        rows,
        [Kind.TEXT, Kind.MONEY, Kind.PERCENT],
        currency,
    )
    _bar_chart(book, ws, f"{label} ({currency})", len(rows), currency)


def _currency_sheets(book: _Book, cr: CurrencyReport) -> None:
    cur = cr.currency
    ws = book.sheet(f"Trend {cur}")
    _table(
        book,
        ws,
        ["Date", f"Cost ({cur})"],
        [(d.day, d.cost) for d in cr.daily],
        [Kind.DATE, Kind.MONEY],
        cur,
    )
    if cr.daily:
        chart = book.wb.add_chart({"type": "line"})
        chart.add_series(
            {
                "name": f"Daily spend ({cur})",
                "categories": [ws.name, 1, 0, len(cr.daily), 0],
                "values": [ws.name, 1, 1, len(cr.daily), 1],
                "line": {"color": "#2563eb", "width": 1.5},
            }
        )
        chart.set_title({"name": f"Daily spend ({cur})"})
        chart.set_legend({"none": True})
        chart.set_x_axis({"date_axis": True, "num_format": "yyyy-mm-dd"})
        chart.set_y_axis({"num_format": excel_money_format(cur)})
        chart.set_size({"width": 720, "height": 320})
        ws.insert_chart(1, 3, chart)
    for label, lines in (
        ("Providers", cr.by_provider),
        ("Accounts", cr.by_account),
        ("Services", cr.by_service),
        ("Regions", cr.by_region),
    ):
        _lines_sheet(book, label, lines, cur)
    ws = book.sheet(f"Movers {cur}")
    rows = [(m.name, m.previous, m.current, m.change, m.change_percent) for m in cr.top_movers]
    _table(
        book,
        ws,
        ["Service", "Previous", "Current", "Change", "Change %"],
        rows,
        [Kind.TEXT, Kind.MONEY, Kind.MONEY, Kind.MONEY, Kind.PERCENT],
        cur,
    )


def _summary(book: _Book, report: Report) -> None:
    ws = book.sheet("Summary")
    ws.write_string(0, 0, report.title, book.title)
    ws.write_string(1, 0, report.org_name)
    ws.write_string(2, 0, report.account_name or "All cloud accounts")
    ws.write_string(
        3,
        0,
        f"Compared with {report.previous_start.isoformat()} to {report.previous_end.isoformat()}",
    )
    header = [
        "Currency",
        "Total",
        "Previous period",
        "Change",
        "Change %",
        "Forecast (month)",
        "Forecast low",
        "Forecast high",
    ]
    rows: list[tuple[Cell, ...]] = []
    for cr in report.currencies:
        f = cr.forecast
        rows.append(
            (
                cr.currency,
                cr.total,
                cr.previous_total,
                cr.change,
                cr.change_percent,
                f.forecast if f else None,
                f.low if f else None,
                f.high if f else None,
            )
        )
    kinds = [
        Kind.TEXT,
        Kind.MONEY,
        Kind.MONEY,
        Kind.MONEY,
        Kind.PERCENT,
        Kind.MONEY,
        Kind.MONEY,
        Kind.MONEY,
    ]
    # Each row in its own currency's format: written row by row.
    for col, title in enumerate(header):
        ws.write_string(5, col, title, book.header)
    for r, row in enumerate(rows, start=6):
        cur = str(row[0])
        ws.write_string(r, 0, cur)
        for c in range(1, len(header)):
            value = row[c]
            if isinstance(value, Decimal):
                fmt = book.percent if kinds[c] is Kind.PERCENT else book.money(cur)
                ws.write_number(r, c, _number(value), fmt)
            else:
                ws.write_blank(r, c, None)
    ws.set_column(0, 0, 14)
    ws.set_column(1, len(header) - 1, 17)
    ws.freeze_panes(6, 0)
    ws.autofilter(5, 0, 5 + max(len(rows), 1), len(header) - 1)


def _section_sheets(book: _Book, section: Section) -> None:
    if section.figures:
        ws = book.sheet(section.title)
        rows = [(f.label, f.value) for f in section.figures]
        for col, title in enumerate(("Figure", "Value")):
            ws.write_string(0, col, title, book.header)
        for r, (label, value) in enumerate(rows, start=1):
            ws.write_string(r, 0, label)
            fig = section.figures[r - 1]
            if isinstance(value, Decimal):
                fmt = book.money(fig.currency) if fig.kind is Kind.MONEY and fig.currency else None
                ws.write_number(r, 1, _number(value), fmt)
            elif value is not None:
                ws.write(r, 1, value)
        ws.set_column(0, 1, 28)
        ws.freeze_panes(1, 0)
    for t in section.tables:
        ws = book.sheet(t.title)
        _table(
            book, ws, [c.title for c in t.columns], t.rows, [c.kind for c in t.columns], t.currency
        )


def render_excel(report: Report) -> bytes:
    """The report as .xlsx bytes."""
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "default_date_format": "yyyy-mm-dd"})
    wb.set_properties({"title": report.title, "company": report.org_name, "author": "Xplorr"})
    book = _Book(wb)
    _summary(book, report)
    for cr in report.currencies:
        _currency_sheets(book, cr)
    for section in report.sections:
        _section_sheets(book, section)
    wb.close()
    return out.getvalue()
