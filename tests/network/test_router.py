"""/network/summary: categories from real AWS usage types and FOCUS names, daily series, top
resources joined to the inventory (names, VPCs), NAT gateways and load balancers, currencies
kept apart, grants and tenancy, validation."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from tests.factories.inventory import make_resource
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User

NAT_ARN = "arn:aws:ec2:us-east-1:123456789012:natgateway/nat-0abc"
ALB_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
)


@pytest.fixture
async def net(db: AsyncSession, org: Org, other_org: Org) -> dict:
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    gcp = await make_account(db, org, provider=Provider.GCP, name="data")
    foreign = await make_account(db, other_org, provider=Provider.AWS)
    await make_resource(
        db,
        aws,
        "nat-0abc",
        service="Amazon VPC",
        resource_type="NAT Gateway",
        name="nat-a",
        attributes={"arn": NAT_ARN, "vpc_id": "vpc-1"},
    )
    await make_resource(
        db,
        aws,
        ALB_ARN,
        service="Elastic Load Balancing",
        resource_type="Load Balancer",
        name="web",
        attributes={"vpc_id": "vpc-1"},
    )
    today = clock.now().date()
    d1, d2 = today - timedelta(days=1), today - timedelta(days=2)
    ec2 = {"service_name": "Amazon Elastic Compute Cloud", "service_category": "Compute"}
    vpc = {"service_name": "Amazon Virtual Private Cloud", "service_category": "Networking"}
    elb = {"service_name": "Elastic Load Balancing", "service_category": "Networking"}
    await add_costs(
        db,
        aws,
        [
            {
                "usage_date": d1,
                "billed_cost": "4.50",
                "usage_type": "USE1-DataTransfer-Out-Bytes",
                "resource_id": "i-web1",
                **ec2,
            },
            {
                "usage_date": d2,
                "billed_cost": "0.505",
                "usage_type": "USE1-USW2-AWS-Out-Bytes",
                "resource_id": "i-web1",
                **ec2,
            },
            {
                "usage_date": d1,
                "billed_cost": "0.25",
                "usage_type": "USE1-DataTransfer-Regional-Bytes",
                "resource_id": "i-web1",
                **ec2,
            },
            {
                "usage_date": d1,
                "billed_cost": "1.08",
                "usage_type": "USE1-NatGateway-Hours",
                "resource_id": NAT_ARN,
                **vpc,
            },
            {
                "usage_date": d1,
                "billed_cost": "2.00",
                "usage_type": "USE1-NatGateway-Bytes",
                "resource_id": NAT_ARN,
                **vpc,
            },
            {
                "usage_date": d2,
                "billed_cost": "0.54",
                "usage_type": "USE1-LoadBalancerUsage",
                "resource_id": ALB_ARN,
                **elb,
            },
            {
                "usage_date": d1,
                "billed_cost": "0.12",
                "usage_type": "USE1-PublicIPv4:InUseAddress",
                "resource_id": "eipalloc-1",
                **vpc,
            },
            # compute, not network; and too old
            {
                "usage_date": d1,
                "billed_cost": "50",
                "usage_type": "USE1-BoxUsage:m5.large",
                "resource_id": "i-web1",
                **ec2,
            },
            {
                "usage_date": today - timedelta(days=45),
                "billed_cost": "70",
                "usage_type": "USE1-DataTransfer-Out-Bytes",
                "resource_id": "i-web1",
                **ec2,
            },
            # another currency: listed apart
            {
                "usage_date": d1,
                "billed_cost": "3",
                "currency": "EUR",
                "usage_type": "USE1-DataTransfer-Out-Bytes",
                **ec2,
            },
        ],
    )
    await add_costs(
        db,
        gcp,
        [
            {
                "usage_date": d1,
                "billed_cost": "1.00",
                "provider": "gcp",
                "service_name": "Networking",
                "service_category": "Networking",
                "sku_id": "Network Inter Zone Egress",
                "region": "us-central1",
            },
        ],
    )
    await add_costs(
        db,
        foreign,
        [{"usage_date": d1, "billed_cost": "999", "usage_type": "USE1-NatGateway-Hours", **vpc}],
    )
    return {"aws": aws, "gcp": gcp, "foreign": foreign, "d1": d1, "d2": d2}


def cats(body: dict) -> dict[str, float]:
    return {c["category"]: c["cost"] for c in body["categories"] if c["cost"]}


class TestSummary:
    async def test_categories_series_and_resources(
        self, client_for: ClientFor, admin: User, net: dict
    ) -> None:
        r = await client_for(admin).get("/network/summary")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["days"] == 30
        assert body["currency"] == "USD"
        assert cats(body) == {
            "internet_egress": 4.5,
            "inter_region": 0.51,
            "inter_az": 1.25,
            "nat_gateway": 3.08,
            "load_balancer": 0.54,
            "public_ipv4": 0.12,
        }
        assert body["total_cost"] == 10.0  # 9.995 exact, rounded half up
        assert body["currencies"] == [
            {"currency": "USD", "total_cost": 10.0},
            {"currency": "EUR", "total_cost": 3.0},
        ]
        assert len(body["categories"]) == 9
        assert {c["category"]: c["aws_only"] for c in body["categories"]}["inter_az"] is True
        assert len(body["daily"]) == 30
        by_day = {d["date"]: d for d in body["daily"]}
        day1 = by_day[net["d1"].isoformat()]
        assert day1["categories"] == {
            "inter_az": 1.25,
            "internet_egress": 4.5,
            "nat_gateway": 3.08,
            "public_ipv4": 0.12,
        }
        assert by_day[net["d2"].isoformat()]["cost"] == 1.05
        top = body["top_resources"]
        assert [(t["resource_id"], t["category"], t["cost"]) for t in top[:2]] == [
            ("i-web1", "internet_egress", 4.5),
            (NAT_ARN, "nat_gateway", 3.08),
        ]
        (nat,) = body["nat_gateways"]
        assert (nat["name"], nat["type"], nat["vpc_id"]) == ("nat-a", "NAT Gateway", "vpc-1")
        assert nat["inventory_id"] is not None
        (lb,) = body["load_balancers"]
        assert (lb["name"], lb["cost"]) == ("web", 0.54)
        assert body["vpcs"] == [{"vpc_id": "vpc-1", "cost": 3.62, "resources": 2}]
        assert body["notes"]

    async def test_account_and_days(self, client_for: ClientFor, admin: User, net: dict) -> None:
        client = client_for(admin)
        r = await client.get("/network/summary", params={"account_id": str(net["gcp"].id)})
        assert r.status_code == 200, r.text
        assert cats(r.json()) == {"inter_az": 1.0}
        r = await client.get("/network/summary", params={"days": 1})
        assert r.status_code == 200
        assert len(r.json()["daily"]) == 1
        assert r.json()["total_cost"] == 0

    async def test_member_limited_to_grants(
        self, db: AsyncSession, client_for: ClientFor, member: User, net: dict
    ) -> None:
        await grant(db, member, net["gcp"])
        r = await client_for(member).get("/network/summary")
        assert cats(r.json()) == {"inter_az": 1.0}
        r = await client_for(member).get(
            "/network/summary", params={"account_id": str(net["aws"].id)}
        )
        assert r.status_code == 404

    async def test_foreign_account_is_404(
        self, client_for: ClientFor, admin: User, net: dict
    ) -> None:
        for account in (net["foreign"].id, uuid.uuid4()):
            r = await client_for(admin).get("/network/summary", params={"account_id": str(account)})
            assert r.status_code == 404, r.text

    @pytest.mark.parametrize(
        "params", [{"days": 0}, {"days": 367}, {"days": "x"}, {"account_id": "nope"}]
    )
    async def test_bad_input_is_422(self, client_for: ClientFor, admin: User, params) -> None:
        r = await client_for(admin).get("/network/summary", params=params)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_no_data(self, client_for: ClientFor, admin: User) -> None:
        r = await client_for(admin).get("/network/summary")
        assert r.status_code == 200, r.text
        assert (r.json()["total_cost"], r.json()["currency"]) == (0, None)

    async def test_without_token_is_401(self, anon) -> None:
        assert (await anon.get("/network/summary")).status_code == 401
