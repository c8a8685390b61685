"""Kubernetes clusters: registered by an admin, each with an ingest token of its own, and the
OpenCost allocations and assets their collector posts.

A post replaces the days it holds (the collector re-sends the last three days every hour: the
newest figures win, nothing is counted twice), inside the request's one transaction: a refused
post writes nothing.
"""

import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import structlog
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import audit, clock, money
from xplorr.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.security import sha256_hex
from xplorr.core.tenancy import Principal
from xplorr.kubernetes import opencost, rightsizing
from xplorr.kubernetes.models import (
    KubernetesAllocation,
    KubernetesAsset,
    KubernetesCluster,
    KubernetesUsage,
)
from xplorr.kubernetes.query import visible_clusters
from xplorr.kubernetes.schemas import (
    AssetsIngestOut,
    ClusterCreate,
    ClusterCreated,
    ClusterOut,
    ClusterState,
    IngestDay,
    IngestOut,
    RightsizingOut,
    UsageIngestOut,
)

log = structlog.get_logger("xplorr.kubernetes")
TOKEN_PREFIX: Final = "xpk8s_"  # noqa: S105 (a public prefix, not a secret)
_TOKEN_MAX: Final = 200
_DISPLAY: Final = len(TOKEN_PREFIX) + 6


def new_token() -> str:
    """256 bits from the CSPRNG behind the ``xpk8s_`` prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def get_cluster(
    db: AsyncSession, who: Principal, cluster_id: uuid.UUID, *, for_update: bool = False
) -> KubernetesCluster:
    stmt = visible_clusters(who).where(KubernetesCluster.id == cluster_id)
    cluster = await db.scalar(stmt.with_for_update() if for_update else stmt)
    if cluster is None:
        raise NotFound.of("KubernetesCluster", cluster_id)
    return cluster


async def _day_stats(
    db: AsyncSession, org_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, date | None, date | None]]:
    if not ids:
        return {}
    col = KubernetesAllocation.day
    stmt = (
        select(
            KubernetesAllocation.cluster_id,
            func.count(func.distinct(col)),
            func.min(col),
            func.max(col),
        )
        .where(KubernetesAllocation.org_id == org_id, KubernetesAllocation.cluster_id.in_(ids))
        .group_by(KubernetesAllocation.cluster_id)
    )
    return {cid: (n, first, last) for cid, n, first, last in (await db.execute(stmt)).all()}


def _out(
    cluster: KubernetesCluster, stats: tuple[int, date | None, date | None] | None
) -> ClusterOut:
    days, first, last = stats or (0, None, None)
    return ClusterOut(
        id=cluster.id,
        name=cluster.name,
        currency=cluster.currency,
        state=ClusterState.WAITING if cluster.last_post_at is None else ClusterState.RECEIVING,
        token_prefix=cluster.token_prefix,
        last_post_at=cluster.last_post_at,
        last_assets_post_at=cluster.last_assets_post_at,
        days_held=days,
        first_day=first,
        last_day=last,
        created_at=cluster.created_at,
    )


async def list_clusters(db: AsyncSession, who: Principal, params: PageParams) -> Page[ClusterOut]:
    stmt = visible_clusters(who).order_by(KubernetesCluster.name, KubernetesCluster.id)
    page = await paginate(db, stmt, params, lambda c: c)
    stats = await _day_stats(db, who.org_id, [c.id for c in page.data])
    return Page(
        data=[_out(c, stats.get(c.id)) for c in page.data],
        total=page.total,
        page=page.page,
        limit=page.limit,
    )


async def create_cluster(db: AsyncSession, who: Principal, data: ClusterCreate) -> ClusterCreated:
    token = new_token()
    cluster = KubernetesCluster(
        org_id=who.org_id,
        name=data.name,
        currency=data.currency,
        token_hash=sha256_hex(token),
        token_prefix=token[:_DISPLAY],
        created_by=who.user_id,
    )
    try:
        async with db.begin_nested():
            db.add(cluster)
    except IntegrityError as exc:
        raise Conflict(
            f"The organization has a cluster named '{data.name}'.",
            code="KUBERNETES_CLUSTER_NAME_TAKEN",
        ) from exc
    await audit.record(db, "kubernetes_cluster.created", who=who, target=cluster)
    return ClusterCreated(**_out(cluster, None).model_dump(), ingest_token=token)


async def rotate_token(db: AsyncSession, who: Principal, cluster_id: uuid.UUID) -> ClusterCreated:
    """A new ingest token; the old one stops working at once."""
    cluster = await get_cluster(db, who, cluster_id, for_update=True)
    token = new_token()
    cluster.token_hash = sha256_hex(token)
    cluster.token_prefix = token[:_DISPLAY]
    await audit.record(db, "kubernetes_cluster.token_rotated", who=who, target=cluster)
    stats = await _day_stats(db, who.org_id, [cluster.id])
    return ClusterCreated(**_out(cluster, stats.get(cluster.id)).model_dump(), ingest_token=token)


async def delete_cluster(db: AsyncSession, who: Principal, cluster_id: uuid.UUID) -> None:
    """The cluster, its token and every day of its data."""
    cluster = await get_cluster(db, who, cluster_id, for_update=True)
    for model in (KubernetesAllocation, KubernetesAsset, KubernetesUsage):
        await db.execute(
            delete(model).where(model.org_id == who.org_id, model.cluster_id == cluster.id)
        )
    await audit.record(db, "kubernetes_cluster.deleted", who=who, target=cluster)
    await db.delete(cluster)


# --- ingest (the collector, with the cluster's xpk8s_ token) --------------------------------


async def cluster_for_token(
    db: AsyncSession, token: str | None, cluster_id: uuid.UUID
) -> KubernetesCluster:
    """The cluster this ingest token writes, which must be the one in the path: another
    cluster's token (of this org or any other) is told the cluster does not exist (404)."""
    if not token:
        raise Unauthorized("Send the cluster's ingest token: Authorization: Bearer xpk8s_...")
    if not token.startswith(TOKEN_PREFIX) or len(token) > _TOKEN_MAX:
        raise Unauthorized("Invalid ingest token: it starts with xpk8s_.")
    cluster = await db.scalar(
        select(KubernetesCluster).where(KubernetesCluster.token_hash == sha256_hex(token))
    )
    if cluster is None:
        raise Unauthorized("Invalid or rotated ingest token.")
    if cluster.id != cluster_id:
        raise NotFound.of("KubernetesCluster", cluster_id)
    return cluster


