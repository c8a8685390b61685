"""Reports in the console: the report of a period as sections and figures, its PDF download
(streamed back as an attachment), the rate limit's 429 in words, scheduled reports and daily
digests created, edited and deleted through their forms, and the role rules."""

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs

from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def _costs(db: AsyncSession, org: Org) -> None:
    account = await make_account(db, org, name="Production")
    today = clock.now().date()
    await add_costs(
        db,
        account,
        [
            {"usage_date": today - timedelta(days=d), "billed_cost": "10.25",
             "service_name": "Amazon Elastic Compute Cloud"}
            for d in range(1, 20)
        ],
    )  # fmt: skip


@pytest.mark.browser
async def test_report_sections_and_its_pdf_download(
    browse, db: AsyncSession, org: Org, member: User
) -> None:
    await _costs(db, org)
    page = await browse.page(member)
    await page.goto("/reports")
    assert await page.get_by_role("heading", name="Cost report").is_visible()
    assert "Amazon Elastic Compute Cloud" in await page.content()
    assert await page.get_by_label("Cloud account", exact=True).is_visible()
    assert await browse.axe(page) == []
    href = await page.get_by_role("link", name="Download PDF").get_attribute("href")
    assert href is not None
    answer = await page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith('attachment; filename="xplorr-report-')
    assert (await answer.body()).startswith(b"%PDF")
    # The phone width works too.
    small = await browse.page(member, width=390, height=800)
    await small.goto("/reports")
    assert await small.get_by_role("link", name="Download Excel").is_visible()


async def test_refused_report_and_download_are_said_in_words(console_for, member: User) -> None:
    # (Pages count as page views, 60 a minute; the PDF and Excel files in the API's own limit:
    # tests/console/test_limits.py; a 429 shows its Retry-After as any error does.)
    client = console_for(member)
    bad = await client.get("/reports", params={"startDate": "2024-13-01"})
    assert bad.status_code == 422
    assert "Not a calendar date" in bad.text
    assert 'value="2024-13-01"' in bad.text  # the input is kept
    pdf = await client.get("/reports/pdf", params={"startDate": "2024-13-01"})
    assert pdf.status_code == 422
    assert "Not a calendar date" in pdf.text
    assert '{"error"' not in pdf.text


async def test_scheduled_report_created_edited_and_deleted(
    console_for, admin: User, member: User
) -> None:
    client = console_for(admin)
    made = await client.submit(
        "/reports/scheduled",
        {"name": "Weekly to finance", "frequency": "weekly", "day_of_week": "2", "hour": "7",
         "timezone": "Europe/Paris", "recipients": member.email, "format": "excel",
         "is_active": "on"},
    )  # fmt: skip
    assert made.status_code == 303, made.text
    html = (await client.get("/reports/scheduled")).text
    assert "Weekly to finance" in html
    assert "Weekly on Wednesday at 07:00 Europe/Paris" in html
    report_id = html.split('href="/reports/scheduled/', 1)[1].split('"', 1)[0]
    edited = await client.submit(
        f"/reports/scheduled/{report_id}",
        {"name": "Monthly to finance", "frequency": "monthly", "day_of_month": "3",
         "hour": "9", "timezone": "UTC", "recipients": member.email, "format": "pdf"},
    )  # fmt: skip
    assert edited.status_code == 303, edited.text
    html = (await client.get("/reports/scheduled")).text
    assert "Monthly on day 3 at 09:00 UTC" in html
    assert "paused" in html
    # An error keeps the input and names the field.
    bad = await client.submit(
        "/reports/scheduled",
        {"name": "Bad", "frequency": "daily", "hour": "8", "timezone": "Mars/Olympus",
         "recipients": "x@example.com"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert 'value="Mars/Olympus"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    gone = await client.submit(f"/reports/scheduled/{report_id}/delete")
    assert gone.status_code == 303
    assert "No scheduled report yet" in (await client.get("/reports/scheduled")).text


async def test_viewer_sees_schedules_without_buttons_and_is_refused(
    console_for, viewer: User
) -> None:
    client = console_for(viewer)
    html = (await client.get("/reports/scheduled")).text
    assert "New scheduled report" not in html
    refused = await client.submit(
        "/reports/scheduled",
        {"name": "x", "frequency": "daily", "recipients": viewer.email, "hour": "8"},
    )
    assert refused.status_code == 403
    assert "owner or admin" in refused.text
    assert 'href="/digests"' not in html  # the digests are an admin's
    assert (await client.get("/digests")).status_code == 403


@pytest.mark.browser
async def test_digest_created_in_the_browser(browse, admin: User, member: User) -> None:
    page = await browse.page(admin)
    await page.goto("/digests")
    await page.get_by_role("button", name="Create").click()
    assert "Give recipients or a channelId" in await page.get_by_role("alert").inner_text()
    await page.get_by_label("Recipients").fill(member.email)
    await page.get_by_label("Hour (0-23)").fill("7")
    await page.get_by_label("Minute (0-59)").fill("30")
    await page.get_by_role("button", name="Create").click()
    await page.wait_for_url("**/digests")
    assert "Daily digest created." in await page.locator(".notice").inner_text()
    assert "07:30" in await page.locator("table").inner_text()
    assert await browse.axe(page) == []
    await page.get_by_role("link", name=member.email).click()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete this digest").click()
    await page.wait_for_url("**/digests")
    assert "No daily digest yet" in await page.content()
