"""The Kubernetes section of reports and digests (``core.report_sections``): for each cluster
with allocations in the period, its cost by namespace as ``GET /costs?clusterId=<id>&groupBy=
namespace`` answers it (idle its own row), the ten largest and the rest summed as "other",
with the cluster's total and idle share as key figures, in the cluster's currency.

Cluster costs are kept beside the cost store (``kubernetes.models``: they split nodes the cloud
bill already holds), so they are a section of their own and never added to the report's cloud
totals. A report limited to some cloud accounts, or read by a member limited to some, has no
Kubernetes section (``query.visible_clusters``: a cluster's cost is not spend they were
granted)."""

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import money
from xplorr.core.report_sections import (
    Column,
    Figure,
    Kind,
    ReportScope,
    Section,
    Table,
    provider,
)
from xplorr.kubernetes import query
from xplorr.kubernetes.query import IDLE_KEY, ClusterDim, ClusterInfo

KEY: Final = "kubernetes"
TOP: Final = 10
ZERO: Final = Decimal(0)
PERCENT: Final = Decimal("0.01")
COLUMNS: Final = (Column("Namespace"), Column("Cost", Kind.MONEY), Column("Share", Kind.PERCENT))


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return ZERO if whole == ZERO else (part * 100 / whole).quantize(PERCENT, ROUND_HALF_UP)


async def _cluster(
    db: AsyncSession, scope: ReportScope, cluster: ClusterInfo
) -> tuple[list[Figure], Table] | None:
    groups = await query.aggregate(
        db, scope.who, cluster, scope.start, scope.end, (ClusterDim.NAMESPACE,)
    )
    if not groups:
        return None
    currency = cluster.currency
    total = sum((g.cost for g in groups), ZERO)
    ranked = sorted(groups, key=lambda g: (-g.cost, str(g.key[0])))
    rows: list[tuple[str, Decimal]] = [(g.names[0], g.cost) for g in ranked[:TOP]]
    if len(ranked) > TOP:
        rows.append(("other", sum((g.cost for g in ranked[TOP:]), ZERO)))
    rounded = money.round_parts([cost for _, cost in rows], currency)
    idle = sum((g.cost for g in groups if g.key[0] == IDLE_KEY), ZERO)
    figures = [
        Figure(
            f"{cluster.name}: total ({currency})",
            money.round_money(total, currency),
            Kind.MONEY,
            currency,
        ),
        Figure(f"{cluster.name}: idle share", _share(idle, total), Kind.PERCENT),
    ]
    table = Table(
        title=f"Cluster {cluster.name} by namespace {currency}",
        columns=COLUMNS,
        rows=tuple(
            (name, amount, _share(cost, total))
            for (name, cost), amount in zip(rows, rounded, strict=True)
        ),
        currency=currency,
    )
    return figures, table


@provider(KEY, order=40)
async def kubernetes_section(db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    """One section listing every visible cluster with cost in the period (none without)."""
    if scope.account_ids is not None:
        return []
    figures: list[Figure] = []
    tables: list[Table] = []
    for cluster in await query.clusters(db, scope.who):
        found = await _cluster(db, scope, cluster)
        if found is not None:
            figures.extend(found[0])
            tables.append(found[1])
    if not tables:
        return []
    return [
        Section(
            key=KEY,
            title="Kubernetes clusters",
            note=(
                "Each cluster's OpenCost allocations by namespace (idle: capacity paid for "
                "and not requested), as /costs?clusterId=<id>&groupBy=namespace answers them; "
                "never added to the cloud totals of this report."
            ),
            figures=tuple(figures),
            tables=tuple(tables),
        )
    ]
