"""Issue 22's "done when", in real Chromium over the demo that the README's first command loads:
a finance lead who has never seen the API signs in with the demo owner's password, reads last
month's spend in the explorer (its total the API's), opens a spike from the anomalies list and
follows it into the explorer, sets a budget and invites a colleague, with words on the page,
never JSON. (The emailed link and accepting it are the people flow's:
tests/console/test_auth_flow_browser.py.)"""

from datetime import date, timedelta

import pytest
from tests.console.test_costs_browser import query_of
from tests.sync.test_demo import one_day  # noqa: F401  (the fixture, used by name)

from xplorr.console import format as fmt
from xplorr.core import clock
from xplorr.core.settings import Settings
from xplorr.demo import load_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.usefixtures("one_day")
async def test_a_finance_lead_reads_last_month_drills_into_a_spike_budgets_and_invites(
    browse, settings: Settings, client_for
) -> None:
    await load_demo(settings)
    login = await client_for().post(
        "/auth/login",
        json={"email": settings.demo_email, "password": settings.demo_password.get_secret_value()},
    )
    api = client_for(token=login.json()["access_token"])

    # Sign in with the password the README gives for the demo.
    page = await browse.page()
    await page.goto("/")
    await page.wait_for_url("**/login**")
    await page.get_by_label("Email").fill(settings.demo_email)
    await page.get_by_label("Password").fill(settings.demo_password.get_secret_value())
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Overview").wait_for()
    assert await browse.axe(page) == []

    # Last month, by service: the table's total is the API's for the same month.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Explorer").click()
    await page.get_by_role("heading", name="Cost explorer").wait_for()
    await page.get_by_role("link", name="Last month").click()
    await page.wait_for_url("**range=lastmonth**")
    first_of_month = clock.now().date().replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    q = query_of(page.url)
    assert q.get("startDate", [last_month_end.replace(day=1).isoformat()]) == [
        last_month_end.replace(day=1).isoformat()
    ]
    answer = (
        await api.get(
            "/costs",
            params={
                "startDate": last_month_end.replace(day=1).isoformat(),
                "endDate": last_month_end.isoformat(),
                "groupBy": "service",
                "currency": "USD",
            },
        )
    ).json()
    assert answer["totalCost"] != "0"
    total = await page.get_by_test_id("total-USD").inner_text()
    assert total == fmt.money(answer["totalCost"], "USD")
    assert "{" not in await page.locator("main").inner_text()  # words, never JSON

    # A spike: the newest open anomaly, its root cause, then its costs in the explorer.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Anomalies").click()
    await page.get_by_role("heading", name="Anomalies").first.wait_for()
    await page.locator("main table tbody tr a").first.click()
    await page.get_by_role("heading", name="Spike on").first.wait_for()
    assert await browse.axe(page) == []
    await page.get_by_role("link", name="See these costs in the explorer").click()
    await page.wait_for_url("**/costs?**")
    spike_day = date.fromisoformat(query_of(page.url)["endDate"][0])
    assert spike_day <= clock.now().date()
    await page.get_by_role("heading", name="Cost explorer").wait_for()

    # A budget of its own beside the demo's.
    await page.goto("/budgets")
    await page.get_by_role("link", name="New budget").first.click()
    await page.get_by_label("Name", exact=True).fill("Finance watch")
    await page.get_by_label("Amount", exact=True).fill("12000")
    await page.get_by_role("button", name="Create budget").click()
    await page.get_by_text("Budget Finance watch created.").wait_for()
    await page.get_by_role("meter", name="Share of Finance watch used").wait_for()
    budgets = (await api.get("/budgets")).json()["data"]
    assert "Finance watch" in [b["name"] for b in budgets]

    # A colleague invited; the email links to the console's page for accepting.
    colleague = "controller@demo-finance.io"
    await page.goto("/team")
    await page.get_by_label("Email", exact=True).fill(colleague)
    await page.get_by_label("Role", exact=True).select_option("viewer")
    await page.get_by_role("button", name="Send the invitation").click()
    await page.get_by_text(f"Invitation sent to {colleague}.").wait_for()
    assert colleague in await page.locator("#pending-h + table").inner_text()
    invitations = (await api.get("/users/invitations/list")).json()["data"]
    assert [i["role"] for i in invitations if i["email"] == colleague] == ["viewer"]
