"""Kubernetes clusters and their allocations for tests (add, commit, return)."""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock
from xplorr.core.security import sha256_hex
from xplorr.kubernetes.models import KubernetesAllocation, KubernetesCluster
from xplorr.kubernetes.service import new_token
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def make_cluster(
    db: AsyncSession,
    org: Org | uuid.UUID,
    *,
    name: str | None = None,
    currency: str = "USD",
    posted: bool = False,
) -> tuple[KubernetesCluster, str]:
    """A cluster and its ingest token."""
    token = new_token()
    cluster = KubernetesCluster(
        id=uuid.uuid4(),
        org_id=org.id if isinstance(org, Org) else org,
        name=name or f"cluster-{uuid.uuid4().hex[:8]}",
        currency=currency,
        token_hash=sha256_hex(token),
        token_prefix=token[:12],
        last_post_at=clock.now() if posted else None,
    )
    db.add(cluster)
    await db.commit()
    return cluster, token


async def add_allocations(
    db: AsyncSession, cluster: KubernetesCluster, rows: list[dict[str, object]]
) -> None:
    """Allocation rows: ``day`` (ISO text), ``name``, ``total_cost`` (text) and any column."""
    zero = Decimal(0)
    for row in rows:
        values = dict(row)
        db.add(
            KubernetesAllocation(
                org_id=cluster.org_id,
                cluster_id=cluster.id,
                day=date.fromisoformat(str(values.pop("day"))),
                name=str(values.pop("name")),
                total_cost=Decimal(str(values.pop("total_cost"))),
                idle=bool(values.pop("idle", False)),
                **{
                    c: zero
                    for c in (
                        "cpu_cost",
                        "gpu_cost",
                        "ram_cost",
                        "pv_cost",
                        "network_cost",
                        "load_balancer_cost",
                        "shared_cost",
                        "external_cost",
                    )
                    if c not in values
                },
                **values,
            )
        )
    await db.commit()


async def _tenant_cluster(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    cluster, _token = await make_cluster(db, org)
    await add_allocations(
        db, cluster, [{"day": "2026-11-30", "name": "ns/deployment/api/api-1", "total_cost": "1"}]
    )
    return cluster.id


TENANT_FACTORIES = {KubernetesCluster: _tenant_cluster}
