"""Allocation rules over a Kubernetes cluster's cost: a cluster's idle cost shared across its
namespaces, a namespace's cost across the values of a pod label, through ``/costs?clusterId=
&allocate=true``, the preview and the reports, against this hand-summed table (USD):

| day        | shop (team=web) | data (team=db) | kube-system (no label) | idle |
|------------|-----------------|----------------|------------------------|------|
| 2026-10-30 | 30              | 10             | 10                     | 20   |
| 2026-10-31 | 10              | 30             | 10                     | 40   |

160 in all; by namespace: shop 40, data 40, kube-system 20, idle 60.
"""

import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.allocation.conftest import Month
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.kubernetes import add_allocations, make_cluster
from xplorr.allocation.models import AllocationRule
from xplorr.kubernetes.models import KubernetesCluster
from xplorr.orgs.models import Org
from xplorr.users.models import User

D1, D2 = "2026-10-30", "2026-10-31"
OCTOBER = {"startDate": "2026-10-01", "endDate": "2026-10-31"}


@pytest.fixture
async def cluster(db: AsyncSession, org: Org) -> KubernetesCluster:
    made, _token = await make_cluster(db, org, name="prod", posted=True)
    rows: list[dict[str, object]] = []
    for day, (shop, data) in ((D1, ("30", "10")), (D2, ("10", "30"))):
        rows += [
            {"day": day, "name": "shop/a", "namespace": "shop", "pod": "a", "total_cost": shop,
             "labels": {"team": "web"}},
            {"day": day, "name": "data/b", "namespace": "data", "pod": "b", "total_cost": data,
             "labels": {"team": "db"}},
            {"day": day, "name": "kube-system/dns", "namespace": "kube-system", "pod": "dns",
             "total_cost": "10"},
            {"day": day, "name": "__idle__", "idle": True,
             "total_cost": "20" if day == D1 else "40"},
        ]  # fmt: skip
    await add_allocations(db, made, rows)
    return made


def rule(cluster: KubernetesCluster, name: str, **fields: object) -> dict[str, object]:
    source = fields.pop("source", {"idle": True})
    assert isinstance(source, dict)
    return {
        "name": name,
        "source": {"cluster_id": str(cluster.id), **source},
        "method": "proportional",
        **fields,
    }


def table(body: dict) -> list[tuple]:
    return [(d["key"], d["direct"], d["allocated"], d["cost"]) for d in body["data"]]


