"""``provider_recommendations``: a provider's cost recommendations as it gave them (Azure
Advisor's ``Category eq 'Cost'``), one row per recommendation of an account, replaced by each
inventory refresh that could read them. The savings area reads these (``source`` says whose);
amounts are the provider's estimates in its ``currency``."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class ProviderRecommendation(OrgOwned, Base):
    __tablename__ = "provider_recommendations"
    __table_args__ = (UniqueConstraint("cloud_account_id", "recommendation_id"),)
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16))  # azure
    source: Mapped[str] = mapped_column(String(32))  # azure-advisor
    recommendation_id: Mapped[str] = mapped_column(Text)  # the provider's id
    resource_id: Mapped[str | None] = mapped_column(Text)  # lowercased ARM id: inventory's key
    category: Mapped[str] = mapped_column(String(64))
    impact: Mapped[str | None] = mapped_column(String(32))  # High | Medium | Low
    problem: Mapped[str | None] = mapped_column(Text)
    solution: Mapped[str | None] = mapped_column(Text)
    savings_amount: Mapped[Decimal | None]  # the provider's estimate (Advisor: per month)
    annual_savings_amount: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_updated: Mapped[datetime | None]  # when the provider last refreshed it
    seen_at: Mapped[datetime]  # the refresh that read it
