"""The one reader of the Kubernetes cost tables for ``/costs?clusterId=``: a cluster's
allocations summed by namespace, controller, pod, node, label or period, in the cost query
module's own shape (:class:`xplorr.costs.query.CostGroup`), so ``/costs`` and ``/costs/trend``
answer for a cluster exactly as they do for cloud accounts; and the same sums with the
organization's allocation rules over this cluster applied (:func:`allocate`, the arithmetic of
``costs.allocate``), for ``allocate=true``, previews and reports.

Sums are exact (``func.sum`` of ``Money``: NUMERIC on PostgreSQL, exact text sums on SQLite).
OpenCost's ``__idle__`` allocation is its own group under every grouping but a period's
(``key: "__idle__"``, name ``idle``): a day's total is every posted ``totalCost`` of that day,
idle included.
"""

import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Select, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.errors import NotFound, ValidationFailed
from xplorr.core.models import Money
from xplorr.core.tenancy import Scope, org_select
from xplorr.costs.allocate import Allocation, ShareRule, apply_rules
from xplorr.costs.allocate import Row as AllocationRow
from xplorr.costs.query import NONE_NAME, CostGroup, Dim, Key
from xplorr.kubernetes.models import KubernetesAllocation, KubernetesCluster

IDLE_KEY: Final = "__idle__"
IDLE_NAME: Final = "idle"
UNLABELED_NAME: Final = "unlabeled"
LABEL_PREFIX: Final = "label:"
ZERO: Final = Decimal(0)


class ClusterDim(StrEnum):
    """What a cluster's cost can be grouped by besides periods."""

    NAMESPACE = "namespace"
    CONTROLLER = "controller"  # <namespace>/<controllerKind>:<controller>
    POD = "pod"  # <namespace>/<pod>
    NODE = "node"


@dataclass(frozen=True, slots=True)
class LabelKey:
    """Group by the value of one pod label (OpenCost's sanitised name: ``app.kubernetes.io/name``
    is ``app_kubernetes_io_name``, as Prometheus spells it)."""

    key: str


ClusterGroupBy = Dim | ClusterDim | LabelKey
TIME_DIMS: Final = (Dim.DATE, Dim.WEEK, Dim.MONTH)
GROUP_BYS: Final[dict[str, ClusterGroupBy]] = {
    "namespace": ClusterDim.NAMESPACE,
    "controller": ClusterDim.CONTROLLER,
    "pod": ClusterDim.POD,
    "node": ClusterDim.NODE,
    "date": Dim.DATE,
    "week": Dim.WEEK,
    "month": Dim.MONTH,
}
GROUP_BY_HELP: Final = ", ".join(GROUP_BYS) + " or label:<key>"
_UNSANITARY = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_label(key: str) -> str:
    """OpenCost's label names are Prometheus's: every character outside [a-zA-Z0-9_] is _."""
    return _UNSANITARY.sub("_", key)


def parse_group_by(value: str, field_name: str = "groupBy") -> ClusterGroupBy:
    """One of :data:`GROUP_BYS` or ``label:<key>``."""
    if value in GROUP_BYS:
        return GROUP_BYS[value]
    if value.startswith(LABEL_PREFIX):
        key = value[len(LABEL_PREFIX) :]
        if not key or len(key) > 317:
            raise ValidationFailed.on(field_name, "A label key is 1 to 317 characters.")
        return LabelKey(sanitize_label(key))
    raise ValidationFailed.on(field_name, f"With clusterId: one of {GROUP_BY_HELP}.")


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    id: uuid.UUID
    name: str
    currency: str
    data_through: date | None  # the last day with allocations (today's is partial)


def visible_clusters(who: Scope) -> Select[KubernetesCluster]:
    """The caller's org's clusters; none for a user limited to some cloud accounts (their
    grants name cloud accounts, and a cluster's cost is spend they were not granted)."""
    stmt = org_select(KubernetesCluster, who)
    if who.account_ids is not None:
        stmt = stmt.where(false())
    return stmt


