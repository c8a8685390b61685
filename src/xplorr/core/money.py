"""Money: how much the store keeps, how answers round, which currency they default to, and how
amounts leave the API.

**Store.** Every amount is kept exactly with 9 decimal places (FOCUS exports carry up to ~15;
rounding each line at 1e-9, half-even, cannot move a sum of millions of lines by a cent), in
the ``core.models.Money`` column type: NUMERIC on PostgreSQL, canonical decimal text on SQLite.

**Bounds.** One cost line holds at most :data:`LINE_MAX` (1e12) in absolute value: ingest refuses
a larger one, naming file, row and column. Real bills reach 9.2e9 in IDR, VND or KRW; 1e12 leaves
two orders of magnitude. Sums are exact on both databases far beyond :data:`SUM_EXACT_MAX`
(1e15, the bound the tests hold every answer to): PostgreSQL's NUMERIC has no practical limit
and SQLite's exact SUM (``core.models``) adds whole units and nano-units as two 64-bit sums.

**Rounding.** An answer rounds each amount on its own to its currency's ISO 4217 minor units
(JPY 0, USD 2, KWD 3; CLDR's data through babel), half up, as invoices do.

**Default currency.** Amounts in different currencies are never added up, so an answer is in
one currency: the requested one, else the organization's reporting currency, else the currency
in which the most cloud accounts bill (ties: the most account-months, then alphabetical). Never
the currency with the largest total: a yen or won total is always the largest number.

**Serialising.** Amounts are JSON numbers written with their exact decimal digits. A binary
float cannot do that (999999999999999.99 has 17 significant digits; a double has 15 to 17), and
pydantic writes a ``Decimal`` as a string, so :data:`DecimalNumber` fields are written as a
marked string inside a request and :class:`ExactNumbersMiddleware` turns the marked strings of a
JSON response back into bare numbers. Outside a request (``model_dump(mode="json")``) they stay
plain exact strings, never floats.
"""

import re
import secrets
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from typing import Annotated, Final, NamedTuple

from babel.numbers import get_currency_precision
from pydantic import PlainSerializer, WithJsonSchema
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STORE_SCALE: Final = 9
STORE_QUANTUM: Final = Decimal(1).scaleb(-STORE_SCALE)  # 0.000000001
LINE_MAX: Final = Decimal(10**12)
SUM_EXACT_MAX: Final = Decimal(10**15)
# The largest magnitude a Money column accepts (SQLite keeps the whole part as a 64-bit integer).
STORE_MAX: Final = Decimal(10**18)

ZERO: Final = Decimal(0)
# Enough digits for any quantize here: the default context's 28 would refuse 1e19 at 9 places.
_EXACT: Final = Context(prec=80)


def quantize_store(value: Decimal) -> Decimal:
    """The store's precision: 9 decimal places, half-even."""
    return value.quantize(STORE_QUANTUM, rounding=ROUND_HALF_EVEN, context=_EXACT)


def to_store(value: Decimal | int | str) -> Decimal:
    """``value`` as a Money column keeps it; ValueError beyond :data:`STORE_MAX`."""
    amount = quantize_store(Decimal(value))
    if not amount.is_finite() or abs(amount) >= STORE_MAX:
        raise ValueError(f"{value} is beyond the largest amount of money Xplorr stores (1e18)")
    return amount.copy_abs() if amount.is_zero() else amount


def store_text(amount: Decimal) -> str:
    """Canonical text of a stored amount (SQLite): sign, whole digits, '.', exactly 9 digits."""
    return f"{to_store(amount):f}"


def minor_units(currency: str) -> int:
    """Decimal places of ``currency`` (ISO 4217 via CLDR): JPY 0, USD 2, KWD 3; 2 if unknown."""
    return int(get_currency_precision(currency.upper()))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half up to ``currency``'s minor units (never a negative zero)."""
    rounded = amount.quantize(
        Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP, context=_EXACT
    )
    return rounded.copy_abs() if rounded.is_zero() else rounded


def round_parts(
    parts: Sequence[Decimal], currency: str, total: Decimal | None = None
) -> list[Decimal]:
    """``parts`` rounded to ``currency``'s minor units so that they add up exactly to ``total``
    (default ``round_money(sum(parts))``; else the sum's own rounding by this function one
    level up, its floor or ceiling), by largest remainder: each part is rounded down, then the
    units missing from the total go one each to the parts with the largest remainders (ties:
    the earlier part). Every part ends within one unit of its exact value."""
    if not parts:
        return []
    quantum = Decimal(1).scaleb(-minor_units(currency))
    floors = [p.quantize(quantum, rounding=ROUND_FLOOR, context=_EXACT) for p in parts]
    target = round_money(sum(parts, ZERO), currency) if total is None else total
    missing = int(((target - sum(floors, ZERO)) / quantum).to_integral_value())
    if not 0 <= missing <= len(parts):
        raise ValueError("total is not within a unit of the parts' sum")
    order = sorted(range(len(parts)), key=lambda i: (-(parts[i] - floors[i]), i))
    out = list(floors)
    for i in order[:missing]:
        out[i] += quantum
    return [p.copy_abs() if p.is_zero() else p for p in out]


class CurrencyUse(NamedTuple):
    """How much of an organization bills in one currency: cloud accounts, and (account, billing
    month) pairs."""

    accounts: int
    account_months: int


def default_currency(reporting: str | None, use: Mapping[str, CurrencyUse]) -> str | None:
    """The currency of an answer that names none: the reporting currency when set, else the one
    in which the most cloud accounts bill, then the most account-months, then alphabetical;
    None without any."""
    if reporting is not None:
        return reporting.upper()
    ranked = sorted(
        use.items(), key=lambda item: (-item[1].accounts, -item[1].account_months, item[0])
    )
    return ranked[0][0] if ranked else None


def plain(value: Decimal) -> str:
    """The exact digits of ``value`` without an exponent: ``1E+3`` -> ``1000``."""
    text = f"{value:f}"
    return text[1:] if text.startswith("-") and value.is_zero() else text


# --- serialising --------------------------------------------------------------------------------

# Per process and unguessable, so no text a user stored can pass for a marked number.
_MARK: Final = f"xplorr-number-{secrets.token_hex(16)}:"
_MARKED = re.compile(rb'"' + re.escape(_MARK.encode()) + rb'(-?[0-9]+(?:\.[0-9]+)?)"')
_in_response: ContextVar[bool] = ContextVar("xplorr_exact_numbers", default=False)


def _json_decimal(value: Decimal) -> str:
    text = plain(value)
    return _MARK + text if _in_response.get() else text


DecimalNumber = Annotated[
    Decimal,
    PlainSerializer(_json_decimal, return_type=str, when_used="json"),
    WithJsonSchema({"type": "number"}),
]
"""A ``Decimal`` written as a JSON number with its exact digits (module docstring). Round it
first (:func:`round_money`); this writes what it is given."""


class ExactNumbersMiddleware:
    """Writes the :data:`DecimalNumber` fields of JSON responses as bare numbers.

    Inside a request the serializer marks each such value (a string carrying this process's
    random marker); here the marked strings of an ``application/json`` body become the numbers
    they hold and Content-Length is set again. Other responses pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_exact(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message["headers"]))
                if headers.get("content-type", "").startswith("application/json"):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                if _MARK.encode() in body:
                    body = _MARKED.sub(rb"\1", body)
                headers = MutableHeaders(raw=list(start["headers"]))
                headers["content-length"] = str(len(body))
                await send({**start, "headers": headers.raw})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        token = _in_response.set(True)
        try:
            await self.app(scope, receive, send_exact)
        finally:
            _in_response.reset(token)
