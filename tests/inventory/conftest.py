"""An org with an AWS and a GCP account and a few resources (one deleted), costs for some of
them in the last 30 days, and another org's account and resource that must never show."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.factories.inventory import make_resource
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import clock
from xplorr.orgs.models import Org

NAT_ARN = "arn:aws:ec2:us-east-1:123456789012:natgateway/nat-0abc"


@dataclass(frozen=True)
class Inv:
    aws: CloudAccount
    gcp: CloudAccount
    foreign: CloudAccount


@pytest.fixture
async def inv(db: AsyncSession, org: Org, other_org: Org) -> Inv:
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    gcp = await make_account(db, org, provider=Provider.GCP, name="data")
    foreign = await make_account(db, other_org, provider=Provider.AWS, name="theirs")
    await make_resource(db, aws, "i-web1", name="web-1", tags={"env": "prod"})
    await make_resource(
        db,
        aws,
        "i-batch",
        name="batch 100%_done",
        status="Stopped",
        region="eu-west-1",
    )
    await make_resource(
        db,
        aws,
        "vol-1",
        service="Amazon EBS",
        resource_type="Disk",
        name='=HYPERLINK("http://evil")',
        status="Available",
        attributes={"size_gib": 100, "attached": False},
    )
    await make_resource(
        db,
        aws,
        "nat-0abc",
        service="Amazon VPC",
        resource_type="NAT Gateway",
        name="nat-a",
        status="Available",
        attributes={"arn": NAT_ARN, "vpc_id": "vpc-1"},
    )
    await make_resource(db, aws, "i-gone", name="gone", status="Running", deleted_at=clock.now())
    await make_resource(
        db,
        gcp,
        "//compute.googleapis.com/projects/p/zones/us-central1-a/instances/vm1",
        provider="gcp",
        region="us-central1",
        service="Compute Engine",
        resource_type="Virtual Machine",
        name="vm1",
    )
    await make_resource(db, foreign, "i-theirs", name="theirs")
    today = clock.now().date()
    await add_costs(
        db,
        aws,
        [
            {
                "usage_date": today - timedelta(days=1),
                "billed_cost": "10.005",
                "resource_id": "i-web1",
            },
            {"usage_date": today - timedelta(days=2), "billed_cost": "2", "resource_id": "i-web1"},
            # older than 30 days: not in cost_30d
            {
                "usage_date": today - timedelta(days=40),
                "billed_cost": "99",
                "resource_id": "i-web1",
            },
            {
                "usage_date": today - timedelta(days=3),
                "billed_cost": "1.5",
                "resource_id": NAT_ARN,
                "service_name": "Amazon Virtual Private Cloud",
                "service_category": "Networking",
                "resource_type": "NAT Gateway",
                "usage_type": "USE1-NatGateway-Hours",
            },
        ],
    )
    await add_costs(
        db,
        foreign,
        [{"usage_date": today - timedelta(days=1), "billed_cost": "5", "resource_id": "i-web1"}],
    )
    return Inv(aws, gcp, foreign)
