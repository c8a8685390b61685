"""Allocation rules in real Chromium: a fixed split that does not sum to 100 is refused in
words with the input kept, the preview shows what would move (nothing saved), saving lists the
rule; unit economics renders its chart; axe finds nothing."""

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.factories.unit_economics import add_metrics

from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User

pytestmark = pytest.mark.browser


async def test_create_a_rule_with_its_preview(
    browse, db: AsyncSession, org: Org, admin: User
) -> None:
    account = await make_account(db, org)
    last_month = clock.now().date().replace(day=1) - timedelta(days=1)
    await add_costs(
        db,
        account,
        [
            {"usage_date": last_month, "billed_cost": "80", "service_name": "AWS Support"},
            {"usage_date": last_month, "billed_cost": "5", "tags": {"team": "web"}},
        ],
    )
    page = await browse.page(admin)
    await page.goto("/allocation")
    await page.get_by_role("heading", name="Allocation rules").wait_for()
    await page.get_by_role("link", name="New rule").first.click()
    await page.get_by_role("heading", name="New allocation rule").wait_for()
    assert await browse.axe(page) == []

    await page.get_by_label("Name").fill("Support")
    await page.get_by_label("Service (exactly as billed)").fill("AWS Support")
    await page.get_by_label("Tag key whose values receive the cost").fill("team")
    await page.get_by_label("How it is split").select_option("fixed")
    await page.get_by_label("Percentages for a fixed split").fill("web=70\ndata=20")
    await page.get_by_role("button", name="Save rule").click()
    await page.get_by_role("alert").wait_for()
    assert "100" in await page.get_by_role("alert").inner_text()
    assert await page.get_by_label("Name").input_value() == "Support"

    await page.get_by_label("Percentages for a fixed split").fill("web=70\ndata=30")
    await page.get_by_role("button", name="Preview").click()
    await page.get_by_test_id("preview").wait_for()
    assert "$80.00" in await page.get_by_test_id("preview").inner_text()
    assert await browse.axe(page) == []
    await page.get_by_role("button", name="Save rule").click()
    await page.get_by_text("Rule “Support” created.").wait_for()
    await page.get_by_role("link", name="Support", exact=True).wait_for()
    assert await browse.axe(page) == []


async def test_unit_economics_chart(browse, db: AsyncSession, org: Org, member: User) -> None:
    account = await make_account(db, org)
    days = [clock.now().date() - timedelta(days=d) for d in (3, 2)]
    await add_costs(db, account, [{"usage_date": d, "billed_cost": "30"} for d in days])
    await add_metrics(db, org, {days[0].isoformat(): 10, days[1].isoformat(): 20})
    page = await browse.page(member, width=390, height=844)
    await page.goto("/unit-economics")
    await page.get_by_label("Metric", exact=True).select_option("Active Customers")
    await page.get_by_role("button", name="Show").click()
    await page.get_by_test_id("cost-per-unit").wait_for()
    assert await page.get_by_test_id("cost-per-unit").inner_text() == "2 USD"
    await page.locator("#chart-unit").wait_for()
    assert await browse.axe(page) == []
