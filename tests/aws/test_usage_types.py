"""An AWS bill imported the way it arrives keeps its usage types, and what reads them works:
a CUR 2.0 export in moto's S3 (usage types in ``line_item_usage_type``, SkuId an opaque product
code) and Cost Explorer answers (grouped by USAGE_TYPE), synced by the real job, then
``/network/summary`` by category and ``/commitments/analysis`` by instance family."""

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import ce_answer, ce_day, ce_group, csv_gz, cur_line, put, sync
from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import clock
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users.models import User

BUCKET = "acme-billing"
NAT_ARN = "arn:aws:ec2:us-east-1:123456789012:natgateway/nat-0abc"
EC2 = json.dumps({"product_name": "Amazon Elastic Compute Cloud"})


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


def _categories(body: dict[str, Any]) -> dict[str, float]:
    return {c["category"]: c["cost"] for c in body["categories"] if c["cost"]}


async def _aws_account(
    db: AsyncSession, org: Org, moto: MotoAws, **credentials: Any
) -> CloudAccount:
    return await make_account(
        db,
        org,
        provider=Provider.AWS,
        provider_account_id=moto.account_id,
        credentials=moto.key_credentials(**credentials),
    )


async def test_a_cur_export_gives_network_categories_and_instance_families(
    moto: MotoAws,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
    worker: Worker,
) -> None:
    yesterday = clock.now().date() - timedelta(days=1)
    period = yesterday.replace(day=1)
    at = {
        "bill_billing_period_start_date": f"{period}T00:00:00Z",
        "line_item_usage_start_date": f"{yesterday}T00:00:00Z",
        "resource_tags": "",
        "product": EC2,
    }

    def line(usage_type: str, cost: str, resource: str = "i-0web", **more: str) -> dict[str, str]:
        return cur_line(
            "Usage",
            cost,
            line_item_usage_type=usage_type,
            line_item_resource_id=resource,
            product_sku=hashlib.sha256(usage_type.encode()).hexdigest()[:16].upper(),  # opaque
            **{**at, **more},
        )

    lines = [
        line("BoxUsage:m5.large", "2.304", line_item_usage_amount="24"),
        line("USE1-NatGateway-Hours", "1.08", NAT_ARN, line_item_usage_amount="24"),
        line("USE1-NatGateway-Bytes", "0.45", NAT_ARN, pricing_unit="GB"),
        line("USE1-DataTransfer-Out-Bytes", "0.90", pricing_unit="GB"),
        line("USE1-DataTransfer-Regional-Bytes", "0.05", pricing_unit="GB"),
        line(
            "USE1-USW2-AWS-Out-Bytes",
            "0.20",
            line_item_product_code="AWSDataTransfer",
            product=json.dumps({"product_name": "AWS Data Transfer"}),
            pricing_unit="GB",
        ),
        line(
            "USE1-PublicIPv4:InUseAddress",
            "0.12",
            "eipalloc-0abc",
            line_item_product_code="AmazonVPC",
            product=json.dumps({"product_name": "Amazon Virtual Private Cloud"}),
        ),
    ]
    moto.client("s3").create_bucket(Bucket=BUCKET)
    key = f"cur/acme/data/BILLING_PERIOD={period:%Y-%m}/acme-00001.csv.gz"
    put(moto, BUCKET, key, csv_gz(lines))
    account = await _aws_account(db, org, moto, exportBucket=BUCKET, exportPrefix="cur")
    run = await sync(client_for, admin, account, worker)
    assert run["state"] == "succeeded", run

    client = client_for(admin)
    r = await client.get("/network/summary", params={"account_id": str(account.id)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert _categories(body) == {
        "nat_gateway": 1.53,  # hours on AmazonEC2 + data processed
        "internet_egress": 0.9,
        "inter_az": 0.05,
        "inter_region": 0.2,
        "public_ipv4": 0.12,
    }
    assert body["total_cost"] == 2.8  # the instance's hours are not network spend
    assert [(n["resource_id"], n["cost"]) for n in body["nat_gateways"]] == [(NAT_ARN, 1.53)]

    r = await client.get("/commitments/analysis", params={"accountId": str(account.id)})
    assert r.status_code == 200, r.text
    [gap] = [g for g in r.json()["coverage_gaps"] if g["instance_family"]]
    assert (gap["instance_family"], gap["region"], gap["days_run"]) == ("m5", "us-east-1", 1)
    assert gap["average_daily_on_demand_hours"] == 0.8  # 24 hours over 30 days


async def test_cost_explorer_usage_types_give_network_categories(
    moto: MotoAws,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
    worker: Worker,
) -> None:
    day = clock.now().date() - timedelta(days=1)
    start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
    other = "EC2 - Other"  # where Cost Explorer puts NAT gateways and EC2's data transfer
    usage = ce_answer(
        [
            ce_day(
                start,
                end,
                [
                    ce_group(
                        ["Amazon Elastic Compute Cloud - Compute", "BoxUsage:m5.large"],
                        "2.304",
                        "2.304",
                        "24",
                        "Hrs",
                    ),
                    ce_group([other, "USE1-NatGateway-Hours"], "1.08", "1.08", "24", "Hrs"),
                    ce_group([other, "USE1-DataTransfer-Out-Bytes"], "0.90", "0.90", "10", "GB"),
                    ce_group(
                        ["Amazon Virtual Private Cloud", "USE1-PublicIPv4:InUseAddress"],
                        "0.12",
                        "0.12",
                        "24",
                        "Hrs",
                    ),
                ],
            )
        ]
    )
    accounts = ce_answer(
        [ce_day(start, end, [ce_group([moto.account_id, "us-east-1"], "4.404", "4.404")])]
    )
    moto.queue_ce_results([accounts, usage, ce_answer([])])
    account = await _aws_account(db, org, moto)
    run = await sync(client_for, admin, account, worker)
    assert run["state"] == "succeeded", run
    assert run["detail"]["apiCalls"] == {"ce:GetCostAndUsage": 3}

    client = client_for(admin)
    r = await client.get("/network/summary", params={"account_id": str(account.id)})
    assert r.status_code == 200, r.text
    assert _categories(r.json()) == {
        "nat_gateway": 1.08,
        "internet_egress": 0.9,
        "public_ipv4": 0.12,
    }
    r = await client.get("/commitments/analysis", params={"accountId": str(account.id)})
    [gap] = [g for g in r.json()["coverage_gaps"] if g["instance_family"]]
    assert (gap["instance_family"], gap["service"], gap["region"]) == (
        "m5",
        "Amazon Elastic Compute Cloud - Compute",
        "us-east-1",
    )
    assert gap["average_daily_on_demand_hours"] == 0.8  # CE's UsageQuantity in Hrs, over 30 days
