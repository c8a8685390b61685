"""The collector's posts: OpenCost's JSON in, exact costs out through /costs?clusterId=."""

import gzip
import uuid
import zlib
from datetime import date, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.kubernetes import make_cluster
from tests.kubernetes.opencost_double import (
    allocation,
    allocation_range,
    asset_set,
    dumps,
    envelope,
    idle,
)
from xplorr.core.security import sha256_hex
from xplorr.kubernetes.models import KubernetesAllocation, KubernetesAsset, KubernetesCluster
from xplorr.orgs.models import Org
from xplorr.users.models import User

D1, D2, D3 = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)
RANGE = {"startDate": D1.isoformat(), "endDate": D3.isoformat()}


def _day(day: date, scale: str = "1") -> list[dict[str, object]]:
    k = Decimal(scale)
    return [
        allocation(
            day,
            namespace="shop",
            pod="api-7d9f-1",
            controller="api",
            total=str(k * Decimal("1.23456")),
            cpu="1",
            ram="0.23456",
            labels={"app": "api", "team": "web"},
        ),
        allocation(
            day,
            namespace="shop",
            pod="api-7d9f-2",
            controller="api",
            total=str(k * Decimal("1.00001")),
            node="node-b",
            labels={"app": "api"},
        ),
        allocation(
            day,
            namespace="data",
            pod="pg-0",
            controller="pg",
            controller_kind="statefulset",
            total=str(k * Decimal("2.50004")),
            labels={"app_kubernetes_io_name": "postgres"},
        ),
        allocation(
            day,
            namespace="kube-system",
            pod="coredns-1",
            controller="",
            controller_kind=None,
            total="0.00003",
        ),
        idle(day, str(k * Decimal("3.33333"))),
    ]


def _post(client: httpx.AsyncClient, cluster_id: object, doc: object, token: str, **kw: object):
    body = dumps(doc)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if kw.pop("gzip", True):
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post(f"/kubernetes/ingest/{cluster_id}", content=body, headers=headers, **kw)


def _expected_total(days: list[list[dict[str, object]]]) -> Decimal:
    return sum((Decimal(str(a["totalCost"])) for day in days for a in day), Decimal(0))


