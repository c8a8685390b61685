"""Unit metrics: a business count per day (customers, API calls...) to divide cost by."""

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Date, Enum, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, Money, OrgOwned


class MetricType(StrEnum):
    API_CALLS = "api_calls"
    TRANSACTIONS = "transactions"
    CUSTOMERS = "customers"
    REQUESTS = "requests"
    CUSTOM = "custom"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class UnitMetric(OrgOwned, Base):
    """One value per organization, metric name and day (a second post replaces it)."""

    __tablename__ = "unit_metrics"
    __table_args__ = (UniqueConstraint("org_id", "name", "date"),)
    audit_resource: ClassVar[str] = "unit_metric"
    name: Mapped[str] = mapped_column(String(200))
    metric_type: Mapped[MetricType] = mapped_column(
        Enum(MetricType, native_enum=False, length=16, values_callable=_values)
    )
    date: Mapped[dt.date] = mapped_column(Date)
    # An exact count (Money: exact decimal with 9 places on both databases; not an amount).
    value: Mapped[Decimal] = mapped_column(Money)

    @property
    def audit_name(self) -> str | None:
        return self.name
