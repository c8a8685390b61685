"""Rightsizing from the collector's Prometheus usage (product-notes section 12's formulas)."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.kubernetes import add_allocations, make_cluster
from tests.kubernetes.opencost_double import dumps, vector
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
