"""Kubernetes clusters that post their OpenCost data, and that data at daily grain.

The allocations are kept here, beside the cost store and never in it: they split the cost of
nodes the cloud bill already holds (OpenCost's own advice: an allocation is a share of an asset),
so adding them to ``cost_records`` would count that spend twice in every cloud total. They are
read through :mod:`xplorr.kubernetes.query` only, which answers ``/costs?clusterId=`` in the
cost query module's own shapes.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, Money, OrgOwned

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class KubernetesCluster(OrgOwned, Base):
    """A cluster whose collector posts OpenCost allocations (and assets) with its own ingest
    token. ``token_hash``: SHA-256 of the ``xpk8s_`` token, which is shown once."""

    __tablename__ = "kubernetes_clusters"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    audit_resource: ClassVar[str] = "kubernetes_cluster"
    # Not tied to a cloud account: org-wide for the tenancy helpers (the service hides
    # clusters from a user limited to some cloud accounts).
    tenancy_account_column: ClassVar[str] = ""
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    last_post_at: Mapped[datetime | None]
    last_assets_post_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def audit_name(self) -> str | None:
        return self.name


class _ClusterDay:
    # org_id without a foreign key: the cluster's (cascading from the org) guarantees it, and
    # a foreign key costs a lookup per row of a bulk insert.
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("kubernetes_clusters.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)  # the UTC day of the allocation's window start
    name: Mapped[str] = mapped_column(Text)  # OpenCost's allocation (or asset) key
    total_cost: Mapped[Decimal] = mapped_column(Money)


class KubernetesAllocation(_ClusterDay, Base):
    """One OpenCost allocation of one day (aggregate namespace,controllerKind,controller,pod):
    its properties, its cost components and its total exactly as posted. ``idle``: OpenCost's
    ``__idle__`` allocation (capacity paid for and not requested), kept as its own group."""

    __tablename__ = "kubernetes_allocations"
    __table_args__ = (
        UniqueConstraint("cluster_id", "day", "name"),
        Index("ix_kubernetes_allocations_org_cluster_day", "org_id", "cluster_id", "day"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idle: Mapped[bool] = mapped_column(Boolean, default=False)
    namespace: Mapped[str | None] = mapped_column(String(253))
    controller_kind: Mapped[str | None] = mapped_column(String(100))
    controller: Mapped[str | None] = mapped_column(String(253))
    pod: Mapped[str | None] = mapped_column(String(253))
    node: Mapped[str | None] = mapped_column(String(253))
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cpu_cost: Mapped[Decimal] = mapped_column(Money)
    gpu_cost: Mapped[Decimal] = mapped_column(Money)
    ram_cost: Mapped[Decimal] = mapped_column(Money)
    pv_cost: Mapped[Decimal] = mapped_column(Money)
    network_cost: Mapped[Decimal] = mapped_column(Money)
    load_balancer_cost: Mapped[Decimal] = mapped_column(Money)
    shared_cost: Mapped[Decimal] = mapped_column(Money)
    external_cost: Mapped[Decimal] = mapped_column(Money)
    # Requests, usage and efficiencies as posted (decimal text; null where OpenCost wrote null):
    # what rightsizing and efficiency views read, never summed as money.
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class KubernetesAsset(_ClusterDay, Base):
    """One OpenCost asset (node, disk, load balancer, network, cluster management...) of one
    day, as the collector posts ``/assets`` per day."""

    __tablename__ = "kubernetes_assets"
    __table_args__ = (
        UniqueConstraint("cluster_id", "day", "name"),
        Index("ix_kubernetes_assets_org_cluster_day", "org_id", "cluster_id", "day"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(50))  # Node, Disk, LoadBalancer, Network, ...
    category: Mapped[str | None] = mapped_column(String(100))
    provider_id: Mapped[str | None] = mapped_column(Text)
    node_type: Mapped[str | None] = mapped_column(String(200))
    pool: Mapped[str | None] = mapped_column(String(253))
    cpu_cost: Mapped[Decimal | None] = mapped_column(Money)
    gpu_cost: Mapped[Decimal | None] = mapped_column(Money)
    ram_cost: Mapped[Decimal | None] = mapped_column(Money)
    adjustment: Mapped[Decimal | None] = mapped_column(Money)
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class KubernetesUsage(Base):
    """One Prometheus figure of one container on one day, as the collector posts it
    (``metric``: cpu_p50, cpu_p95, cpu_max in cores; memory_p95, memory_max in bytes of
    working set; cpu_request, cpu_limit, memory_request, memory_limit). ``value`` is the decimal
    text Prometheus answered: usage, never money."""

    __tablename__ = "kubernetes_usage"
    __table_args__ = (
        UniqueConstraint(
            "cluster_id",
            "day",
            "metric",
            "namespace",
            "pod",
            "container",
            name="uq_kubernetes_usage_key",
        ),
        Index("ix_kubernetes_usage_org_cluster_day", "org_id", "cluster_id", "day"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("kubernetes_clusters.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(253))
    pod: Mapped[str] = mapped_column(String(253))
    container: Mapped[str] = mapped_column(String(253))
    value: Mapped[str] = mapped_column(String(64))
