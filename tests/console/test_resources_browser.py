"""Inventory and Kubernetes in real Chromium: filter the inventory with the API's values and
download the export of the same filters; register a cluster and see its ingest token once;
axe finds nothing."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.inventory import make_resource

from xplorr.cloud_accounts.models import Provider
from xplorr.orgs.models import Org
from xplorr.users.models import User

pytestmark = pytest.mark.browser


async def test_inventory_filter_and_export_of_the_same_filters(
    browse, db: AsyncSession, org: Org, viewer: User
) -> None:
    account = await make_account(db, org, provider=Provider.AWS, name="prod")
    await make_resource(db, account, "i-web", name="web", tags={"team": "web"})
    await make_resource(
        db, account, "vol-data", name="data", resource_type="Disk", status="Available"
    )
    page = await browse.page(viewer)
    await page.goto("/inventory")
    await page.get_by_role("heading", name="2 resources").wait_for()
    assert await browse.axe(page) == []

    await page.get_by_label("Type").select_option("Disk")
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_role("heading", name="1 resource").wait_for()
    assert await page.get_by_role("cell", name="Available").count() == 1
    link = page.get_by_test_id("export")
    href = await link.get_attribute("href")
    assert href == "/inventory/export?type=Disk"
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename.startswith("xplorr-inventory-")
    csv = await page.request.get(href)
    assert csv.status == 200
    body = await csv.text()
    assert "vol-data" in body
    assert "i-web" not in body

    await page.set_viewport_size({"width": 390, "height": 844})
    assert await browse.axe(page) == []


async def test_register_a_cluster_token_shown_once(
    browse, db: AsyncSession, org: Org, admin: User
) -> None:
    page = await browse.page(admin)
    await page.goto("/kubernetes")
    await page.get_by_role("heading", name="Kubernetes clusters").wait_for()
    assert await browse.axe(page) == []
    await page.get_by_label("Cluster name").fill("prod-eks")
    await page.get_by_role("button", name="Register").click()
    token = await page.get_by_test_id("ingest-token").inner_text()
    assert token.startswith("xpk8s_")
    assert "shown once" in await page.get_by_test_id("token-panel").inner_text()
    assert await browse.axe(page) == []

    # Registering the same name again: the API's refusal, in words, the input kept.
    await page.get_by_label("Cluster name").fill("prod-eks")
    await page.get_by_role("button", name="Register").click()
    await page.get_by_role("alert").wait_for()
    assert await page.get_by_label("Cluster name").input_value() == "prod-eks"

    await page.goto("/kubernetes")
    await page.get_by_role("link", name="prod-eks").wait_for()
    assert token not in await page.content()
    await page.get_by_role("link", name="prod-eks").click()
    await page.get_by_role("heading", name="Rightsizing").wait_for()
    assert await browse.axe(page) == []
