"""Every money column is a ``Money`` column (exact on SQLite and PostgreSQL): a model that keeps
an amount in a float, a plain ``Numeric`` (a float on SQLite) or an integer fails here."""

import re

from sqlalchemy import Column, Float, Integer, Numeric, TypeDecorator
from sqlalchemy.types import TypeEngine

from xplorr.core.models import Money
from xplorr.models_registry import Base

# A column named like money: cost, amount, price, spend, total, balance, budget, fee, savings...
MONEY_NAME = re.compile(
    r"(^|_)(costs?|amounts?|prices?|spend|spent|totals?|balance|budgets?|fees?|savings?|"
    r"threshold|revenue|credit|charges?|invoiced?)(_|$)"
)
# Decimal columns that are not money (each says what it holds).
NOT_MONEY = {
    ("cost_records", "consumed_quantity"): "FOCUS ConsumedQuantity: usage, not money",
    ("cost_records", "pricing_quantity"): "FOCUS PricingQuantity: usage in pricing units",
}


def _impl(type_: TypeEngine[object]) -> TypeEngine[object]:
    while isinstance(type_, TypeDecorator) and not isinstance(type_, Money):
        type_ = type_.impl_instance
    return type_


def _columns() -> list[tuple[str, Column[object]]]:
    return [(table.name, column) for table in Base.metadata.tables.values() for column in table.c]


def _numeric(type_: TypeEngine[object]) -> bool:
    return isinstance(type_, Numeric | Float | Integer)


def test_money_named_columns_are_money() -> None:
    wrong = [
        f"{table}.{column.name}: {column.type!r}"
        for table, column in _columns()
        if MONEY_NAME.search(column.name)
        and _numeric(_impl(column.type))
        and not isinstance(column.type, Money)
        and (table, column.name) not in NOT_MONEY
    ]
    assert wrong == [], "declare money with core.models.Money (exact on SQLite and PostgreSQL)"


def test_no_float_and_no_plain_numeric() -> None:
    """A decimal column is money until proven otherwise: ``Numeric`` is a binary float on
    SQLite (1234567890123.123456 reads back as ...123535), ``Float`` everywhere."""
    wrong = [
        f"{table}.{column.name}: {column.type!r}"
        for table, column in _columns()
        if isinstance(_impl(column.type), Numeric | Float)
        and not isinstance(column.type, Money)
        and (table, column.name) not in NOT_MONEY
    ]
    assert wrong == [], "use core.models.Money, or list a non-money decimal in NOT_MONEY"


def test_the_cost_store_uses_money() -> None:
    """The lint above sees the cost columns (it would not pass vacuously)."""
    money_columns = {
        (table, column.name) for table, column in _columns() if isinstance(column.type, Money)
    }
    for table in ("cost_records", "cost_rollups", "cost_service_rollups", "cost_tag_rollups"):
        for name in ("billed_cost", "effective_cost", "list_cost"):
            assert (table, name) in money_columns
