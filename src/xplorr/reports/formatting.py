"""How amounts read in the PDF and in Excel: the currency's symbol and minor units (CLDR data
through babel, as ``core.money``), thousands separators, negative amounts with a minus."""

from datetime import date
from decimal import Decimal

from babel.numbers import format_currency, get_currency_symbol

from xplorr.core import money
from xplorr.core.report_sections import Cell, Kind


def symbol(currency: str) -> str:
    return str(get_currency_symbol(currency, locale="en_US"))


def amount(value: Decimal, currency: str) -> str:
    """``$1,234.56``, ``€7.00``, ``¥1,235``: the value at its currency's minor units."""
    return str(
        format_currency(
            money.round_money(value, currency), currency, locale="en_US", currency_digits=True
        )
    )


def percent(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:+,.2f} %" if value != 0 else "0.00 %"


def share(value: Decimal) -> str:
    return f"{value:,.2f} %"


def cell(value: Cell, kind: Kind, currency: str | None) -> str:
    """A provider section's cell as text."""
    if value is None:
        return ""
    if kind is Kind.MONEY and isinstance(value, Decimal) and currency:
        return amount(value, currency)
    if kind is Kind.PERCENT and isinstance(value, Decimal):
        return share(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:,}"
    return str(value)


def excel_money_format(currency: str) -> str:
    """An Excel number format for ``currency``: symbol, separators, its minor units."""
    digits = money.minor_units(currency)
    decimals = ("." + "0" * digits) if digits else ""
    sym = symbol(currency).replace('"', "")
    return f'"{sym}"#,##0{decimals};-"{sym}"#,##0{decimals}'
