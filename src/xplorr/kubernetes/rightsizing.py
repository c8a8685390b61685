"""Kubernetes rightsizing from the Prometheus usage the collector posts (product-notes section
12, the charts' README formulas), per workload container over the last 30 days of usage:

- CPU request = P95 + 15 %;
- memory request = max(P95 + 20 %, the highest seen);
- limits = 25 % above max(recommended request, the highest seen);
- flagged when fewer than 7 days of data, or when the highest seen is more than twice the P95.

A day's P95 is per pod (Prometheus's ``quantile_over_time`` over 5-minute samples); the window's
P95 of a workload is the highest daily P95 of its pods (Prometheus keeps no samples here to take
a quantile of the whole window: the highest daily one is the conservative bound). Pods are
grouped into their workload (namespace, controller kind and name) through the OpenCost
allocations of the same day; a pod without one is its own workload. Without usage posts there
is no recommendation (``usage_days`` 0, no rows): nothing is guessed from OpenCost's averages.

GPUs ("flagged when utilised < 10 % of the time") are assessed from what OpenCost itself
reports per pod and day, with no Prometheus post: ``gpuHours``, ``gpuCost``, ``minutes`` and
``gpuUsageAverage`` (the day's average of DCGM_FI_PROF_GR_ENGINE_ACTIVE, the share of time a
GPU's engine is busy, summed over the pod's containers), over the last 30 days of allocations.
A workload's utilisation is its engine-active GPU-hours (``gpuUsageAverage`` x hours run) over
its GPU-hours (``gpuHours``), on the days OpenCost reported a usage: the share of the GPU time
it held during which the GPU worked. Below 10 %: ``gpu_underused``. This is an average over
each day, not a count of sampled moments above a threshold (OpenCost keeps no samples).
OpenCost writes 0 for the usage when no DCGM exporter feeds Prometheus, so a 0 proves nothing
alone: a cluster whose allocations never report a usage above 0 in the window gets
``gpu_usage_unreported`` on every GPU workload instead, and no utilisation.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import money
from xplorr.kubernetes.models import KubernetesAllocation, KubernetesCluster, KubernetesUsage
from xplorr.kubernetes.schemas import GpuItem, ResourceAdvice, RightsizingItem, RightsizingOut

WINDOW_DAYS: Final = 30
MIN_DAYS: Final = 7
CPU_HEADROOM: Final = Decimal("1.15")
MEMORY_HEADROOM: Final = Decimal("1.20")
LIMIT_HEADROOM: Final = Decimal("1.25")
SPIKE_RATIO: Final = Decimal(2)
MILLICORE: Final = Decimal("0.001")
MIB: Final = 1024 * 1024
GPU_UNDERUSED_PERCENT: Final = Decimal(10)  # product notes section 12
PERCENT: Final = Decimal("0.01")
ZERO: Final = Decimal(0)


@dataclass
class _Container:
    days: set[date] = field(default_factory=set)
    peak: dict[str, Decimal] = field(default_factory=dict)  # metric -> highest daily value
    latest: dict[str, tuple[date, Decimal]] = field(default_factory=dict)  # metric -> newest

    def add(self, day: date, metric: str, value: Decimal) -> None:
        if metric in {"cpu_p95", "memory_p95"}:
            self.days.add(day)
        if value > self.peak.get(metric, Decimal("-Infinity")):
            self.peak[metric] = value
        newest = self.latest.get(metric)
        if newest is None or day > newest[0] or (day == newest[0] and value > newest[1]):
            self.latest[metric] = (day, value)


def _cores(value: Decimal) -> Decimal:
    return value.quantize(MILLICORE, rounding=ROUND_CEILING)


def _bytes(value: Decimal) -> Decimal:
    return Decimal(math.ceil(value / MIB) * MIB)


def _advice(c: _Container, kind: str) -> tuple[ResourceAdvice | None, list[str]]:
    p95, peak = c.peak.get(f"{kind}_p95"), c.peak.get(f"{kind}_max")
    if p95 is None or peak is None:
        return None, []
    if kind == "cpu":
        request = _cores(p95 * CPU_HEADROOM)
        limit = _cores(max(request, peak) * LIMIT_HEADROOM)
    else:
        request = _bytes(max(p95 * MEMORY_HEADROOM, peak))
        limit = _bytes(max(request, peak) * LIMIT_HEADROOM)
    flags = [f"{kind}_spiky"] if peak > SPIKE_RATIO * p95 else []
    current_request = c.latest.get(f"{kind}_request")
    current_limit = c.latest.get(f"{kind}_limit")
    return (
        ResourceAdvice(
            p50=c.peak.get(f"{kind}_p50"),
            p95=p95,
            max=peak,
            current_request=current_request[1] if current_request else None,
            current_limit=current_limit[1] if current_limit else None,
            recommended_request=request,
            recommended_limit=limit,
        ),
        flags,
    )


@dataclass
class _Gpu:
    days: set[date] = field(default_factory=set)
    hours: Decimal = ZERO
    cost: Decimal = ZERO
    reported_hours: Decimal = ZERO  # GPU-hours of the days with a usage figure
    active_hours: Decimal = ZERO  # engine-active GPU-hours of those days
    shared: bool | None = None


def _figure(usage: dict[str, Any], key: str) -> Decimal | None:
    value = usage.get(key)
    return None if value is None else Decimal(str(value))


def _workload(kind: str | None, controller: str | None, pod: str | None) -> str:
    if controller:
        return f"{kind}:{controller}" if kind else controller
    return f"pod:{pod}"


async def gpu_advice(
    db: AsyncSession, cluster: KubernetesCluster
) -> tuple[date | None, date | None, list[GpuItem]]:
    """The GPU window and each workload that held GPUs in it (module docstring)."""
    last = await db.scalar(
        select(func.max(KubernetesAllocation.day)).where(
            KubernetesAllocation.org_id == cluster.org_id,
            KubernetesAllocation.cluster_id == cluster.id,
        )
    )
    if last is None:
        return None, None, []
    start = last - timedelta(days=WINDOW_DAYS - 1)
    rows = await db.execute(
        select(
            KubernetesAllocation.day,
            KubernetesAllocation.namespace,
            KubernetesAllocation.controller_kind,
            KubernetesAllocation.controller,
            KubernetesAllocation.pod,
            KubernetesAllocation.gpu_cost,
            KubernetesAllocation.usage,
        ).where(
            KubernetesAllocation.org_id == cluster.org_id,
            KubernetesAllocation.cluster_id == cluster.id,
            KubernetesAllocation.day >= start,
            KubernetesAllocation.idle.is_(False),
            # Stored as decimal text; the cast reads it on SQLite and PostgreSQL alike.
            KubernetesAllocation.usage["gpuHours"].as_float() > 0,
        )
    )
    workloads: dict[tuple[str, str], _Gpu] = defaultdict(_Gpu)
    dcgm_seen = False
    for day, namespace, kind, controller, pod, gpu_cost, usage in rows.all():
        hours = _figure(usage, "gpuHours") or ZERO
        w = workloads[(namespace or "", _workload(kind, controller, pod))]
        w.days.add(day)
        w.hours += hours
        w.cost += Decimal(gpu_cost)
        busy, minutes = _figure(usage, "gpuUsageAverage"), _figure(usage, "minutes")
        if busy is not None and minutes is not None:
            dcgm_seen = dcgm_seen or busy > ZERO
            w.reported_hours += hours
            w.active_hours += busy * minutes / 60
        if (shared := usage.get("isGPUShared")) is not None:
            w.shared = bool(w.shared) or shared == "true"
    items = []
    for (namespace, workload), w in workloads.items():
        percent: Decimal | None = None
        flags = []
        if dcgm_seen and w.reported_hours > ZERO:
            percent = (w.active_hours * 100 / w.reported_hours).quantize(
                PERCENT, rounding=ROUND_HALF_UP
            )
            if percent < GPU_UNDERUSED_PERCENT:
                flags.append("gpu_underused")
        else:
            flags.append("gpu_usage_unreported")
        if len(w.days) < MIN_DAYS:
            flags.append("insufficient_data")
        items.append(
            GpuItem(
                namespace=namespace,
                workload=workload,
                days_of_data=len(w.days),
                gpu_hours=w.hours,
                gpu_cost=money.round_money(w.cost, cluster.currency),
                currency=cluster.currency,
                utilisation_percent=percent,
                shared=w.shared,
                flags=flags,
            )
        )
    items.sort(key=lambda i: (-i.gpu_cost, -i.gpu_hours, i.namespace, i.workload))
    return start, last, items


async def rightsizing(db: AsyncSession, cluster: KubernetesCluster) -> RightsizingOut:
    """Recommendations for ``cluster`` (already resolved in the caller's org)."""
    gpu_start, gpu_end, gpus = await gpu_advice(db, cluster)
    last = await db.scalar(
        select(func.max(KubernetesUsage.day)).where(
            KubernetesUsage.org_id == cluster.org_id, KubernetesUsage.cluster_id == cluster.id
        )
    )
    if last is None:
        return RightsizingOut(
            cluster_id=cluster.id,
            start_date=None,
            end_date=None,
            usage_days=0,
            data=[],
            gpu_start_date=gpu_start,
            gpu_end_date=gpu_end,
            gpus=gpus,
        )
    start = last - timedelta(days=WINDOW_DAYS - 1)
    in_window = (
        KubernetesUsage.org_id == cluster.org_id,
        KubernetesUsage.cluster_id == cluster.id,
        KubernetesUsage.day >= start,
    )
    owners: dict[tuple[date, str, str], str] = {}
    alloc = await db.execute(
        select(
            KubernetesAllocation.day,
            KubernetesAllocation.namespace,
            KubernetesAllocation.pod,
            KubernetesAllocation.controller_kind,
            KubernetesAllocation.controller,
        ).where(
            KubernetesAllocation.org_id == cluster.org_id,
            KubernetesAllocation.cluster_id == cluster.id,
            KubernetesAllocation.day >= start,
            KubernetesAllocation.pod.is_not(None),
            KubernetesAllocation.controller.is_not(None),
        )
    )
    for day, namespace, pod, kind, controller in alloc.all():
        owners[(day, namespace or "", pod or "")] = (
            f"{kind}:{controller}" if kind else str(controller)
        )
    containers: dict[tuple[str, str, str], _Container] = defaultdict(_Container)
    usage_days: set[date] = set()
    rows = await db.execute(
        select(
            KubernetesUsage.day,
            KubernetesUsage.metric,
            KubernetesUsage.namespace,
            KubernetesUsage.pod,
            KubernetesUsage.container,
            KubernetesUsage.value,
        ).where(*in_window)
    )
    for day, metric, namespace, pod, container, value in rows.all():
        usage_days.add(day)
        workload = owners.get((day, namespace, pod), f"pod:{pod}")
        containers[(namespace, workload, container)].add(day, metric, Decimal(value))
    items = []
    for (namespace, workload, container), c in sorted(containers.items()):
        cpu, cpu_flags = _advice(c, "cpu")
        memory, memory_flags = _advice(c, "memory")
        if cpu is None and memory is None:
            continue
        flags = (["insufficient_data"] if len(c.days) < MIN_DAYS else []) + cpu_flags
        items.append(
            RightsizingItem(
                namespace=namespace,
                workload=workload,
                container=container,
                days_of_data=len(c.days),
                cpu=cpu,
                memory=memory,
                flags=flags + memory_flags,
            )
        )
    return RightsizingOut(
        cluster_id=cluster.id,
        start_date=start,
        end_date=last,
        usage_days=len(usage_days),
        data=items,
        gpu_start_date=gpu_start,
        gpu_end_date=gpu_end,
        gpus=gpus,
    )
