"""The declarative base, column types and mixins every area's ``models.py`` builds on."""

import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    MetaData,
    Numeric,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from xplorr.core import clock

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


Money = Numeric(18, 6, asdecimal=True)

AMOUNT_SCALE = 9
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_SCALE)  # 0.000000001
_NANOS = 10**AMOUNT_SCALE


def quantize_amount(value: Decimal) -> Decimal:
    """The precision the cost store keeps: 9 decimal places, half-even (FOCUS exports carry up
    to ~15; per-row rounding at 1e-9 cannot move a sum of millions of rows by a cent)."""
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_HALF_EVEN)


class CostAmount(TypeDecorator[Decimal]):
    """An exact amount of money in the cost store, summed exactly by the database.

    PostgreSQL: ``NUMERIC(38, 9)``. SQLite has no exact decimal type (its NUMERIC is a float),
    so the value is stored as an integer count of 1e-9 units, which ``SUM()`` adds exactly
    (64-bit: up to 9.2 billion per sum). Use ``func.sum(col, type_=CostAmount)`` so sums come
    back as ``Decimal`` on both databases.
    """

    impl = Numeric(38, AMOUNT_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(38, AMOUNT_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = quantize_amount(Decimal(value))
        if dialect.name == "sqlite":
            return int(amount.scaleb(AMOUNT_SCALE))
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-AMOUNT_SCALE)
        return quantize_amount(Decimal(value))


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        Decimal: Money,
        uuid.UUID: Uuid,
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class OrgOwned(IdMixin, Timestamped):
    """Every tenant row: the tenancy helpers accept only these."""

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
