"""Rightsizing from the collector's Prometheus usage (product-notes section 12's formulas)."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.kubernetes import add_allocations, make_cluster
from tests.kubernetes.opencost_double import Gpu, allocation, allocation_range, dumps, vector
from xplorr.kubernetes.models import KubernetesUsage
from xplorr.orgs.models import Org
from xplorr.users.models import User

LAST = date(2026, 11, 30)
GIB = 1024**3


async def _usage(db: AsyncSession, cluster, day: date, pod: str, **metrics: str) -> None:
    for metric, value in metrics.items():
        db.add(
            KubernetesUsage(
                org_id=cluster.org_id,
                cluster_id=cluster.id,
                day=day,
                metric=metric,
                namespace="shop",
                pod=pod,
                container="app",
                value=value,
            )
        )
    await db.commit()


async def test_recommendations_follow_the_formulas_and_flag_what_to_check(
    client_for: ClientFor, viewer: User, org: Org, db: AsyncSession
) -> None:
    cluster, _ = await make_cluster(db, org, posted=True)
    api = client_for(viewer)
    empty = (await api.get(f"/kubernetes/clusters/{cluster.id}/rightsizing")).json()
    assert (empty["usage_days"], empty["data"]) == (0, [])

    # api: 8 days, two replicas (pods of one deployment through the allocations); the highest
    # daily P95 is 0.4 cores and 1 GiB; memory peaked at 1.5 GiB on one day.
    for i in range(8):
        day = LAST - timedelta(days=i)
        for pod in (f"api-{i}-a", f"api-{i}-b"):
            await add_allocations(
                db,
                cluster,
                [
                    {
                        "day": day.isoformat(),
                        "name": f"shop/deployment/api/{pod}",
                        "total_cost": "1",
                        "namespace": "shop",
                        "controller_kind": "deployment",
                        "controller": "api",
                        "pod": pod,
                    }
                ],
            )
            await _usage(
                db,
                cluster,
                day,
                pod,
                cpu_p50="0.1",
                cpu_p95="0.4" if (i, pod[-1]) == (3, "b") else "0.3",
                cpu_max="0.5",
                memory_p95=str(GIB),
                memory_max=str(GIB + GIB // 2 if i == 5 else GIB),
                cpu_request="2",
                memory_request=str(4 * GIB),
            )
    # batch: a bare pod with 3 days and a spiky CPU.
    for i in range(3):
        await _usage(
            db,
            cluster,
            LAST - timedelta(days=i),
            "batch",
            cpu_p95="0.1",
            cpu_max="0.25",
            memory_p95="1000",
            memory_max="1000",
        )
    r = await api.get(f"/kubernetes/clusters/{cluster.id}/rightsizing")
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["usage_days"], out["end_date"], out["source"]) == (
        8,
        LAST.isoformat(),
        "prometheus",
    )
    by_workload = {item["workload"]: item for item in out["data"]}
    api_item = by_workload["deployment:api"]
    assert (api_item["namespace"], api_item["container"], api_item["days_of_data"]) == (
        "shop",
        "app",
        8,
    )
    assert api_item["flags"] == []
    cpu, memory = api_item["cpu"], api_item["memory"]
    assert Decimal(str(cpu["p95"])) == Decimal("0.4")
    assert Decimal(str(cpu["recommended_request"])) == Decimal("0.46")  # 0.4 + 15 %
    assert Decimal(str(cpu["recommended_limit"])) == Decimal("0.625")  # 1.25 x max(0.46, 0.5)
    assert Decimal(str(cpu["current_request"])) == Decimal(2)
    # max(1 GiB + 20 %, 1.5 GiB) = 1.5 GiB; limit 1.25 x 1.5 GiB, whole MiB.
    assert Decimal(str(memory["recommended_request"])) == Decimal(GIB + GIB // 2)
    assert Decimal(str(memory["recommended_limit"])) == Decimal(1920 * 1024 * 1024)
    batch = by_workload["pod:batch"]
    assert batch["flags"] == ["insufficient_data", "cpu_spiky"]
    assert Decimal(str(batch["cpu"]["recommended_request"])) == Decimal("0.115")
    assert Decimal(str(batch["memory"]["recommended_request"])) == Decimal(1024 * 1024)


async def test_usage_posts_replace_their_day_and_metric(
    client_for: ClientFor, org: Org, db: AsyncSession
) -> None:
    cluster, token = await make_cluster(db, org)
    anon = client_for(None)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = f"/kubernetes/ingest/{cluster.id}/usage"
    params = {"date": LAST.isoformat(), "metric": "cpu_p95"}
    doc = vector({("shop", "api-1", "app"): "0.25", ("shop", "api-2", "app"): "NaN"})
    doc["data"]["result"].append({"metric": {"__name__": "x"}, "value": [1, "1"]})
    for _ in range(2):
        r = await anon.post(url, params=params, content=dumps(doc), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["series"] == 1
    for bad, field in (
        ({"date": LAST.isoformat(), "metric": "cpu_p99"}, "metric"),
        ({"metric": "cpu_p95"}, "date"),
    ):
        r = await anon.post(url, params=bad, content=dumps(doc), headers=headers)
        assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (422, field)
    r = await anon.post(url, params=params, content=b'{"status": "error"}', headers=headers)
    assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (422, "status")
    r = await client_for(None).post(url, params=params, content=dumps(doc))
    assert r.status_code == 401


def _gpu_days(**pods: list[Gpu]) -> dict:
    """``/allocation`` with one GPU pod per keyword (namespace ml), a list of days each, the
    last day LAST (the days of a shorter list are the latest)."""
    days: list[list[dict]] = [[] for _ in range(8)]
    for pod, figures in pods.items():
        for i, gpu in enumerate(reversed(figures)):
            day = LAST - timedelta(days=i)
            controller = pod.rsplit("-", 1)[0]
            kind = None if pod.startswith("bare") else "deployment"
            days[7 - i].append(
                allocation(
                    day,
                    namespace="ml",
                    pod=pod,
                    controller=controller if kind else "",
                    controller_kind=kind,
                    total=gpu.cost,
                    gpu=gpu,
                )
            )
    return allocation_range([d for d in days if d])


async def test_gpus_flagged_when_their_engine_works_under_10_percent_of_their_gpu_hours(
    client_for: ClientFor, viewer: User, org: Org, db: AsyncSession
) -> None:
    """OpenCost's GPU figures as posted by the collector (no Prometheus post). train: 7 days
    at 5 % and a 12-hour day at 45 %: (7 x 24 x 0.05 + 12 x 0.45) / 180 = 7.67 %, flagged
    (the unweighted daily mean would be 10 %, not flagged). infer: 60 %. bare: 8 % on 3 days
    in 2024's top-level fields, flagged, and too few days."""
    cluster, token = await make_cluster(db, org)
    train = [Gpu(cost="30", usage="0.05")] * 7 + [Gpu(cost="15", hours="12", usage="0.45")]
    doc = _gpu_days(
        **{
            "train-1": train,
            "infer-1": [Gpu(count="2", cost="50", usage="1.2", shared=True)] * 8,
            "bare-1": [Gpu(cost="4", usage="0.08", legacy=True)] * 3,
        }
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    r = await client_for(None).post(
        f"/kubernetes/ingest/{cluster.id}", content=dumps(doc), headers=headers
    )
    assert r.status_code == 200, r.text
    out = (await client_for(viewer).get(f"/kubernetes/clusters/{cluster.id}/rightsizing")).json()
    assert (out["usage_days"], out["data"]) == (0, [])  # no Prometheus: no CPU/memory advice
    assert (out["gpu_start_date"], out["gpu_end_date"]) == ("2026-11-01", LAST.isoformat())
    got = [
        (
            g["workload"],
            g["days_of_data"],
            g["gpu_hours"],
            g["gpu_cost"],
            g["utilisation_percent"],
            g["shared"],
            g["flags"],
        )
        for g in out["gpus"]
    ]
    assert got == [
        ("deployment:infer", 8, 384, 400, 60, True, []),
        ("deployment:train", 8, 180, 225, 7.67, False, ["gpu_underused"]),
        ("pod:bare-1", 3, 72, 12, 8, None, ["gpu_underused", "insufficient_data"]),
    ]

    # A cluster whose OpenCost has no DCGM data writes 0 (2024) or null (later) for the usage:
    # nothing is flagged as underused, and the report says the usage is missing.
    quiet, quiet_token = await make_cluster(db, org)
    doc = _gpu_days(
        **{"old-1": [Gpu(cost="9", legacy=True)] * 7, "new-1": [Gpu(cost="9", usage=None)] * 7}
    )
    headers["Authorization"] = f"Bearer {quiet_token}"
    r = await client_for(None).post(
        f"/kubernetes/ingest/{quiet.id}", content=dumps(doc), headers=headers
    )
    assert r.status_code == 200, r.text
    out = (await client_for(viewer).get(f"/kubernetes/clusters/{quiet.id}/rightsizing")).json()
    assert [(g["workload"], g["utilisation_percent"], g["flags"]) for g in out["gpus"]] == [
        ("deployment:new", None, ["gpu_usage_unreported"]),
        ("deployment:old", None, ["gpu_usage_unreported"]),
    ]
    # A malformed gpuAllocation is refused where it is.
    bad = _gpu_days(**{"x-1": [Gpu(usage="0.1")]})
    next(iter(bad["data"][0].values()))["gpuAllocation"]["isGPUShared"] = "yes"
    r = await client_for(None).post(
        f"/kubernetes/ingest/{quiet.id}", content=dumps(bad), headers=headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"].endswith("gpuAllocation.isGPUShared")