async def ingest_allocations(
    db: AsyncSession, cluster: KubernetesCluster, allocations: Sequence[opencost.Allocation]
) -> IngestOut:
    """Store the posted days, each replacing what was stored for it."""
    days = sorted({a.day for a in allocations})
    if days:
        await db.execute(
            delete(KubernetesAllocation).where(
                KubernetesAllocation.org_id == cluster.org_id,
                KubernetesAllocation.cluster_id == cluster.id,
                KubernetesAllocation.day.in_(days),
            )
        )
        await db.execute(
            insert(KubernetesAllocation),
            [
                {
                    "org_id": cluster.org_id,
                    "cluster_id": cluster.id,
                    "day": a.day,
                    "name": a.name,
                    "idle": a.idle,
                    "namespace": a.namespace,
                    "controller_kind": a.controller_kind,
                    "controller": a.controller,
                    "pod": a.pod,
                    "node": a.node,
                    "labels": a.labels,
                    "total_cost": a.total_cost,
                    "usage": a.usage or None,
                    **a.costs,
                }
                for a in allocations
            ],
        )
    cluster.last_post_at = clock.now()
    counts: dict[date, int] = defaultdict(int)
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for a in allocations:
        counts[a.day] += 1
        totals[a.day] += a.total_cost
    log.info(
        "kubernetes.allocations_ingested",
        cluster_id=str(cluster.id),
        days=[d.isoformat() for d in days],
        allocations=len(allocations),
    )
    return IngestOut(
        cluster_id=cluster.id,
        currency=cluster.currency,
        days=[
            IngestDay(
                date=d,
                allocations=counts[d],
                total_cost=money.round_money(totals[d], cluster.currency),
            )
            for d in days
        ],
    )


async def ingest_assets(
    db: AsyncSession, cluster: KubernetesCluster, day: date, assets: Sequence[opencost.Asset]
) -> AssetsIngestOut:
    """Store one day's assets, replacing that day's."""
    await db.execute(
        delete(KubernetesAsset).where(
            KubernetesAsset.org_id == cluster.org_id,
            KubernetesAsset.cluster_id == cluster.id,
            KubernetesAsset.day == day,
        )
    )
    if assets:
        await db.execute(
            insert(KubernetesAsset),
            [
                {
                    "org_id": cluster.org_id,
                    "cluster_id": cluster.id,
                    "day": day,
                    "name": a.name,
                    "type": a.type,
                    "category": a.category,
                    "provider_id": a.provider_id,
                    "node_type": a.node_type,
                    "pool": a.pool,
                    "labels": a.labels,
                    "total_cost": a.total_cost,
                    **a.costs,
                }
                for a in assets
            ],
        )
    cluster.last_assets_post_at = clock.now()
    log.info(
        "kubernetes.assets_ingested",
        cluster_id=str(cluster.id),
        day=day.isoformat(),
        assets=len(assets),
    )
    return AssetsIngestOut(
        cluster_id=cluster.id,
        date=day,
        assets=len(assets),
        total_cost=money.round_money(
            sum((a.total_cost for a in assets), Decimal(0)), cluster.currency
        ),
    )


def parse_metric(value: str | None) -> str:
    if value not in opencost.USAGE_METRICS:
        raise ValidationFailed.on("metric", f"One of {', '.join(opencost.USAGE_METRICS)}.")
    return value


async def ingest_usage(
    db: AsyncSession,
    cluster: KubernetesCluster,
    day: date,
    metric: str,
    samples: Sequence[opencost.Sample],
) -> UsageIngestOut:
    """Store one day's figure of one metric per container, replacing that day's."""
    await db.execute(
        delete(KubernetesUsage).where(
            KubernetesUsage.org_id == cluster.org_id,
            KubernetesUsage.cluster_id == cluster.id,
            KubernetesUsage.day == day,
            KubernetesUsage.metric == metric,
        )
    )
    if samples:
        await db.execute(
            insert(KubernetesUsage),
            [
                {
                    "org_id": cluster.org_id,
                    "cluster_id": cluster.id,
                    "day": day,
                    "metric": metric,
                    "namespace": s.namespace,
                    "pod": s.pod,
                    "container": s.container,
                    "value": format(s.value, "f"),
                }
                for s in samples
            ],
        )
    return UsageIngestOut(cluster_id=cluster.id, date=day, metric=metric, series=len(samples))


async def cluster_rightsizing(
    db: AsyncSession, who: Principal, cluster_id: uuid.UUID
) -> RightsizingOut:
    return await rightsizing.rightsizing(db, await get_cluster(db, who, cluster_id))
