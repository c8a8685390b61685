"""The costs pages in real Chromium: the explorer driven through its form (group by, a filter,
a tag picked by key then value, a drill-down click), the URL holding the state, the chart
painted, the table's total equal to the API's, axe clean, usable at phone width; a budget made
through its form and listed with its bar; an anomaly acknowledged."""

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tests.console.test_anomalies_pages import spike
from tests.console.test_costs_pages import END, START, seed

from xplorr.console import format as fmt
from xplorr.orgs.models import Org
from xplorr.users.models import User

pytestmark = pytest.mark.browser

PAINTED = (
    "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
    " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"
)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def test_explorer_form_filters_chart_totals_and_phone(
    browse, client_for, db: AsyncSession, org: Org, member: User
) -> None:
    await seed(db, org, eur=False)
    api = client_for(member)
    page = await browse.page(member)
    await page.goto(f"/costs?startDate={START}&endDate={END}")
    await page.get_by_role("heading", name="Cost explorer").wait_for()

    # Group by region, then by service, through the form.
    await page.get_by_label("Group by").select_option("region")
    await page.get_by_label("Then by").select_option("service")
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_url("**groupBy=region**")
    q = query_of(page.url)
    assert q["groupBy"] == ["region"]
    assert q["thenBy"] == ["service"]
    assert q["startDate"] == [START]

    # Add a service filter from the picker (fed by /costs/dimensions).
    await page.get_by_label("Add a service", exact=True).select_option(
        "Amazon Elastic Compute Cloud"
    )
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_url("**service=Amazon+Elastic+Compute+Cloud**")
    await page.get_by_role(
        "link", name="Remove filter Service Amazon Elastic Compute Cloud"
    ).wait_for()

    # A tag: the key's change loads its values, then the pair becomes a filter.
    await page.get_by_label("Tag key").select_option("env")
    await page.get_by_label("Value of env").select_option("prod")
    await page.get_by_role("button", name="Add tag filter").click()
    await page.wait_for_url("**tag=env%3Aprod**")
    q = query_of(page.url)
    assert q["tag"] == ["env:prod"]
    assert q["service"] == ["Amazon Elastic Compute Cloud"]
    assert q["groupBy"] == ["region"]

    # The total cell is the API's totalCost for the same query.
    params = {k: v for k, v in q.items() if k not in ("thenBy",)}
    answer = (await api.get("/costs", params={**params, "currency": "USD"})).json()
    total = await page.get_by_test_id("total-USD").inner_text()
    assert total == fmt.money(answer["totalCost"], "USD") == "$100.05"
    assert await page.eval_on_selector("#chart-costs", PAINTED) > 1000
    assert await browse.axe(page) == []

    # Drill down: the region's row becomes a region filter, one level deeper.
    await page.get_by_role("link", name="us-east-1").first.click()
    await page.wait_for_url("**region=us-east-1**")
    q = query_of(page.url)
    assert q["region"] == ["us-east-1"]
    assert q["groupBy"] == ["service"]

    # The shared URL opens the same view; the CSV link carries the same state.
    csv_href = await page.get_by_role("link", name="Download CSV").get_attribute("href")
    assert "region=us-east-1" in csv_href
    assert "tag=env%3Aprod" in csv_href

    # Phone width: nothing wider than the screen, the chart still drawn.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(page.url)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert await page.eval_on_selector("#chart-costs", PAINTED) > 500
    assert await browse.axe(page) == []


async def test_budget_created_through_the_form_and_listed_with_its_bar(
    browse, member: User
) -> None:
    page = await browse.page(member)
    await page.goto("/budgets")
    await page.get_by_role("link", name="New budget").first.click()
    await page.get_by_label("Name", exact=True).fill("Platform")
    await page.get_by_label("Amount", exact=True).fill("abc")
    await page.get_by_role("button", name="Create budget").click()
    await page.get_by_role("alert").wait_for()
    assert await page.get_by_label("Name", exact=True).input_value() == "Platform"
    assert await browse.axe(page) == []
    await page.get_by_label("Amount", exact=True).fill("2500")
    await page.get_by_label("Period").select_option("quarterly")
    await page.get_by_role("button", name="Create budget").click()
    await page.get_by_text("Budget Platform created.").wait_for()
    assert page.url.endswith("/budgets")
    meter = page.get_by_role("meter", name="Share of Platform used")
    await meter.wait_for()
    assert await meter.is_visible()
    await page.get_by_role("link", name="Platform").click()
    await page.get_by_role("heading", name="Platform").wait_for()
    assert await browse.axe(page) == []


async def test_anomaly_acknowledged(browse, db: AsyncSession, org: Org, member: User) -> None:
    a = await spike(db, org)
    page = await browse.page(member)
    await page.goto("/anomalies?status=open")
    await page.get_by_role("link", name="AmazonEC2").click()
    await page.get_by_role("heading", name="Spike on 20 Nov 2026: AmazonEC2").wait_for()
    assert str(a.id) in page.url
    assert await browse.axe(page) == []
    await page.get_by_role("button", name="Acknowledge").click()
    await page.get_by_text("Anomaly acknowledged.").wait_for()
    assert (await page.get_by_test_id("status").inner_text()).startswith("acknowledged")
    await page.get_by_role("link", name="See these costs in the explorer").click()
    await page.wait_for_url("**/costs?**")
    assert query_of(page.url)["endDate"] == [date(2026, 11, 20).isoformat()]
