"""Tagging policies: a tag every resource (of some kind) must carry, and the values allowed."""

from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Boolean, Enum, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class AppliesTo(StrEnum):
    """Which resources a policy checks (mapping: ``tagging.service.APPLIES_TO``)."""

    ALL = "all"
    EC2 = "ec2"
    RDS = "rds"
    S3 = "s3"
    COMPUTE = "compute"
    STORAGE = "storage"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class TaggingPolicy(OrgOwned, Base):
    """Org-wide: every member sees the policies; violations are limited by account grants."""

    __tablename__ = "tagging_policies"
    __table_args__ = (UniqueConstraint("org_id", "tag_key", "applies_to"),)
    audit_resource: ClassVar[str] = "tagging_policy"
    tag_key: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    # None or []: any value; else the values allowed (compared exactly, case included).
    allowed_values: Mapped[list[Any] | None] = mapped_column(JSONType)
    applies_to: Mapped[AppliesTo] = mapped_column(
        Enum(AppliesTo, native_enum=False, length=16, values_callable=_values)
    )

    @property
    def audit_name(self) -> str | None:
        return f"{self.tag_key} ({self.applies_to.value})"
