"""The allocation section of reports and digests (``core.report_sections``): when the
organization has active allocation rules, the period's cost by value of each key the rules
target (``team``...), with the shared costs the rules move applied exactly as ``GET
/costs?groupBy=tag:<key>&allocate=true`` answers it (``costs.allocate``, the same rounding):
direct, allocated, total and share per value. One table per currency (amounts of two
currencies are never added). Rules over a Kubernetes cluster's cost give a section per cluster
and target (namespaces or a pod label), as ``/costs?clusterId=<id>&groupBy=namespace&allocate=
true`` answers it, in the cluster's currency. No active rule: no section."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.allocation import service
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
from xplorr.costs import allocate
from xplorr.costs import service as costs
from xplorr.costs.allocate import ShareRule
from xplorr.costs.query import CostQuery, TagKey
from xplorr.kubernetes import query as cluster_query

KEY: Final = "allocation"
ZERO: Final = Decimal(0)
COLUMNS: Final = (
    Column("Value"),
    Column("Direct", Kind.MONEY),
    Column("Allocated", Kind.MONEY),
    Column("Total", Kind.MONEY),
    Column("Share", Kind.PERCENT),
)


def _section(
    key: str, title: str, note: str, rules: Sequence[ShareRule], result: allocate.Allocation
) -> Section:
    moved: dict[str, Decimal] = defaultdict(Decimal)
    for per_currency in result.moved.values():
        for currency, amount in per_currency.items():
            moved[currency] += amount
    tables = []
    figures = [Figure("Active rules", len(rules), Kind.NUMBER)]
    for currency in sorted({g.currency for g in result.groups}):
        items, _total = costs.allocated_items(result.groups, currency)
        tables.append(
            Table(
                title=f"Cost by {key} {currency}",
                columns=COLUMNS,
                rows=tuple(
                    (
                        item.name,
                        item.direct if item.direct is not None else item.cost,
                        item.allocated if item.allocated is not None else ZERO,
                        item.cost,
                        item.percentage,
                    )
                    for item in items
                ),
                currency=currency,
            )
        )
        figures.append(
            Figure(
                f"Shared cost allocated ({currency})",
                money.round_money(moved.get(currency, ZERO), currency),
                Kind.MONEY,
                currency,
            )
        )
    return Section(key=KEY, title=title, note=note, figures=tuple(figures), tables=tuple(tables))


async def _cloud_section(
    db: AsyncSession, scope: ReportScope, key: str, rules: Sequence[ShareRule]
) -> Section:
    q = CostQuery(
        start=scope.start, end=scope.end, group_by=(TagKey(key),), account_ids=scope.account_ids
    )
    result = await allocate.allocate(db, scope.who, q, rules)
    note = (
        f"Shared costs moved to a {key} by the organization's active allocation rules, "
        "as /costs?allocate=true answers them."
    )
    return _section(key, f"Allocation by {key}", note, rules, result)


async def _cluster_section(
    db: AsyncSession,
    scope: ReportScope,
    cluster: cluster_query.ClusterInfo,
    target: str | None,
    rules: Sequence[ShareRule],
) -> Section:
    dim: cluster_query.ClusterGroupBy = (
        cluster_query.ClusterDim.NAMESPACE
        if target is None
        else cluster_query.LabelKey(cluster_query.sanitize_label(target))
    )
    result = await cluster_query.allocate(
        db, scope.who, cluster, scope.start, scope.end, (dim,), rules
    )
    key = "namespace" if target is None else f"label {target}"
    note = (
        f"Kubernetes cluster {cluster.name}: its idle and shared costs moved to each {key} by "
        "the organization's active rules over this cluster, as "
        "/costs?clusterId=...&allocate=true answers them."
    )
    return _section(key, f"Allocation of cluster {cluster.name} by {key}", note, rules, result)


@provider(KEY, order=30)
async def allocation_section(db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    """One section per key the active cloud rules target, then one per cluster and target of
    the rules over a Kubernetes cluster (none without a rule). A report limited to some cloud
    accounts, or read by a member limited to some, has no cluster section (a cluster's cost
    is not theirs: ``kubernetes.query.visible_clusters``)."""
    rules = await service.share_rules(db, scope.who)
    by_key: dict[str, list[ShareRule]] = defaultdict(list)
    by_cluster: dict[tuple[uuid.UUID, str], list[ShareRule]] = defaultdict(list)
    for rule in rules:
        if rule.source.cluster_id is not None:
            by_cluster[(rule.source.cluster_id, rule.target_key or "")].append(rule)
        elif rule.target_key is not None:
            by_key[rule.target_key].append(rule)
    sections = [await _cloud_section(db, scope, key, by_key[key]) for key in sorted(by_key)]
    if scope.account_ids is not None or scope.who.account_ids is not None:
        return sections
    clusters = {
        c.id: c for c in await cluster_query.clusters(db, scope.who, {cid for cid, _ in by_cluster})
    }
    placed = sorted(
        ((clusters[cid], target, group) for (cid, target), group in by_cluster.items()),
        key=lambda c: (c[0].name, c[1]),
    )
    for cluster, target, group in placed:
        sections.append(await _cluster_section(db, scope, cluster, target or None, group))
    return sections