async def cluster_info(db: AsyncSession, who: Scope, cluster_id: uuid.UUID) -> ClusterInfo:
    """The cluster, or 404 ``KUBERNETES_CLUSTER_NOT_FOUND`` (another org's, or not visible)."""
    cluster = await db.scalar(visible_clusters(who).where(KubernetesCluster.id == cluster_id))
    if cluster is None:
        raise NotFound.of("KubernetesCluster", cluster_id)
    last = await db.scalar(
        select(func.max(KubernetesAllocation.day)).where(
            KubernetesAllocation.org_id == who.org_id,
            KubernetesAllocation.cluster_id == cluster_id,
        )
    )
    return ClusterInfo(cluster.id, cluster.name, cluster.currency, last)


async def clusters(
    db: AsyncSession, who: Scope, ids: set[uuid.UUID] | None = None
) -> list[ClusterInfo]:
    """The caller's visible clusters (only ``ids`` when given), by name."""
    stmt = visible_clusters(who).order_by(KubernetesCluster.name)
    if ids is not None:
        stmt = stmt.where(KubernetesCluster.id.in_(ids))
    found = list((await db.scalars(stmt)).all())
    if not found:
        return []
    rows = await db.execute(
        select(KubernetesAllocation.cluster_id, func.max(KubernetesAllocation.day))
        .where(
            KubernetesAllocation.org_id == who.org_id,
            KubernetesAllocation.cluster_id.in_([c.id for c in found]),
        )
        .group_by(KubernetesAllocation.cluster_id)
    )
    last_days: dict[uuid.UUID, date] = dict(rows.all())
    return [ClusterInfo(c.id, c.name, c.currency, last_days.get(c.id)) for c in found]


_COLUMNS: Final[dict[ClusterDim, tuple[str, ...]]] = {
    ClusterDim.NAMESPACE: ("namespace",),
    ClusterDim.CONTROLLER: ("namespace", "controller_kind", "controller"),
    ClusterDim.POD: ("namespace", "pod"),
    ClusterDim.NODE: ("node",),
}


def _period(day: date, dim: Dim) -> date:
    if dim is Dim.WEEK:
        return day - timedelta(days=day.weekday())
    if dim is Dim.MONTH:
        return day.replace(day=1)
    return day


def _joined(*parts: str | None) -> str | None:
    return None if all(p is None for p in parts) else "/".join(p or "" for p in parts)


def _group(dim: ClusterGroupBy, row: dict[str, Any]) -> tuple[Key, str]:
    """The key and display name of one grouped row under ``dim``."""
    if isinstance(dim, Dim):
        day = _period(row["day"], dim)
        return day, day.isoformat()
    if row["idle"]:
        return IDLE_KEY, IDLE_NAME
    key: str | None
    if isinstance(dim, LabelKey):
        labels = row["labels"] or {}
        value = labels.get(dim.key)
        return (value, value) if isinstance(value, str) else (None, UNLABELED_NAME)
    if dim is ClusterDim.CONTROLLER:
        controller = row["controller"]
        if controller is None:
            return None, NONE_NAME
        kind = row["controller_kind"]
        key = _joined(row["namespace"], f"{kind}:{controller}" if kind else controller)
    elif dim is ClusterDim.POD:
        key = None if row["pod"] is None else _joined(row["namespace"], row["pod"])
    else:
        key = row[_COLUMNS[dim][0]]
    return key, key if key is not None else NONE_NAME


async def aggregate(
    db: AsyncSession,
    who: Scope,
    cluster: ClusterInfo,
    start: date,
    end: date,
    group_by: tuple[ClusterGroupBy, ...] = (),
) -> list[CostGroup]:
    """The cluster's posted ``totalCost`` from ``start`` to ``end`` (days included), summed per
    ``group_by``, in the cluster's currency. Groups come sorted by key."""
    names: list[str] = ["idle"]
    for dim in group_by:
        if isinstance(dim, Dim):
            names.append("day")
        elif isinstance(dim, LabelKey):
            names.append("labels")
        else:
            names.extend(_COLUMNS[dim])
    names = list(dict.fromkeys(names))
    columns = [getattr(KubernetesAllocation, n) for n in names]
    stmt = (
        select(*columns, func.sum(KubernetesAllocation.total_cost, type_=Money()))
        .where(
            KubernetesAllocation.org_id == who.org_id,
            KubernetesAllocation.cluster_id == cluster.id,
            KubernetesAllocation.day >= start,
            KubernetesAllocation.day <= end,
        )
        .group_by(*columns)
    )
    sums: dict[tuple[Key, ...], Decimal] = defaultdict(Decimal)
    labels: dict[tuple[Key, ...], tuple[str, ...]] = {}
    for *values, amount in (await db.execute(stmt)).all():
        row = dict(zip(names, values, strict=True))
        parts = [_group(dim, row) for dim in group_by]
        key = tuple(k for k, _ in parts)
        sums[key] += Decimal(amount or 0)
        labels[key] = tuple(n for _, n in parts)
    groups = [
        CostGroup(key=k, names=labels[k], currency=cluster.currency, cost=v)
        for k, v in sums.items()
    ]
    groups.sort(
        key=lambda g: tuple((v is not None, str(v) if v is not None else "") for v in g.key)
    )
    return groups


