"""core.money: ISO 4217 minor units, rounding, the default-currency rule, the store's bounds and
the exact JSON numbers."""

from decimal import Decimal

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import CompileError
from starlette.responses import PlainTextResponse, Response

from xplorr.core import money
from xplorr.core.money import CurrencyUse as Use
from xplorr.core.money import DecimalNumber, ExactNumbersMiddleware
from xplorr.costs.models import CostRecord

D = Decimal


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("VND", 0), ("KWD", 3), ("BHD", 3)],
)
def test_minor_units_come_from_iso_4217(currency: str, digits: int) -> None:
    assert money.minor_units(currency) == digits
    assert money.minor_units(currency.lower()) == digits


def test_an_unknown_currency_has_two_minor_units() -> None:
    assert money.minor_units("XYZ") == 2


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("1234.5", "JPY", "1235"),
        ("1234.4999", "JPY", "1234"),
        ("-1234.5", "JPY", "-1235"),
        ("1.2345", "KWD", "1.235"),
        ("1.2344", "KWD", "1.234"),
        ("10.005", "USD", "10.01"),
        ("-10.005", "USD", "-10.01"),
        ("-0.004", "USD", "0.00"),  # never a negative zero
        ("999999999999999.994999999", "USD", "999999999999999.99"),
        ("999999999999999.995", "USD", "1000000000000000.00"),
        ("99999999999999999999.123456789", "KWD", "99999999999999999999.123"),
    ],
)
def test_round_money_half_up_to_minor_units(amount: str, currency: str, rounded: str) -> None:
    got = money.round_money(D(amount), currency)
    assert str(got) == rounded


class TestDefaultCurrency:
    def test_the_reporting_currency_wins(self) -> None:
        assert money.default_currency("eur", {"USD": Use(5, 50)}) == "EUR"

    def test_else_the_currency_most_accounts_bill_in(self) -> None:
        # The yen total is the largest number; the answer is still in dollars.
        use = {"JPY": Use(1, 40), "USD": Use(2, 2), "KRW": Use(1, 1)}
        assert money.default_currency(None, use) == "USD"

    def test_ties_go_to_the_most_account_months_then_alphabetical(self) -> None:
        assert money.default_currency(None, {"USD": Use(1, 3), "EUR": Use(1, 1)}) == "USD"
        assert money.default_currency(None, {"USD": Use(1, 2), "EUR": Use(1, 2)}) == "EUR"

    def test_none_without_cost_data(self) -> None:
        assert money.default_currency(None, {}) is None


class TestStore:
    def test_nine_places_half_even(self) -> None:
        assert money.to_store(D("0.0000000005")) == D("0E-9")
        assert money.to_store(D("0.0000000015")) == D("2E-9")
        assert str(money.to_store(D("1234567890123.123456789"))) == "1234567890123.123456789"

    def test_canonical_text(self) -> None:
        assert money.store_text(D("-1234.5")) == "-1234.500000000"
        assert money.store_text(D("-0")) == "0.000000000"
        assert money.store_text(D("1E+3")) == "1000.000000000"

    def test_beyond_the_store_is_refused(self) -> None:
        assert money.to_store(D("999999999999999999.999999999"))
        with pytest.raises(ValueError, match="largest amount"):
            money.to_store(D("1E18"))
        with pytest.raises(ValueError, match="largest amount"):
            money.to_store(D("-1E18"))


class _Out(BaseModel):
    amount: DecimalNumber


def test_outside_a_response_a_decimal_number_is_an_exact_string() -> None:
    """Only the HTTP layer writes bare numbers (tests/costs/test_money_bounds.py); anywhere
    else the digits stay exact, never a float."""
    out = _Out(amount=D("999999999999999.99"))
    assert out.model_dump(mode="json") == {"amount": "999999999999999.99"}
    assert _Out(amount=D("1E+3")).model_dump_json() == '{"amount":"1000"}'
    assert out.model_dump() == {"amount": D("999999999999999.99")}
    assert _Out.model_json_schema(mode="serialization")["properties"]["amount"]["type"] == "number"


def test_min_and_max_of_money_are_refused_on_sqlite() -> None:
    """Money is text on SQLite: MIN/MAX would compare text and be silently wrong."""
    for fn in (func.min, func.max):
        stmt = select(fn(CostRecord.billed_cost))
        with pytest.raises(CompileError, match="not exact on SQLite"):
            stmt.compile(dialect=sqlite.dialect())
        assert "(cost_records.billed_cost)" in str(stmt.compile(dialect=postgresql.dialect()))
    assert "max(cost_records.usage_date)" in str(
        select(func.max(CostRecord.usage_date)).compile(dialect=sqlite.dialect())
    )


async def _asgi(app, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=ExactNumbersMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_the_middleware_writes_marked_values_as_bare_numbers() -> None:
    """Inside a request a DecimalNumber is marked; the JSON body gets the bare number, a user's
    text that merely looks like a number stays a string, and other bodies pass untouched."""

    class Body(BaseModel):
        amount: DecimalNumber
        name: str

    async def app(scope, receive, send) -> None:
        if scope["path"] == "/json":
            body = Body(amount=D("999999999999999.99"), name="999999999999999.99").model_dump_json()
            response = Response(body, media_type="application/json")
        else:
            response = PlainTextResponse(_Out(amount=D("1.50")).model_dump_json())
        await response(scope, receive, send)

    r = await _asgi(app, "/json")
    assert r.content == b'{"amount":999999999999999.99,"name":"999999999999999.99"}'
    assert r.headers["content-length"] == str(len(r.content))
    text = await _asgi(app, "/text")
    assert text.text.startswith('{"amount":"xplorr-number-')  # not JSON: left as it was
