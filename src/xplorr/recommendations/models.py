"""Recommendations: one row per finding of a rule on one cloud account, identified by a stable
fingerprint (rule type + what it is about: a resource id, or a service and currency for the
cost-data rules), so each refresh updates the same row and keeps what people decided."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import clock
from xplorr.core.models import Base, JSONType, Money, OrgOwned


class RecommendationStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    APPLIED = "applied"
    DISMISSED = "dismissed"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ClosedBy(StrEnum):
    """Why a recommendation is applied: a person said so, or a refresh no longer found it (the
    resource is gone, or no longer matches the rule)."""

    USER = "user"
    RESOURCE_GONE = "resource_gone"
    FIXED = "fixed"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def _enum(enum: type[StrEnum]) -> Enum:
    return Enum(enum, native_enum=False, length=16, values_callable=_values)


class Recommendation(OrgOwned, Base):
    __tablename__ = "recommendations"
    audit_resource: ClassVar[str] = "recommendation"
    __table_args__ = (
        UniqueConstraint("org_id", "cloud_account_id", "fingerprint"),
        Index("ix_recommendations_org_id_status", "org_id", "status"),
    )
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(600))
    type: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[str | None] = mapped_column(Text)
    resource_name: Mapped[str | None] = mapped_column(String(500))
    region: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    estimated_monthly_savings: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    # The estimate in millionths, exact: the list sorts by saving in SQL (a Money column is
    # text on SQLite and would sort as text).
    sort_rank: Mapped[int] = mapped_column(BigInteger, default=0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    risk: Mapped[Risk] = mapped_column(_enum(Risk))
    how_to_apply: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[RecommendationStatus] = mapped_column(
        _enum(RecommendationStatus), default=RecommendationStatus.OPEN
    )
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    # The saving a closed (applied) recommendation realised: its estimate when it closed.
    realized_monthly_savings: Mapped[Decimal | None] = mapped_column(Money)
    closed_by: Mapped[ClosedBy | None] = mapped_column(_enum(ClosedBy))
    detected_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now)
    applied_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]
    status_changed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def audit_name(self) -> str | None:
        return self.title


class PricePoint(OrgOwned, Base):
    """An AWS on-demand list price read through the Pricing API (``aws_prices``) for the
    organization: one per (kind, item, region), the newest read kept. ``price`` None: AWS lists
    no such product there, or several at different prices (remembered so that it is not
    asked again until the row is stale).
    Org-wide: a list price belongs to no account."""

    __tablename__ = "price_points"
    __table_args__ = (UniqueConstraint("org_id", "kind", "item", "region"),)
    tenancy_account_column: ClassVar[str] = ""

    kind: Mapped[str] = mapped_column(String(8))  # ec2 (per hour) | ebs (per GiB-month)
    item: Mapped[str] = mapped_column(String(64))  # m5.large | gp3
    region: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    unit: Mapped[str] = mapped_column(String(16))  # Hrs | GB-Mo
    sku: Mapped[str | None] = mapped_column(String(64))
    effective_date: Mapped[str | None] = mapped_column(String(40))  # AWS's, as it sent it
    source: Mapped[str] = mapped_column(String(16))  # pricing-api
    fetched_at: Mapped[datetime]


class PriceRefresh(OrgOwned, Base):
    """How the last Pricing API read of one AWS account went: ``outcome`` ok | partial |
    denied | unavailable, with the warning to show (a denied account is not asked again for
    ``aws_prices.DENIED_RETRY_DAYS``; its recommendations say why they use the shipped table)."""

    __tablename__ = "price_refreshes"
    __table_args__ = (UniqueConstraint("cloud_account_id"),)
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    warning: Mapped[str | None] = mapped_column(Text)
    items_read: Mapped[int] = mapped_column(default=0)