async def total(
    db: AsyncSession, who: Scope, cluster: ClusterInfo, start: date, end: date
) -> Decimal:
    """The cluster's posted ``totalCost`` from ``start`` to ``end``, idle included."""
    groups = await aggregate(db, who, cluster, start, end)
    return groups[0].cost if groups else ZERO


# --- allocation rules over a cluster's cost ------------------------------------------------------


def allocation_target(dim: ClusterGroupBy) -> ClusterDim | LabelKey | None:
    """The dimension that can receive shared cost: namespaces or a pod label's values."""
    return dim if dim is ClusterDim.NAMESPACE or isinstance(dim, LabelKey) else None


def _rule_target(rule: ShareRule) -> ClusterDim | LabelKey:
    if rule.target_key is None:
        return ClusterDim.NAMESPACE
    return LabelKey(sanitize_label(rule.target_key))


def _source_label(rule: ShareRule) -> LabelKey | None:
    key = rule.source.tag_key
    return None if key is None else LabelKey(sanitize_label(key))


def _matches(rule: ShareRule, row: AllocationRow) -> bool:
    """Whether ``row`` (at :func:`allocate`'s grain) is the cost ``rule`` shares: the idle
    allocation, or the non-idle pods of its namespace and/or label value (tag_value None:
    without the label)."""
    source = rule.source
    namespace = row[ClusterDim.NAMESPACE]
    if source.idle:
        return namespace == IDLE_KEY
    if namespace == IDLE_KEY:
        return False
    if source.namespace is not None and namespace != source.namespace:
        return False
    label = _source_label(rule)
    return label is None or row[label] == source.tag_value


def _recipient(value: Key) -> bool:
    # The idle group is a cost to share, never a receiver of shared cost.
    return value is not None and value != IDLE_KEY


async def allocate(
    db: AsyncSession,
    who: Scope,
    cluster: ClusterInfo,
    start: date,
    end: date,
    group_by: tuple[ClusterGroupBy, ...],
    rules: Sequence[ShareRule],
) -> Allocation:
    """``group_by``'s groups of the cluster's cost with the rules over this cluster that
    target ``group_by[0]`` (namespaces, or a pod label's values) applied: each day's idle
    cost, a namespace's or the unlabeled pods' moved onto the receivers ``fixed``,
    ``even``ly or ``proportional`` to their own cost that day, exactly as ``costs.allocate``
    does it for cloud cost (same functions, same conservation to the store's precision)."""
    target = allocation_target(group_by[0])
    if target is None:
        raise ValidationFailed.on(
            "allocate", "With clusterId, allocation needs groupBy=namespace or label:<key>."
        )
    active = sorted(
        (r for r in rules if r.source.cluster_id == cluster.id and _rule_target(r) == target),
        key=lambda r: (r.priority, r.name, str(r.id)),
    )
    fine: list[ClusterGroupBy] = list(group_by)
    needed: list[ClusterGroupBy] = [Dim.DATE, ClusterDim.NAMESPACE]
    needed.extend(label for r in active if (label := _source_label(r)) is not None)
    for dim in needed:
        if dim not in fine:
            fine.append(dim)
    groups = await aggregate(db, who, cluster, start, end, tuple(fine))
    return apply_rules(
        groups, fine, group_by, active, target=target, matches=_matches, recipient=_recipient
    )
