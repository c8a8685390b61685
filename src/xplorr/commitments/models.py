"""Owned commitments (reservations and savings plans) as their provider describes them.

Written by a collector: ``commitments.collect`` from the AWS APIs (EC2, RDS and ElastiCache
reservations, Savings Plans), ``commitments.demo`` for demo accounts. The bill tells how much
of a commitment was used; only the provider tells when it ends, which is what this table keeps.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, Money, OrgOwned


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
