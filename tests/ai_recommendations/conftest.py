"""An organization with two 30-day windows of costs (a mover), an open anomaly, on-demand
compute no commitment covers, and an account name and resource id that must never reach an
LLM."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.anomalies import make_anomaly
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs, mark_imported
from tests.factories.recommendations import make_recommendation
from xplorr.anomalies.models import Severity
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.recommendations.models import RecommendationStatus

SECRET_NAME = "acme-payroll-prod-account"
RESOURCE = "arn:aws:ec2:us-east-1:123456789012:instance/i-0secret"
Dismissed = RecommendationStatus.DISMISSED


@pytest.fixture
async def spend(db: AsyncSession, org: Org) -> dict[str, Any]:
    end = clock.now().date() - timedelta(days=1)
    aws = await make_account(db, org, provider=Provider.AWS, name=SECRET_NAME)
    gcp = await make_account(db, org, provider=Provider.GCP, name="data")
    rows = []
    for i in range(60):
        day = end - timedelta(days=i)
        recent = i < 30
        rows.append(
            {
                "usage_date": day,
                "billed_cost": "10",
                "service_name": "AmazonEC2",
                "resource_id": RESOURCE,
                "pricing_category": "Standard",
                "usage_type": "USE1-BoxUsage:m5.large",
            }
        )
        rows.append(
            {
                "usage_date": day,
                "billed_cost": "4" if recent else "2",
                "service_name": "AmazonS3",
                "service_category": "Storage",
            }
        )
    await add_costs(db, aws, rows)
    await add_costs(
        db,
        gcp,
        [{"usage_date": end, "billed_cost": "1", "provider": "gcp", "service_name": "BigQuery"}],
    )
    await mark_imported(db, aws)
    await mark_imported(db, gcp)
    await make_anomaly(
        db,
        org,
        account=aws,
        service="AmazonS3",
        day=end,
        actual="40",
        baseline="4",
        severity=Severity.HIGH,
    )
    # Two open idle-instance recommendations, a dismissed one and one in euros.
    await make_recommendation(db, aws, savings="70.08", resource_id="i-0idle1")
    await make_recommendation(db, aws, savings="29.92", resource_id="i-0idle2")
    await make_recommendation(
        db, aws, savings="500", type="gp2_to_gp3", category="modernize", status=Dismissed
    )
    await make_recommendation(db, aws, savings="10", type="unattached_ebs", currency="EUR")
    return {"aws": aws, "gcp": gcp, "end": end}
