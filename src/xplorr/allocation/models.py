"""Allocation rules: which shared cost is split across the values of a tag key, and how."""

import uuid
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class AllocationMethod(StrEnum):
    FIXED = "fixed"
    PROPORTIONAL = "proportional"
    EVEN = "even"


class AllocationTarget(StrEnum):
    """What receives the shared cost: the values of a tag key (for a Kubernetes cluster's
    cost, a pod label key), or a cluster's namespaces (cluster sources only)."""

    TAG = "tag"
    NAMESPACE = "namespace"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class AllocationRule(OrgOwned, Base):
    """Org-wide (every role reads the rules: they shape every allocated answer).

    A rule shares either cloud cost (``source_provider``... ``source_tag_*``: the cost store's
    dimensions) or one Kubernetes cluster's cost (``source_cluster_id`` with ``source_idle``,
    ``source_namespace`` or ``source_tag_*`` read as a pod label), never both: a cluster's
    allocations are shares of nodes the cloud bill already holds, kept beside the cost store
    (``kubernetes.models``), so a rule works on one side or the other."""

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
    source_cluster_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("kubernetes_clusters.id", ondelete="CASCADE"), index=True
    )
    source_namespace: Mapped[str | None] = mapped_column(String(253))
    # OpenCost's ``__idle__`` allocation: capacity paid for and not requested.
    source_idle: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    target_kind: Mapped[AllocationTarget] = mapped_column(
        Enum(AllocationTarget, native_enum=False, length=16, values_callable=_values),
        default=AllocationTarget.TAG,
        server_default=AllocationTarget.TAG.value,
    )
    # None with target_kind namespace.
    target_tag_key: Mapped[str | None] = mapped_column(String(200))
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
