"""Anomalies (one per scope, currency and day, updated in place). The detection settings (noise
floor, drops) are the organization's settings (``xplorr.settings``)."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Date, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import clock
from xplorr.core.models import Base, JSONType, Money, OrgOwned


class Scope(StrEnum):
    SERVICE = "service"  # one service of one cloud account
    ACCOUNT = "account"  # one cloud account's total
    ORG = "org"  # every cloud account of the organization


class Severity(StrEnum):
    LOW = "low"  # 50-100 % above the baseline
    MEDIUM = "medium"  # 100-200 %
    HIGH = "high"  # 200-500 %
    CRITICAL = "critical"  # 500 % and more


class Direction(StrEnum):
    SPIKE = "spike"
    DROP = "drop"


class AnomalyStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def _enum(enum: type[StrEnum]) -> Enum:
    return Enum(enum, native_enum=False, length=16, values_callable=_values)


class Anomaly(OrgOwned, Base):
    """A day whose cost left its 7-day baseline. ``scope_key`` names the scope
    (``service:<account id>:<service>``, ``account:<account id>``, ``org``); one row per scope,
    currency and day, so a re-run updates it instead of adding another. An org-wide anomaly
    (``cloud_account_id`` NULL) is not shown to a user limited to some accounts."""

    __tablename__ = "anomalies"
    audit_resource: ClassVar[str] = "anomaly"
    __table_args__ = (
        UniqueConstraint("org_id", "scope_key", "currency", "usage_date"),
        Index("ix_anomalies_org_id_usage_date", "org_id", "usage_date"),
    )
    scope: Mapped[Scope] = mapped_column(_enum(Scope))
    scope_key: Mapped[str] = mapped_column(String(400))
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    service_name: Mapped[str | None] = mapped_column(String(300))
    usage_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    actual_cost: Mapped[Decimal] = mapped_column(Money)
    baseline_cost: Mapped[Decimal] = mapped_column(Money)
    severity: Mapped[Severity] = mapped_column(_enum(Severity))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    status: Mapped[AnomalyStatus] = mapped_column(_enum(AnomalyStatus), default=AnomalyStatus.OPEN)
    # The contributors that moved most against their own 7-day baseline (``detect.Contributor``).
    root_cause: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    detected_at: Mapped[datetime] = mapped_column(default=clock.now)
    status_changed_at: Mapped[datetime | None]
    status_changed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def audit_name(self) -> str | None:
        what = self.service_name or self.scope.value
        return f"{what} {self.usage_date.isoformat()}"
