"""``provider_recommendations``: a provider's own cost recommendations as it gave them (Azure
Advisor's ``Category eq 'Cost'``, GCP Recommender's idle and rightsizing recommenders), one row
per recommendation of an account, kept in step by each inventory refresh that could read them
(``service.replace``). The recommendations engine reads these (``source`` says whose); amounts
are the provider's estimates in its ``currency``."""

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
    provider: Mapped[str] = mapped_column(String(16))  # azure | gcp
    source: Mapped[str] = mapped_column(String(32))  # azure-advisor | gcp-recommender
    recommendation_id: Mapped[str] = mapped_column(Text)  # the provider's id or full name
    resource_id: Mapped[str | None] = mapped_column(Text)  # inventory's key (ARM id lowercased)
    category: Mapped[str] = mapped_column(String(64))  # the provider's: Cost | COST
    impact: Mapped[str | None] = mapped_column(String(32))  # High | Medium | Low (Advisor)
    problem: Mapped[str | None] = mapped_column(Text)  # Recommender: its description
    solution: Mapped[str | None] = mapped_column(Text)
    # Recommender: which recommender and its kind (idle | rightsizing), where it ran, its state
    recommender: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(32))
    savings_amount: Mapped[Decimal | None]  # the provider's estimate per month
    annual_savings_amount: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_updated: Mapped[datetime | None]  # when the provider last refreshed it
    seen_at: Mapped[datetime]  # the refresh that read it
