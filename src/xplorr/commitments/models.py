"""Owned commitments (reservations and savings plans) as their provider describes them.

Written by a collector: ``commitments.collect`` from the AWS APIs (EC2, RDS and ElastiCache
reservations, Savings Plans), ``commitments.demo`` for demo accounts. The bill tells how much
of a commitment was used; only the provider tells when it ends, which is what this table keeps.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, Money, OrgOwned


class Commitment(OrgOwned, Base):
    __tablename__ = "commitments"
    __table_args__ = (UniqueConstraint("cloud_account_id", "commitment_id"),)
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16))  # aws | azure | gcp
    # The provider's id: an RI id, a Savings Plan ARN, a reservation order path.
    commitment_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))  # reserved_instance | savings_plan
    service: Mapped[str] = mapped_column(String(32))  # ec2 | rds | elasticache | savingsplans
    region: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500))
    resource_type: Mapped[str | None] = mapped_column(String(100))  # m5.large, db.r6g.xlarge
    count: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(32))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    payment_option: Mapped[str | None] = mapped_column(String(64))
    hourly_cost: Mapped[Decimal | None] = mapped_column(Money)
    upfront_cost: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(16))  # api | demo
    last_seen_at: Mapped[datetime]


class CommitmentAdvice(OrgOwned, Base):
    """Advice an LLM wrote over one set of ``/commitments/analysis`` figures, kept for the UTC
    ``day`` it was written (``commitments.advice``). ``figures_key`` is the SHA-256 of exactly
    what the LLM was shown: the same figures answer from here, other figures (another account,
    window or day of data) ask again, so the advice shown always matches the numbers beside
    it. ``model`` ``(failed)`` remembers a failed call and its reason for a while."""

    __tablename__ = "commitment_advice"
    __table_args__ = (UniqueConstraint("org_id", "figures_key"),)
    figures_key: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    model: Mapped[str] = mapped_column(String(200))
    # {"advice": [...]} (the validated answer) or {"reason": "..."} (a failure)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
