"""``/network/summary`` over a Google Cloud project, end to end: the detailed billing export
(real-looking SKUs: internet and inter-region egress, inter-zone transfer, Cloud NAT, load
balancing, a static IP, a free-tier credit, and compute that is not network spend) synced by
the real BigQuery client from the local Google, the inventory read from Cloud Asset by the
refresh the import queues; categories, daily series and resources (joined to the inventory by
the bill's numeric instance id) to the cent."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import sync
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.gcp import billing_data as bd
from tests.gcp.conftest import PROJECT, credentials
from tests.gcp.google_fake import GoogleFake
from tests.gcp.test_inventory import IP, VM, arrange
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users.models import User

DATASET = "billing_export"
VM_BILLED = f"//compute.googleapis.com/projects/{PROJECT}/zones/us-central1-a/instances/4242"
NAT = f"//compute.googleapis.com/projects/{PROJECT}/regions/us-central1/routers/nat-router"
LB = f"//compute.googleapis.com/projects/{PROJECT}/regions/us-central1/forwardingRules/web"


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


def _net(day: Any, cost: str, sku: str, description: str, resource: str, **kw: Any) -> Any:
    name = resource.rsplit("/", 1)[1]
    return bd.row(
        day,
        cost,
        service=kw.pop("service", "Networking"),
        sku=sku,
        description=description,
        unit="gibibyte",
        resource=(name, resource),
        **kw,
    )


async def test_network_summary_of_a_gcp_project_to_the_cent(
    google: GoogleFake,
    keyfile: dict[str, Any],
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
    worker: Worker,
) -> None:
    today = clock.now().date()
    d1, d2 = today - timedelta(days=1), today - timedelta(days=2)
    arrange(google)  # the project's assets: vm-1 (billed as .../instances/4242), the IP "spare"
    google.dataset(DATASET)
    google.export_table(DATASET, bd.STANDARD)
    google.export_table(DATASET, bd.DETAILED, detailed=True)
    egress = "Network Internet Data Transfer Out from Americas to Americas"
    rows = [
        _net(d1, "1.234567", "9DE9-9092-B3BC", egress, VM_BILLED, credits=[("FREE_TIER", "-0.2")]),
        _net(d2, "0.765433", "9DE9-9092-B3BC", egress, VM_BILLED),
        _net(
            d1,
            "0.50",
            "6B8F-E63D-832B",
            "Network Inter Region Data Transfer Out from Americas to EMEA",
            VM_BILLED,
        ),
        _net(d1, "0.13", "DE9E-AFBC-A15A", "Network Inter Zone Data Transfer Out", VM_BILLED),
        _net(d2, "1.05", "AF5C-3E23-1B94", "NAT Gateway: Uptime charge", NAT),
        _net(
            d1,
            "0.60",
            "D4B4-B6E6-1B1E",
            "Network Load Balancing: Forwarding Rule Minimum Service Charge in Americas",
            LB,
        ),
        _net(d1, "0.24", "418E-6C2A-6E16", "Static Ip Charge", IP, service="Compute Engine"),
        # compute, not network spend
        bd.row(
            d1,
            "10.00",
            sku="2E27-4F75-95CD",
            description="N2 Instance Core running in Americas",
            resource=("vm-1", VM_BILLED),
        ),
    ]
    google.insert(DATASET, bd.DETAILED, rows)
    google.insert(
        DATASET, bd.STANDARD, [{k: v for k, v in r.items() if k != "resource"} for r in rows]
    )
    account = await make_account(
        db,
        org,
        provider=Provider.GCP,
        provider_account_id=PROJECT,
        credentials=credentials(keyfile),
    )

    run = await sync(client_for, admin, account, worker)  # the inventory refresh runs after it
    assert run["state"] == "succeeded", run
    r = await client_for(admin).get(
        "/network/summary", params={"account_id": str(account.id), "days": 7}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["currency"], body["total_cost"]) == ("USD", 4.32)
    assert [(c["category"], c["cost"]) for c in body["categories"] if c["cost"]] == [
        ("internet_egress", 1.8),  # 1.234567 + 0.765433 - 0.20 of free tier
        ("nat_gateway", 1.05),
        ("load_balancer", 0.6),
        ("inter_region", 0.5),
        ("public_ipv4", 0.24),
        ("inter_az", 0.13),
    ]
    assert sum(c["percentage"] for c in body["categories"]) == pytest.approx(100, abs=0.05)
    days = {d["date"]: (d["cost"], d["categories"]) for d in body["daily"] if d["cost"]}
    assert days == {
        d1.isoformat(): (
            2.5,  # 1.034567 + 0.50 + 0.13 + 0.60 + 0.24
            {
                "internet_egress": 1.03,
                "inter_region": 0.5,
                "inter_az": 0.13,
                "load_balancer": 0.6,
                "public_ipv4": 0.24,
            },
        ),
        d2.isoformat(): (1.82, {"internet_egress": 0.77, "nat_gateway": 1.05}),
    }
    top = [
        (t["resource_id"], t["category"], t["cost"], t["name"], t["type"])
        for t in body["top_resources"]
    ]
    # The VM is billed by numeric id, listed by name: joined through attributes.bill_id
    assert top == [
        (VM_BILLED, "internet_egress", 1.8, "vm-1", "Virtual Machine"),
        (NAT, "nat_gateway", 1.05, None, None),
        (LB, "load_balancer", 0.6, None, None),
        (VM_BILLED, "inter_region", 0.5, "vm-1", "Virtual Machine"),
        (IP, "public_ipv4", 0.24, "spare", "Public IP Address"),
        (VM_BILLED, "inter_az", 0.13, "vm-1", "Virtual Machine"),
    ]
    assert body["top_resources"][0]["region"] == "us-central1"
    assert [(n["resource_id"], n["cost"]) for n in body["nat_gateways"]] == [(NAT, 1.05)]
    assert [(n["resource_id"], n["cost"]) for n in body["load_balancers"]] == [(LB, 0.6)]
    assert body["vpcs"] == []
    inventory = await client_for(admin).get("/inventory", params={"search": "vm-1"})
    vm = next(i for i in inventory.json()["data"] if i["resource_id"] == VM)
    assert (vm["cost_30d"], vm["currency"]) == (12.43, "USD")  # 10 + its 2.43 of transfer, net
