"""How the console writes numbers and times for a person: money with its currency's ISO 4217
minor units (never added across currencies), times in the organization's time zone."""

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import format_currency, format_decimal, format_percent

from xplorr.core.money import round_money

LOCALE = "en_US"


def as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Any, currency: str | None = "USD") -> str:
    """``1234.5`` USD -> ``$1,234.50``; JPY has no minor unit -> ``¥1,235``."""
    amount = as_decimal(value)
    if amount is None:
        return "—"
    code = (currency or "USD").upper()
    return format_currency(round_money(amount, code), code, locale=LOCALE)


def number(value: Any, digits: int = 2) -> str:
    amount = as_decimal(value)
    if amount is None:
        return "—"
    return format_decimal(
        amount, format=f"#,##0.{'#' * digits}" if digits else "#,##0", locale=LOCALE
    )


def percent(value: Any, *, ratio: bool = False) -> str:
    """A percentage: ``12.5`` -> ``12.5%``; with ``ratio`` ``0.125`` -> ``12.5%``."""
    amount = as_decimal(value)
    if amount is None:
        return "—"
    return format_percent(amount if ratio else amount / 100, format="#,##0.#%", locale=LOCALE)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: Any, tz: str | None) -> str:
    """An instant in the organization's zone: ``3 Dec 2026, 14:05 CET``."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    local = moment.astimezone(zone(tz))
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".strip()


def day(value: Any) -> str:
    """A calendar day (billing days have no zone): ``3 Dec 2026``."""
    if isinstance(value, date):
        found = value
    else:
        try:
            found = date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value or "—")
    return f"{found.day} {found:%b %Y}"
