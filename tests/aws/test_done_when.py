"""Issue 15's "Done when", end to end through the API: a user connects an AWS account by an
IAM role with an external id (``POST /cloud-accounts``), syncs it (``POST /sync/{id}``, the
real job worker reading a CUR 2.0 export from the account's S3 in moto's server), then sees its
bill to the cent (``GET /costs``), its resources with tags and CPU utilisation read from EC2
and CloudWatch (``GET /inventory``), and its network spend by category (``GET
/network/summary``)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.aws.billing_data import csv_gz, cur_line
from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from tests.inventory.test_aws import ACCOUNT, AMI, Account
from tests.mail import drain
from xplorr.core import clock
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.users.models import User

BUCKET = "acme-billing"
EC2 = json.dumps({"product_name": "Amazon Elastic Compute Cloud"})


def _exact(response: httpx.Response) -> Any:
    """The body with its numbers as Decimal: amounts compared to the cent, not as floats."""
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def _arrange(aws: Account) -> tuple[str, str]:
    """In the role's account: a tagged running instance with CPU datapoints, and a NAT gateway."""
    ec2 = aws.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")[
        "Subnet"
    ]["SubnetId"]
    web = ec2.run_instances(
        ImageId=AMI,
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}]}],
    )["Instances"][0]["InstanceId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    aws.client("cloudwatch", "us-east-1").put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": web}],
                "Timestamp": noon - timedelta(days=days),
                "Value": value,
                "Unit": "Percent",
            }
            for days, value in ((2, 10.0), (2, 30.0), (3, 4.0))
        ],
    )
    return web, f"arn:aws:ec2:us-east-1:{ACCOUNT}:natgateway/{nat}"


@pytest.mark.slow
async def test_connect_sync_then_bill_inventory_and_network_costs(
    moto: MotoAws,
    settings: Settings,
    engine: AsyncEngine,
    admin: User,
    client_for: ClientFor,
) -> None:
    aws = Account(moto)
    web, nat = _arrange(aws)
    yesterday = clock.now().date() - timedelta(days=1)
    period = yesterday.replace(day=1)

    def line(usage_type: str, cost: str, resource: str, unit: str = "Hrs") -> dict[str, str]:
        return cur_line(
            "Usage",
            cost,
            bill_payer_account_id=ACCOUNT,
            line_item_usage_account_id=ACCOUNT,
            bill_billing_period_start_date=f"{period}T00:00:00Z",
            line_item_usage_start_date=f"{yesterday}T00:00:00Z",
            line_item_usage_type=usage_type,
            line_item_resource_id=resource,
            pricing_unit=unit,
            product=EC2,
            resource_tags=json.dumps({"user_team": "web"}) if resource == web else "",
        )

    s3 = aws.client("s3", "us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"cur/acme/data/BILLING_PERIOD={period:%Y-%m}/acme-00001.csv.gz",
        Body=csv_gz(
            [
                line("BoxUsage:m5.large", "2.304", web),
                line("USE1-NatGateway-Hours", "1.08", nat),
                line("USE1-NatGateway-Bytes", "0.455", nat, "GB"),
                line("USE1-DataTransfer-Out-Bytes", "0.90", web, "GB"),
            ]
        ),
    )

    # Connect by role with an external id, as a user does.
    client = client_for(admin)
    r = await client.post(
        "/cloud-accounts",
        json={
            "provider": "aws",
            "name": "AWS prod",
            "provider_account_id": ACCOUNT,
            "credentials": {
                "roleName": "xplorr-readonly",
                "externalId": "xplorr-ext-1",
                "region": "us-east-1",
                "exportBucket": BUCKET,
                "exportPrefix": "cur",
            },
        },
    )
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]

    # Sync it (the connect already queued its first run: POST /sync answers with that one).
    r = await client.post(f"/sync/{account_id}")
    assert r.status_code == 202, r.text
    await drain(Worker(settings, engine))
    runs = _exact(await client.get("/sync/jobs"))["data"]
    [run] = [run for run in runs if run["id"] == r.json()["id"]]
    assert run["state"] == "succeeded", run
    assert run["detail"]["periodsImported"] == [f"{period:%Y-%m}"], run

    # (a) The bill to the cent: 2.304 + 1.08 + 0.455 + 0.90 = 4.739 USD.
    day = yesterday.isoformat()
    costs = _exact(
        await client.get(
            "/costs",
            params={"accountId": account_id, "startDate": day, "endDate": day, "groupBy": "region"},
        )
    )
    assert (costs["totalCost"], costs["currency"]) == (Decimal("4.74"), "USD")
    assert [(g["name"], g["cost"]) for g in costs["data"]] == [("us-east-1", Decimal("4.74"))]

    # (b) Resources from the AWS APIs, with their tags, CPU and the bill's cost.
    async def listed(kind: str) -> dict[str, Any]:
        params = {"accountId": account_id, "type": kind}
        page = _exact(await client.get("/inventory", params=params))
        return {item["resource_id"]: item for item in page["data"]}

    found = await listed("Virtual Machine")
    instance = found[web]
    assert (instance["type"], instance["status"], instance["source"]) == (
        "Virtual Machine",
        "Running",
        "api",
    )
    assert instance["tags"] == {"team": "web"}
    two, three = ((datetime.now(UTC) - timedelta(days=n)).date().isoformat() for n in (2, 3))
    assert {
        d["date"]: (d["average"], d["maximum"]) for d in instance["attributes"]["cpu_daily"]
    } == {two: (Decimal("20.0"), Decimal("30.0")), three: (Decimal("4.0"), Decimal("4.0"))}
    assert instance["cost_30d"] == Decimal("3.20")  # 2.304 + 0.90, rounded once
    assert nat.rsplit("/", 1)[1] in await listed("NAT Gateway")

    # (c) Network spend by category, to the cent; the instance's hours are not network spend.
    network = _exact(await client.get("/network/summary", params={"account_id": account_id}))
    assert {c["category"]: c["cost"] for c in network["categories"] if c["cost"]} == {
        "nat_gateway": Decimal("1.54"),  # 1.08 hours + 0.455 processed
        "internet_egress": Decimal("0.90"),
    }
    assert network["total_cost"] == Decimal("2.44")
    assert [(n["resource_id"], n["cost"]) for n in network["nat_gateways"]] == [
        (nat, Decimal("1.54"))
    ]
