"""The other savings and resources pages in real Chromium, with data, checked by axe at desktop
width: an admin approves a request through the approvals inbox; commitments with a chart and an
expiring commitment; network costs with NAT and egress; a tagging policy created through the
form with its violation listed."""

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.commitments import make_commitment
from tests.factories.costs import add_costs
from tests.factories.inventory import make_resource
from tests.factories.recommendations import make_approval, make_recommendation

from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User

pytestmark = pytest.mark.browser


async def test_approvals_commitments_network_and_tagging(
    browse, db: AsyncSession, org: Org, admin: User, member: User
) -> None:
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    rec = await make_recommendation(db, aws, savings="900")
    await make_approval(db, rec, member)
    await make_commitment(db, aws, "ri-soon", expires_in_days=20)
    await make_resource(db, aws, "i-untagged", name="untagged-box")
    today = clock.now().date()
    await add_costs(
        db,
        aws,
        [
            *(
                {
                    "usage_date": today - timedelta(days=d),
                    "billed_cost": "10",
                    "pricing_category": "Standard",
                    "usage_type": "USE1-BoxUsage:m5.large",
                }
                for d in range(1, 8)
            ),
            {
                "usage_date": today - timedelta(days=1),
                "billed_cost": "4.50",
                "usage_type": "USE1-DataTransfer-Out-Bytes",
                "resource_id": "i-untagged",
            },
            {
                "usage_date": today - timedelta(days=2),
                "billed_cost": "1.08",
                "usage_type": "USE1-NatGateway-Hours",
                "service_name": "Amazon Virtual Private Cloud",
                "resource_id": "arn:aws:ec2:us-east-1:1:natgateway/nat-1",
            },
        ],
    )
    page = await browse.page(admin)

    await page.goto("/approvals")
    await page.get_by_role("link", name=rec.title).click()
    await page.get_by_role("heading", name=f"Approval: {rec.title}").wait_for()
    assert await browse.axe(page) == []
    await page.get_by_label("Comment").fill("Worth it")
    await page.get_by_role("button", name="Approve").click()
    await page.get_by_text("Approved: the recommendation is now in progress.").wait_for()
    assert "approved" in await page.get_by_test_id("approval-status").inner_text()

    await page.goto("/commitments")
    await page.get_by_role("heading", name="Your commitments").wait_for()
    assert await page.get_by_text("expiring").count() >= 1
    assert await browse.axe(page) == []

    await page.goto("/network")
    assert await page.get_by_test_id("network-total").inner_text() == "$5.58"
    await page.get_by_role("heading", name="NAT gateways").wait_for()
    assert await browse.axe(page) == []

    await page.goto("/tagging")
    await page.get_by_label("Tag key").fill("team")
    await page.get_by_role("button", name="Create policy").click()
    await page.get_by_text("Policy for the tag team created.").wait_for()
    await page.get_by_role("cell", name="tag missing").first.wait_for()
    assert await browse.axe(page) == []
