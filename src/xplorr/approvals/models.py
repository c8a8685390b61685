"""Approval requests: applying a recommendation whose saving is above the organization's
approval threshold waits for an admin's decision (product-notes section 15)."""

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, Money, OrgOwned


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class Approval(OrgOwned, Base):
    """One request to apply one recommendation. ``cloud_account_id`` is the recommendation's
    (a member sees the approvals of the accounts they were granted); amount and title are
    copied as they were when requested."""

    __tablename__ = "approvals"
    audit_resource: ClassVar[str] = "approval"
    __table_args__ = (Index("ix_approvals_org_id_status", "org_id", "status"),)
    recommendation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("recommendations.id", ondelete="CASCADE"), index=True
    )
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    estimated_monthly_savings: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    threshold: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[ApprovalStatus] = mapped_column(
        Enum(ApprovalStatus, native_enum=False, length=16, values_callable=_values),
        default=ApprovalStatus.PENDING,
    )
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_by_email: Mapped[str] = mapped_column(String(320))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_by_email: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime]

    @property
    def audit_name(self) -> str | None:
        return self.title