async def allocated(client: httpx.AsyncClient, cluster: KubernetesCluster, group_by: str) -> dict:
    r = await client.get(
        "/costs",
        params={"clusterId": str(cluster.id), "groupBy": group_by, "allocate": "true", **OCTOBER},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["allocated"] is True
    assert body["totalCost"] == 160.0  # nothing created or lost
    assert sum(Decimal(str(d["cost"])) for d in body["data"]) == Decimal(160)
    return body


async def test_idle_and_a_namespace_shared_then_answered_by_costs_preview_and_reports(
    client_for: ClientFor, admin: User, viewer: User, cluster: KubernetesCluster
) -> None:
    api, reader = client_for(admin), client_for(viewer)
    plain = await allocated(reader, cluster, "namespace")
    assert table(plain) == [
        ("__idle__", 60.0, 0.0, 60.0),
        ("data", 40.0, 0.0, 40.0),
        ("shop", 40.0, 0.0, 40.0),
        ("kube-system", 20.0, 0.0, 20.0),
    ]

    # Idle by namespace, in proportion to each namespace's own cost that day:
    # D1 20 at 30:10:10 -> 12/4/4; D2 40 at 10:30:10 -> 8/24/8.
    idle_rule = rule(cluster, "idle by namespace", target_kind="namespace")
    r = await api.post("/allocation-rules", params={"preview": "true"}, json=idle_rule)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert (preview["start_date"], preview["end_date"]) == ("2026-10-01", "2026-10-31")
    assert (preview["target_kind"], preview["target_tag_key"]) == ("namespace", None)
    assert (preview["currency"], preview["moved"]) == ("USD", 60.0)
    previewed = {v["key"]: (v["cost_before"], v["cost_after"]) for v in preview["values"]}
    assert previewed == {
        "data": (40.0, 68.0),
        "shop": (40.0, 60.0),
        "kube-system": (20.0, 32.0),
        "__idle__": (60.0, 0.0),
    }
    r = await api.post("/allocation-rules", json=idle_rule)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["source"] | {"cluster_id": None} == {
        "provider": None,
        "account_id": None,
        "service": None,
        "region": None,
        "tag_key": None,
        "tag_value": None,
        "cluster_id": None,
        "namespace": None,
        "idle": True,
    }
    assert (saved["target_kind"], saved["target_tag_key"]) == ("namespace", None)
    assert table(await allocated(reader, cluster, "namespace")) == [
        ("data", 40.0, 28.0, 68.0),
        ("shop", 40.0, 20.0, 60.0),
        ("kube-system", 20.0, 12.0, 32.0),
    ]

    # By team: idle in proportion to each team's own cost (unlabeled pods receive nothing),
    # then kube-system evenly between the teams seen that day (5 + 5 a day).
    for body in (
        rule(cluster, "idle by team", target_tag_key="team"),
        rule(
            cluster,
            "kube-system by team",
            source={"namespace": "kube-system"},
            target_tag_key="team",
            method="even",
            priority=2,
        ),
    ):
        r = await api.post("/allocation-rules", json=body)
        assert r.status_code == 201, r.text
    assert table(await allocated(reader, cluster, "label:team")) == [
        ("db", 40.0, 45.0, 85.0),
        ("web", 40.0, 35.0, 75.0),
    ]
    # Rules targeting a namespace do not apply by label and the other way round; thenBy keeps
    # the second dimension (the idle pod row lands under each namespace).
    nested = (
        await reader.get(
            "/costs",
            params={
                "clusterId": str(cluster.id),
                "groupBy": "namespace",
                "thenBy": "pod",
                "allocate": "true",
                **OCTOBER,
            },
        )
    ).json()
    shop = next(d for d in nested["data"] if d["key"] == "shop")
    assert {(g["key"], g["name"], g["cost"]) for g in shop["groups"]} == {
        ("shop/a", "shop/a", 40.0),
        ("__idle__", "idle", 20.0),
    }

    # The reports: the allocation section per cluster and target, and the cluster section.
    report = (await reader.get("/reports", params=OCTOBER)).json()
    sections = {s["title"]: s for s in report["sections"]}
    by_ns = sections["Allocation of cluster prod by namespace"]
    assert by_ns["tables"][0]["rows"] == [
        ["data", 40, 28, 68, 42.5],
        ["shop", 40, 20, 60, 37.5],
        ["kube-system", 20, 12, 32, 20],
    ]
    by_team = sections["Allocation of cluster prod by label team"]
    assert [f["value"] for f in by_team["figures"]] == [2, 80]  # rules; 60 idle + 20 moved
    k8s = sections["Kubernetes clusters"]
    assert [(f["label"], f["value"]) for f in k8s["figures"]] == [
        ("prod: total (USD)", 160),
        ("prod: idle share", 37.5),
    ]
    assert k8s["tables"][0]["rows"] == [
        ["idle", 60, 37.5],
        ["data", 40, 25],
        ["shop", 40, 25],
        ["kube-system", 20, 12.5],
    ]
    assert not any(s["title"].startswith("Allocation by") for s in report["sections"])


async def test_cluster_rules_leave_cloud_allocation_alone(
    client_for: ClientFor,
    db: AsyncSession,
    org: Org,
    admin: User,
    member: User,
    cluster: KubernetesCluster,
    month: Month,
) -> None:
    api = client_for(admin)
    r = await api.post("/allocation-rules", json=rule(cluster, "idle", target_tag_key="team"))
    assert r.status_code == 201, r.text
    cloud = (
        await api.get("/costs", params={**month.params, "groupBy": "tag:team", "allocate": "true"})
    ).json()
    assert [(d["key"], d["cost"], d["allocated"]) for d in cloud["data"]] == [
        (None, 65.0, 0.0),
        ("api", 40.0, 0.0),
        ("data", 40.0, 0.0),
    ]
    # A member limited to some cloud accounts gets no cluster section (nor the cluster).
    await grant(db, member, month.account)
    report = (await client_for(member).get("/reports", params=OCTOBER)).json()
    assert [s["key"] for s in report["sections"]] == []
    # The cluster's rules go with it.
    assert (await api.delete(f"/kubernetes/clusters/{cluster.id}")).status_code == 204
    left = await db.scalars(select(AllocationRule.name).where(AllocationRule.org_id == org.id))
    assert list(left) == []


async def test_cluster_rules_are_checked(
    client_for: ClientFor,
    db: AsyncSession,
    admin: User,
    org: Org,
    other_org: Org,
    cluster: KubernetesCluster,
) -> None:
    api = client_for(admin)
    foreign, _ = await make_cluster(db, other_org)
    account = await make_account(db, org)
    cid = str(cluster.id)
    refused: dict[str, tuple[dict[str, object], int, str]] = {
        "namespaces without a cluster": (
            {"source": {"service": "EKS"}, "target_kind": "namespace"},
            422,
            "body",
        ),
        "a cluster and a cloud field": (
            {"source": {"cluster_id": cid, "idle": True, "account_id": str(account.id)}},
            422,
            "source",
        ),
        "the whole cluster": ({"source": {"cluster_id": cid}}, 422, "source"),
        "idle and a namespace": (
            {"source": {"cluster_id": cid, "idle": True, "namespace": "shop"}},
            422,
            "source",
        ),
        "a namespace without a cluster": ({"source": {"namespace": "shop"}}, 422, "source"),
        "not a namespace name": (
            {"source": {"cluster_id": cid, "namespace": "Shop_1"}},
            422,
            "source.namespace",
        ),
        "no target key": (
            {"source": {"cluster_id": cid, "idle": True}, "target_tag_key": None},
            422,
            "body",
        ),
        "a namespace target with a key": (
            {
                "source": {"cluster_id": cid, "idle": True},
                "target_kind": "namespace",
                "target_tag_key": "team",
            },
            422,
            "body",
        ),
        "another org's cluster": (
            {"source": {"cluster_id": str(foreign.id), "idle": True}},
            404,
            "",
        ),
        "an unknown cluster": (
            {"source": {"cluster_id": str(uuid.uuid4()), "idle": True}},
            404,
            "",
        ),
    }
    for what, (fields, status, field) in refused.items():
        body = {"name": what, "method": "even", "target_tag_key": "team", **fields}
        r = await api.post("/allocation-rules", json=body)
        assert r.status_code == status, (what, r.text)
        error = r.json()["error"]
        if status == 404:
            assert error["code"] == "KUBERNETES_CLUSTER_NOT_FOUND", what
        else:
            assert error["details"][0]["field"] == field, (what, r.text)
    assert list(await db.scalars(select(AllocationRule.id))) == []

    # PATCH validates the rule as changed: a cloud rule cannot target namespaces; a cluster
    # rule moved to namespaces drops its key.
    r = await api.post(
        "/allocation-rules",
        json={"name": "eks", "source": {"service": "EKS"}, "target_tag_key": "team",
              "method": "even"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await api.patch(f"/allocation-rules/{r.json()['id']}", json={"target_kind": "namespace"})
    assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (422, "target_kind")
    r = await api.post("/allocation-rules", json=rule(cluster, "idle", target_tag_key="team"))
    assert r.status_code == 201, r.text
    r = await api.patch(f"/allocation-rules/{r.json()['id']}", json={"target_kind": "namespace"})
    assert r.status_code == 200, r.text
    assert (r.json()["target_kind"], r.json()["target_tag_key"]) == ("namespace", None)
