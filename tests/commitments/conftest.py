"""The commitments area's organization: AWS on-demand usage (m5 every day of the last 30,
db.r6g every other day), a reservation and a savings plan in the bill, spot, storage, a
purchase, euros, a GCP account and another org's account; three owned commitments (ri-1
expiring in 20 days)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.commitments import make_commitment
from tests.factories.costs import add_costs
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.orgs.models import Org

RI_ARN = "arn:aws:ec2:us-east-1:123456789012:reserved-instances/ri-1"
SP_ARN = "arn:aws:savingsplans::123456789012:savingsplan/sp-1"
EC2 = {"service_name": "AmazonEC2", "service_category": "Compute", "region": "us-east-1"}


def usage(day: Any, effective: str, **kw: Any) -> dict[str, Any]:
    return {
        "usage_date": day,
        "billed_cost": kw.pop("billed", effective),
        "effective_cost": effective,
        "list_cost": kw.pop("list_cost", effective),
        **EC2,
        **kw,
    }


@pytest.fixture
async def data(db: AsyncSession, org: Org, other_org: Org) -> dict[str, Any]:
    today = clock.now().date()
    d1 = today - timedelta(days=1)
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    gcp = await make_account(db, org, provider=Provider.GCP, name="data")
    foreign = await make_account(db, other_org, provider=Provider.AWS)
    rows = [
        # m5 on demand every day of the last 30 (10 a day, 24 hours)
        *(
            usage(
                today - timedelta(days=i),
                "10",
                pricing_category="Standard",
                usage_type="USE1-BoxUsage:m5.large",
                consumed_unit="Hrs",
                consumed_quantity=Decimal(24),
            )
            for i in range(30)
        ),
        # db.r6g on demand every other day: 15 of 30
        *(
            usage(
                today - timedelta(days=i),
                "4",
                service_name="AmazonRDS",
                service_category="Databases",
                pricing_category="Standard",
                usage_type="USE1-InstanceUsage:db.r6g.large",
                consumed_unit="Hrs",
                consumed_quantity=Decimal(24),
            )
            for i in range(0, 30, 2)
        ),
        # an RI: 6 used (10 at list), 2 unused; a savings plan (no type, Spend): 7 (10 at list)
        usage(
            d1,
            "6",
            billed="0",
            list_cost="10",
            pricing_category="Committed",
            commitment_discount_id=RI_ARN,
            commitment_discount_type="Reserved Instance",
            commitment_discount_status="Used",
        ),
        usage(
            d1,
            "2",
            list_cost="0",
            pricing_category="Committed",
            commitment_discount_id=RI_ARN,
            commitment_discount_type="Reserved Instance",
            commitment_discount_status="Unused",
        ),
        usage(
            d1,
            "7",
            billed="0",
            list_cost="10",
            pricing_category="Committed",
            commitment_discount_id=SP_ARN,
            commitment_discount_category="Spend",
        ),
        usage(d1, "3", list_cost="10", pricing_category="Dynamic"),  # spot
        # on demand but not eligible for a commitment; a purchase (amortised: left out)
        usage(d1, "5", service_name="AmazonS3", service_category="Storage"),
        usage(d1, "50", charge_category="Purchase", commitment_discount_id=RI_ARN),
        usage(d1, "100", currency="EUR", pricing_category="Standard"),
    ]
    await add_costs(db, aws, rows)
    await add_costs(db, gcp, [usage(d1, "1", provider="gcp", pricing_category="Standard")])
    await add_costs(db, foreign, [usage(d1, "999", pricing_category="Standard")])
    await make_commitment(db, aws, "ri-1", expires_in_days=20, hourly_cost=Decimal("0.10"))
    await make_commitment(
        db,
        aws,
        SP_ARN,
        kind="savings_plan",
        service="savingsplans",
        expires_in_days=400,
        hourly_cost=Decimal(1),
    )
    await make_commitment(db, aws, "ri-unbilled", expires_in_days=None)
    return {"aws": aws, "gcp": gcp, "foreign": foreign, "d1": d1, "today": today}
