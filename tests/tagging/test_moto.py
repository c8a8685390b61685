"""Violations of resources created in moto's server, the issue's test: an AWS account billed
through Cost Explorer (its cost rows name no resource), EC2 instances and S3 buckets with and
without the required ``team`` tag, a sync (Cost Explorer through moto, then the inventory
refresh the import queues, through the real collector and boto3): /violations lists exactly
the resources without an allowed ``team`` tag, read from the live inventory, cost null."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.aws.billing_data import ce_answer, ce_day, ce_group
from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.factories.tagging import make_policy
from tests.inventory.test_aws import ACCOUNT, AMI, ROLE, Account
from tests.mail import run_jobs
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.tagging.models import AppliesTo
from xplorr.users.models import User


def _instance(ec2: Any, tags: dict[str, str]) -> str:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    answer = ec2.run_instances(
        ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1, TagSpecifications=spec
    )
    return str(answer["Instances"][0]["InstanceId"])


def _cost_explorer_answers() -> list[dict]:
    """Linked accounts, usage by service and region, other charges: no resource anywhere."""
    yesterday = clock.now().date() - timedelta(days=1)
    day, end = yesterday.isoformat(), (yesterday + timedelta(days=1)).isoformat()
    usage = [
        ce_group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "41.20", "41.20"),
        ce_group(["Amazon Simple Storage Service", "us-east-1"], "0.35", "0.35"),
    ]
    return [
        ce_answer([ce_day(day, end, [ce_group([ACCOUNT], "0", "0")])]),
        ce_answer([ce_day(day, end, usage)]),
        ce_answer([]),
    ]


@pytest.mark.slow
async def test_violations_of_resources_created_in_moto(
    moto: MotoAws,
    settings: Settings,
    db: AsyncSession,
    org: Org,
    admin: User,
    viewer: User,
    client_for: ClientFor,
) -> None:
    aws = Account(moto)
    ec2 = aws.client("ec2", "us-east-1")
    _instance(ec2, {"team": "api", "Name": "api-1"})
    untagged = _instance(ec2, {"Name": "batch"})
    wrong_case = _instance(ec2, {"Team": "api"})  # AWS keys are case-sensitive
    ec2.create_volume(Size=10, AvailabilityZone="us-east-1a")  # no policy reaches a disk
    s3 = aws.client("s3", "us-east-1")
    s3.create_bucket(Bucket="data-tagged")
    s3.put_bucket_tagging(
        Bucket="data-tagged", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]}
    )
    s3.create_bucket(Bucket="logs-untagged")
    moto.queue_ce_results(_cost_explorer_answers(), account_id=ACCOUNT)
    account = await make_account(
        db, org, provider=Provider.AWS, provider_account_id=ACCOUNT, credentials=ROLE
    )
    await make_policy(
        db, org, tag_key="team", allowed_values=["api", "data"], applies_to=AppliesTo.EC2
    )
    await make_policy(db, org, tag_key="team", applies_to=AppliesTo.S3)

    r = await client_for(admin).post(f"/sync/{account.id}")
    assert r.status_code == 202, r.text
    await run_jobs(settings)  # the sync, then the inventory refresh its import queues
    runs = (await client_for(admin).get("/sync/jobs")).json()["data"]
    run = next(j for j in runs if j["id"] == r.json()["id"])
    assert run["state"] == "succeeded", run
    assert run["detail"]["totals"] == {"USD": "41.55"}

    body = (await client_for(viewer).get("/tagging-policies/violations")).json()
    # Exactly the resources without an allowed ``team``: the volume, the default VPC's subnets
    # and security group are in the inventory too, but neither policy reaches them.
    assert sorted(
        (v["resource"]["id"], v["resource"]["type"], v["policy"]["applies_to"], v["kind"])
        for v in body["data"]
    ) == sorted(
        [
            (untagged, "Virtual Machine", "ec2", "missing"),
            (wrong_case, "Virtual Machine", "ec2", "missing"),
            ("logs-untagged", "Object Storage Bucket", "s3", "missing"),
        ]
    )
    batch = next(v for v in body["data"] if v["resource"]["id"] == untagged)
    assert batch["resource"] | {"account_id": None} == {
        "id": untagged,
        "name": "batch",
        "type": "Virtual Machine",
        "provider": "aws",
        "service": "Amazon EC2",
        "account_id": None,
        "account_name": account.name,
        "region": "us-east-1",
    }
    # Cost Explorer bills by service: no resource has a cost of its own, none is in a share of
    # spend, each policy counts what it checked.
    assert {(v["cost"], v["currency"]) for v in body["data"]} == {(None, None)}
    assert body["policies"] == []
    assert [
        (p["applies_to"], p["resources"], p["violating_resources"]) for p in body["without_cost"]
    ] == [("ec2", 3, 2), ("s3", 2, 1)]