async def test_a_cluster_posts_and_its_costs_answer_like_an_account(
    client_for: ClientFor, admin: User, viewer: User, db: AsyncSession
) -> None:
    api = client_for(admin)
    r = await api.post("/kubernetes/clusters", json={"name": "prod"})
    assert r.status_code == 201, r.text
    created = r.json()
    token, cluster_id = created["ingest_token"], created["id"]
    assert token.startswith("xpk8s_")
    assert len(token) > 40
    assert created["state"] == "waiting"
    assert created["days_held"] == 0
    stored = await db.get(KubernetesCluster, uuid.UUID(cluster_id))
    assert stored is not None
    assert stored.token_hash == sha256_hex(token)
    assert token not in str({c.key: getattr(stored, c.key) for c in stored.__table__.columns})

    days = [_day(D1), _day(D2, "2"), _day(D3, "3")]
    r = await _post(client_for(None), cluster_id, allocation_range(days), token)
    assert r.status_code == 200, r.text
    assert [(d["date"], d["allocations"]) for d in r.json()["days"]] == [
        (D1.isoformat(), 5),
        (D2.isoformat(), 5),
        (D3.isoformat(), 5),
    ]
    listed = (await client_for(viewer).get("/kubernetes/clusters")).json()
    assert listed["total"] == 1
    assert listed["data"][0] | {"last_post_at": None} == listed["data"][0] | {
        "state": "receiving",
        "days_held": 3,
        "first_day": D1.isoformat(),
        "last_day": D3.isoformat(),
        "last_post_at": None,
    }
    assert "ingest_token" not in listed["data"][0]

    reader = client_for(viewer)
    by_ns = (
        await reader.get(
            "/costs", params={"clusterId": cluster_id, "groupBy": "namespace", **RANGE}
        )
    ).json()
    exact = _expected_total(days)
    assert Decimal(str(by_ns["totalCost"])) == exact.quantize(Decimal("0.01"))
    assert by_ns["currency"] == "USD"
    groups = {g["key"]: (g["name"], Decimal(str(g["cost"]))) for g in by_ns["data"]}
    assert set(groups) == {"shop", "data", "kube-system", "__idle__"}
    assert groups["__idle__"] == ("idle", Decimal("19.99998").quantize(Decimal("0.01")))
    assert sum(c for _, c in groups.values()) == Decimal(str(by_ns["totalCost"]))

    # A day's total is the sum of that day's posted totalCost, to the cent.
    by_day = (
        await reader.get("/costs", params={"clusterId": cluster_id, "groupBy": "date", **RANGE})
    ).json()
    assert [(g["key"], Decimal(str(g["cost"]))) for g in by_day["data"]] == [
        (d.isoformat(), _expected_total([day]).quantize(Decimal("0.01")))
        for d, day in zip((D1, D2, D3), days, strict=True)
    ]

    # Re-sending a day replaces it: the newest figures win, nothing is counted twice.
    resent = [_day(D3, "10")]
    r = await _post(client_for(None), cluster_id, allocation_range(resent), token, gzip=False)
    assert r.status_code == 200, r.text
    after = (
        await reader.get("/costs", params={"clusterId": cluster_id, "groupBy": "date", **RANGE})
    ).json()
    assert Decimal(str(after["data"][-1]["cost"])) == _expected_total(resent).quantize(
        Decimal("0.01")
    )
    assert await db.scalar(select(func.count()).select_from(KubernetesAllocation)) == 15

    cases = {
        "controller": {"shop/deployment:api", "data/statefulset:pg", None, "__idle__"},
        "pod": {
            "shop/api-7d9f-1",
            "shop/api-7d9f-2",
            "data/pg-0",
            "kube-system/coredns-1",
            "__idle__",
        },
        "node": {"node-a", "node-b", "__idle__"},
        "label:app": {"api", None, "__idle__"},
        "label:app.kubernetes.io/name": {"postgres", None, "__idle__"},
    }
    for group_by, keys in cases.items():
        r = await reader.get(
            "/costs", params={"clusterId": cluster_id, "groupBy": group_by, **RANGE}
        )
        assert r.status_code == 200, (group_by, r.text)
        got = r.json()
        assert {g["key"] for g in got["data"]} == keys, group_by
        assert sum(Decimal(str(g["cost"])) for g in got["data"]) == Decimal(str(got["totalCost"]))
        assert got["totalCost"] == after["totalCost"], group_by
    nested = (
        await reader.get(
            "/costs",
            params={
                "clusterId": cluster_id,
                "groupBy": "namespace",
                "thenBy": "pod",
                "limit": 2,
                **RANGE,
            },
        )
    ).json()
    assert nested["data"][-1]["other"] is True
    assert nested["data"][0]["groups"]

    trend = (await reader.get("/costs/trend", params={"clusterId": cluster_id, **RANGE})).json()
    assert [p["date"] for p in trend["data"]] == [D1.isoformat(), D2.isoformat(), D3.isoformat()]
    assert trend["totalCost"] == after["totalCost"]
    assert trend["currency"] == "USD"
    default_range = (await reader.get("/costs/trend", params={"clusterId": cluster_id})).json()
    assert default_range["endDate"] == D3.isoformat()

    # Assets of one day; re-sent, they replace that day's.
    for _ in range(2):
        r = await client_for(None).post(
            f"/kubernetes/ingest/{cluster_id}/assets",
            params={"date": D3.isoformat()},
            content=dumps(asset_set(D3, {"node-a": "2.4", "node-b": "2.4"})),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["assets"] == 3
        assert r.json()["total_cost"] == 4.92
    rows = (await db.scalars(select(KubernetesAsset).order_by(KubernetesAsset.name))).all()
    assert [(a.type, a.node_type, a.pool, a.cpu_cost) for a in rows] == [
        ("Disk", None, None, None),
        ("Node", "m5.large", "general", Decimal("1.2")),
        ("Node", "m5.large", "general", Decimal("1.2")),
    ]


async def test_the_ingest_token_writes_its_own_cluster_only(
    client_for: ClientFor, admin: User, org: Org, other_org: Org, db: AsyncSession
) -> None:
    cluster, token = await make_cluster(db, org)
    other, other_token = await make_cluster(db, other_org)
    sibling, sibling_token = await make_cluster(db, org)
    doc = allocation_range([_day(D1)])
    anon = client_for(None)
    refused = {
        "no token": (None, 401),
        "a user's token": (None, 401),
        "not an ingest token": ("xplorr_abc", 401),
        "unknown": ("xpk8s_" + "a" * 43, 401),
        "another org's cluster": (other_token, 404),
        "a sibling cluster": (sibling_token, 404),
    }
    for what, (sent, status) in refused.items():
        client = client_for(admin) if what == "a user's token" else anon
        headers = {"Content-Type": "application/json"}
        if sent:
            headers["Authorization"] = f"Bearer {sent}"
        r = await client.post(
            f"/kubernetes/ingest/{cluster.id}", content=dumps(doc), headers=headers
        )
        assert r.status_code == status, (what, r.text)
        if status == 401:
            assert r.headers["www-authenticate"] == "Bearer", what
        else:
            assert r.json()["error"]["code"] == "KUBERNETES_CLUSTER_NOT_FOUND", what
        r = await client.post(
            f"/kubernetes/ingest/{cluster.id}/assets",
            params={"date": "2026-11-28"},
            content=b"{}",
            headers=headers,
        )
        assert r.status_code == status, (what, r.text)
    assert await db.scalar(select(func.count()).select_from(KubernetesAllocation)) == 0

    # Rotation: the old token stops at once, the new one works.
    r = await client_for(admin).post(f"/kubernetes/clusters/{cluster.id}/token")
    assert r.status_code == 200, r.text
    fresh = r.json()["ingest_token"]
    assert (await _post(anon, cluster.id, doc, token)).status_code == 401
    assert (await _post(anon, cluster.id, doc, fresh)).status_code == 200
    assert (await _post(anon, other.id, doc, other_token)).status_code == 200
    assert sibling.id != cluster.id

    # Deleted: its data goes with it, and its token no longer writes.
    assert (await client_for(admin).delete(f"/kubernetes/clusters/{cluster.id}")).status_code == 204
    assert (await _post(anon, cluster.id, doc, fresh)).status_code == 401
    left = await db.scalars(select(KubernetesAllocation.cluster_id).distinct())
    assert set(left) == {other.id}


def _bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1024 * 1024)
    return b"".join(packer.compress(chunk) for _ in range(65)) + packer.flush()


