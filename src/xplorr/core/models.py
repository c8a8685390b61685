"""The declarative base, column types and mixins every area's ``models.py`` builds on."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    MetaData,
    Numeric,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import functions
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from xplorr.core import clock, money

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite drops tzinfo: reject naive values on the way in, return aware UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use xplorr.core.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Every amount of money in the database: exact, 9 decimal places (``core.money``).

    PostgreSQL: ``NUMERIC(38, 9)``. SQLite has no exact decimal type (its NUMERIC is a binary
    float), so the value is kept as canonical text (``-1234.500000000``: sign, whole digits, a
    point, exactly 9 digits) and ``func.sum()`` of a Money column compiles to an exact sum of
    that text (:func:`_sqlite_exact_sum`). Sums come back as ``Decimal`` on both databases.

    On SQLite only ``SUM`` is exact in SQL: compare, order, ``MIN``/``MAX`` or do arithmetic on
    amounts in Python (text compares as text there, and arithmetic would go through floats).
    """

    impl = Numeric(38, money.STORE_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(38, money.STORE_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money is never a float: pass a Decimal")
        if dialect.name == "sqlite":
            return money.store_text(Decimal(value))
        return money.to_store(value)

    def process_result_value(self, value: Any, _dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return money.quantize_store(Decimal(value))

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


def _sqlite_exact_sum(x: str) -> str:
    """``SUM(x)`` of canonical Money text, exact, as canonical Money text (NULL for no rows).

    Two native 64-bit sums, so it runs at SQLite's own speed: the whole units
    (``CAST(x AS INTEGER)`` truncates toward zero) and the signed nano-units (the last 9
    characters). Then ``w0 = whole + nanos / 1e9`` and ``f0 = nanos % 1e9`` (both truncating, so
    they may disagree in sign) are written out as one signed decimal. Exact while the whole
    units add up to less than 9.2e18 and there are fewer than 9.2e9 rows (SQLite raises
    "integer overflow" beyond, never a wrong sum). SQLite evaluates each distinct aggregate once
    per group, so the repeated ``SUM(...)`` texts cost nothing."""
    whole = f"SUM(CAST({x} AS INTEGER))"
    digits = f"CAST(substr({x}, -9) AS INTEGER)"
    nanos = f"SUM(CASE WHEN substr({x}, 1, 1) = '-' THEN -{digits} ELSE {digits} END)"
    w0 = f"({whole} + {nanos} / 1000000000)"
    f0 = f"({nanos} % 1000000000)"
    return (
        f"(CASE WHEN {whole} IS NULL THEN NULL "
        f"WHEN {w0} < 0 OR ({w0} = 0 AND {f0} < 0) THEN "
        f"'-' || (-{w0} - ({f0} > 0)) || '.' || printf('%09d', 1000000000 * ({f0} > 0) - {f0}) "
        f"ELSE ({w0} - ({f0} < 0)) || '.' || printf('%09d', {f0} + 1000000000 * ({f0} < 0)) END)"
    )


@compiles(functions.sum, "sqlite")
def _compile_sqlite_sum(element: functions.sum[Any], compiler: SQLCompiler, **kw: Any) -> str:
    args = list(element.clauses)
    if len(args) == 1 and isinstance(args[0].type, Money):
        return _sqlite_exact_sum(compiler.process(args[0], **kw))
    return compiler.visit_function(element, **kw)


@compiles(functions.max, "sqlite")
@compiles(functions.min, "sqlite")
def _refuse_sqlite_min_max(
    element: functions.max[Any] | functions.min[Any], compiler: SQLCompiler, **kw: Any
) -> str:
    """MIN/MAX of Money text would compare text ('9' > '10') and answer silently wrong."""
    if any(isinstance(arg.type, Money) for arg in element.clauses):
        raise CompileError(
            f"{element.name.upper()}() of a Money column is not exact on SQLite (it compares "
            "text): compare the amounts in Python"
        )
    return compiler.visit_function(element, **kw)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        Decimal: Money(),
        uuid.UUID: Uuid,
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class OrgOwned(IdMixin, Timestamped):
    """Every tenant row: the tenancy helpers accept only these."""

    # The column naming the cloud account a row belongs to: a member limited to some accounts
    # sees only their rows (``tenancy.org_select``). A model without that column is org-wide.
    tenancy_account_column: ClassVar[str] = "cloud_account_id"
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
