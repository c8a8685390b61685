"""Allocation rules: which shared cost is split across the values of a tag key, and how."""

import uuid
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class AllocationMethod(StrEnum):
    FIXED = "fixed"
    PROPORTIONAL = "proportional"
    EVEN = "even"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class AllocationRule(OrgOwned, Base):
    """Org-wide (every role reads the rules: they shape every allocated answer)."""

    __tablename__ = "allocation_rules"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    audit_resource: ClassVar[str] = "allocation_rule"
    name: Mapped[str] = mapped_column(String(200))
    source_provider: Mapped[str | None] = mapped_column(String(32))
    # Not ``cloud_account_id``: a rule is org-wide, not hidden from members without the grant.
    source_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    source_service: Mapped[str | None] = mapped_column(String(200))
    source_region: Mapped[str | None] = mapped_column(String(100))
    source_tag_key: Mapped[str | None] = mapped_column(String(200))
    source_tag_value: Mapped[str | None] = mapped_column(String(500))
    target_tag_key: Mapped[str] = mapped_column(String(200))
    method: Mapped[AllocationMethod] = mapped_column(
        Enum(AllocationMethod, native_enum=False, length=16, values_callable=_values)
    )
    # {"api": "60", "data": "40"}: percentages as exact decimal text (fixed), or the values
    # to share among (even; the percentages are then ignored). None: not given.
    splits: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def audit_name(self) -> str | None:
        return self.name
