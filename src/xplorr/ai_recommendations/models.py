"""Insights an LLM wrote, cached per organization, scope and day.

The scope is the set of cloud accounts the figures covered (a member limited to some accounts
gets insights over those only, never a cached answer over the whole org): ``scope_key`` is
``all`` or a SHA-256 of the sorted account ids.
"""

from datetime import date
from typing import Any

from sqlalchemy import Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class AiInsight(OrgOwned, Base):
    __tablename__ = "ai_insights"
    __table_args__ = (UniqueConstraint("org_id", "scope_key", "day"),)
    scope_key: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    model: Mapped[str] = mapped_column(String(200))
    # {"insights": [...], "figures": {...}}: the validated answer and what it was asked about.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