async def test_malformed_posts_are_422_naming_where_and_write_nothing(
    client_for: ClientFor, org: Org, db: AsyncSession
) -> None:
    cluster, token = await make_cluster(db, org)
    anon = client_for(None)
    assert (await _post(anon, cluster.id, allocation_range([_day(D1)]), token)).status_code == 200
    good = _day(D2)
    two_days = dict(good[0], end=f"{(D2 + timedelta(days=2)).isoformat()}T00:00:00Z")
    cases: dict[str, tuple[bytes, dict[str, str], str]] = {
        "not JSON": (b"<html>", {}, "body"),
        "empty": (b"", {}, "body"),
        "not gzip": (b"{}", {"Content-Encoding": "gzip"}, "body"),
        "an unknown encoding": (b"{}", {"Content-Encoding": "br"}, "content-encoding"),
        "a gzip bomb": (_bomb(), {"Content-Encoding": "gzip"}, "body"),
        "NaN": (b'{"code": 200, "data": [{"a": {"totalCost": NaN}}]}', {}, "body"),
        "OpenCost's error": (
            dumps({"code": 500, "status": "error", "message": "prometheus down", "data": None}),
            {},
            "code",
        ),
        "no data": (dumps({"code": 200}), {}, "body"),
        "data not a list": (dumps(envelope("x")), {}, "data"),
        "an allocation not an object": (dumps(envelope([{"x": 1}])), {}, "data.0.x"),
        "a cost as text": (
            dumps(envelope([{"a": dict(good[0], totalCost="1.5")}])),
            {},
            "data.0.a.totalCost",
        ),
        "a window of two days": (dumps(envelope([{"a": two_days}])), {}, "data.0.a.end"),
        "no window": (
            dumps(
                envelope(
                    [
                        {
                            "a": {
                                k: v
                                for k, v in good[0].items()
                                if k not in {"start", "end", "window"}
                            }
                        }
                    ]
                )
            ),
            {},
            "data.0.a.start",
        ),
        "labels not strings": (
            dumps(envelope([{"a": dict(good[0], properties={"labels": {"x": 1}})}])),
            {},
            "data.0.a.properties.labels",
        ),
        "one day twice": (dumps(envelope([{"a": good[0]}, {"a": good[0]}])), {}, "data.1.a"),
        "a NUL inflated": (
            gzip.compress(b'{"data": [{"a\\u0000": {}}]}'),
            {"Content-Encoding": "gzip"},
            "data.0",
        ),
    }
    for what, (body, extra, field) in cases.items():
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **extra}
        r = await anon.post(f"/kubernetes/ingest/{cluster.id}", content=body, headers=headers)
        assert r.status_code == 422, (what, r.text)
        assert r.json()["error"]["details"][0]["field"] == field, (what, r.text)
    assert await db.scalar(select(func.count()).select_from(KubernetesAllocation)) == 5
    for params in ({}, {"date": "2026-13-01"}, {"date": "20261101"}):
        r = await anon.post(
            f"/kubernetes/ingest/{cluster.id}/assets",
            params=params,
            content=dumps(envelope({})),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (422, "date"), params

    # Unknown fields are ignored; OpenCost's nulls (NaN) read as 0 for costs, kept for usage.
    extra = dict(good[0], somethingNew={"nested": [1, 2]}, gpuCost=None)
    r = await _post(anon, cluster.id, envelope([{extra["name"]: extra}]), token)
    assert r.status_code == 200, r.text
    row = await db.scalar(select(KubernetesAllocation).where(KubernetesAllocation.day == D2))
    assert row is not None
    assert row.gpu_cost == Decimal(0)
    assert row.usage is not None
    assert row.usage["ramEfficiency"] is None
    assert row.usage["cpuCoreUsageAverage"] == "0.12345"

    # Larger than the wire cap: 413 before anything is read.
    r = await anon.post(
        f"/kubernetes/ingest/{cluster.id}",
        content=b" " * (16 * 1024 * 1024 + 1),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 413


async def test_cluster_costs_refuse_what_does_not_apply(
    client_for: ClientFor, admin: User, member: User, org: Org, other_org: Org, db: AsyncSession
) -> None:
    cluster, _ = await make_cluster(db, org, posted=True)
    foreign, _ = await make_cluster(db, other_org)
    await grant(db, member, await make_account(db, org))
    api = client_for(admin)
    refused = {
        "groupBy=service": ({"groupBy": "service"}, 422, "groupBy"),
        "a cloud filter": ({"service": "Amazon EC2"}, 422, "service"),
        "an account": ({"accountId": str(uuid.uuid4())}, 422, "accountId"),
        "allocation by pod": ({"groupBy": "pod", "allocate": "true"}, 422, "allocate"),
        "thenBy the same": ({"groupBy": "pod", "thenBy": "pod"}, 422, "thenBy"),
    }
    for what, (params, status, field) in refused.items():
        r = await api.get("/costs", params={"clusterId": str(cluster.id), **params})
        assert r.status_code == status, (what, r.text)
        assert r.json()["error"]["details"][0]["field"] == field, what
    for path in ("/costs", "/costs/trend"):
        r = await api.get(path, params={"clusterId": str(foreign.id)})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "KUBERNETES_CLUSTER_NOT_FOUND")
        # A member limited to some cloud accounts sees no cluster.
        r = await client_for(member).get(path, params={"clusterId": str(cluster.id)})
        assert r.status_code == 404, r.text
    assert (await client_for(member).get("/kubernetes/clusters")).json()["total"] == 0
    r = await api.get("/costs/dimensions", params={"clusterId": str(cluster.id)})
    assert r.status_code == 422
    empty = (
        await api.get("/costs", params={"clusterId": str(cluster.id), "groupBy": "namespace"})
    ).json()
    assert (empty["data"], empty["totalCost"], empty["currency"]) == ([], 0, "USD")
