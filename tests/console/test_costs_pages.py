"""The cost explorer without a browser: the table's total is the API's totalCost, the chart
stacks the groups, nested groups, drill-down links, presets, tag picker, one table per
currency, the CSV with exact decimals, and the API's 422 in words next to the form."""

import csv
import io
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs

from xplorr.console import format as fmt
from xplorr.console.pages.costs import preset_range
from xplorr.orgs.models import Org
from xplorr.users.models import User

START, END = "2026-10-01", "2026-10-10"


async def seed(db: AsyncSession, org: Org, *, eur: bool = True) -> None:
    """Ten days of EC2 (two regions, tagged env) and S3 in USD, and one EUR row."""
    prod = await make_account(db, org, name="Production")
    rows = []
    for d in range(10):
        day = date(2026, 10, 1) + timedelta(days=d)
        rows += [
            {
                "usage_date": day,
                "billed_cost": "10.005",
                "service_name": "AmazonEC2",
                "region": "us-east-1",
                "resource_id": "i-1",
                "tags": {"env": "prod"},
            },
            {
                "usage_date": day,
                "billed_cost": "3.3333",
                "service_name": "AmazonEC2",
                "region": "eu-west-1",
                "resource_id": "i-2",
                "tags": {"env": "dev"},
            },
            {"usage_date": day, "billed_cost": "1.25", "service_name": "AmazonS3"},
        ]
    if eur:
        rows.append(
            {
                "usage_date": date(2026, 10, 5),
                "billed_cost": "7.5",
                "service_name": "AmazonS3",
                "currency": "EUR",
            }
        )
    await add_costs(db, prod, rows)


async def api_get(client: httpx.AsyncClient, path: str, params: object) -> dict:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def total_cell(html: str, currency: str) -> str:
    marker = f'data-testid="total-{currency}">'
    return html.split(marker, 1)[1].split("<", 1)[0]


async def test_table_total_equals_api_and_currencies_apart(
    console_for, client_for, db: AsyncSession, org: Org, viewer: User
) -> None:
    await seed(db, org)
    client = console_for(viewer)
    api = client_for(viewer)
    r = await client.get("/costs", params={"startDate": START, "endDate": END})
    assert r.status_code == 200, r.text
    html = r.text
    usd = await api_get(api, "/costs", {"startDate": START, "endDate": END, "currency": "USD"})
    eur = await api_get(api, "/costs", {"startDate": START, "endDate": END, "currency": "EUR"})
    assert total_cell(html, "USD") == fmt.money(usd["totalCost"], "USD") == "$145.88"
    assert total_cell(html, "EUR") == fmt.money(eur["totalCost"], "EUR") == "€7.50"
    assert "Amazon Elastic Compute Cloud" in html
    assert 'id="chart-costs"' in html
    assert "Download CSV" in html
    # Drill-down: the service becomes a filter and the next level is its resources.
    link = next(
        part.split('"', 1)[0]
        for part in html.split('href="')[1:]
        if "service=Amazon+Elastic" in part.split('"', 1)[0]
    )
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["service"] == ["Amazon Elastic Compute Cloud"]
    assert query["groupBy"] == ["resource"]
    assert query["startDate"] == [START]


async def test_nested_groups_tags_and_csv(
    console_for, client_for, db: AsyncSession, org: Org, member: User
) -> None:
    await seed(db, org)
    client = console_for(member)
    api = client_for(member)
    params = {
        "startDate": START,
        "endDate": END,
        "groupBy": "service",
        "thenBy": "region",
        "tag": "env:prod",
    }
    html = (await client.get("/costs", params=params)).text
    answer = await api_get(api, "/costs", {**params, "currency": "USD"})
    assert total_cell(html, "USD") == fmt.money(answer["totalCost"], "USD") == "$100.05"
    assert "us-east-1" in html
    assert "Tag: env = prod" in html or "env = prod" in html

    # The tag picker: a key lists its values, then key and value become one filter.
    html = (await client.get("/costs", params={"startDate": START, "tagKey": "env"})).text
    assert 'id="f-tagValue"' in html
    assert ">dev<" in html
    r = await client.get(
        "/costs", params={"startDate": START, "tagKey": "env", "tagValue": "dev", "addTag": "1"}
    )
    assert r.status_code == 303
    assert parse_qs(urlsplit(r.headers["location"]).query)["tag"] == ["env:dev"]

    r = await client.get("/costs/download", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0] == {
        "currency": "USD",
        "service": "Amazon Elastic Compute Cloud",
        "service_key": "Amazon Elastic Compute Cloud",
        "region": "us-east-1",
        "region_key": "us-east-1",
        "cost": "100.05",
        "percentage": "100.00",
    }


async def test_invalid_params_are_shown_in_words(console_for, member: User) -> None:
    r = await console_for(member).get(
        "/costs", params={"startDate": "2026-10-10", "endDate": "2026-10-01"}
    )
    assert r.status_code == 422
    assert 'role="alert"' in r.text
    assert "{" not in r.text.split('role="alert"', 1)[1].split("</div>", 1)[0]
    r = await console_for(member).get("/costs", params={"groupBy": "colour"})
    assert r.status_code == 422
    assert "Must be one of" in r.text


async def test_empty_organization_is_told_what_to_do(console_for, member: User) -> None:
    html = (await console_for(member).get("/costs")).text
    assert "No cost data yet" in html


def test_presets() -> None:
    today = date(2026, 3, 15)
    assert preset_range("last30", today) == (date(2026, 2, 13), date(2026, 3, 14))
    assert preset_range("mtd", today) == (date(2026, 3, 1), today)
    assert preset_range("lastmonth", today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert preset_range("last3", today) == (date(2025, 12, 1), date(2026, 2, 28))
    assert preset_range("last12", today) == (date(2025, 3, 1), date(2026, 2, 28))


async def test_overview_shows_the_savings_total(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    from tests.factories.recommendations import make_recommendation

    account = await make_account(db, org)
    await add_costs(db, account, [{"usage_date": date(2026, 10, 1), "billed_cost": "1"}])
    await make_recommendation(db, account, savings="8.00", type="delete_volume", resource_id="v")
    await make_recommendation(db, account, savings="2.50", type="migrate_gp3", resource_id="v")
    html = (await console_for(member).get("/")).text
    assert "$8.00 a month to save" in html


def hrefs(html: str) -> list[dict[str, list[str]]]:
    return [
        parse_qs(part.split('"', 1)[0].replace("&amp;", "&"))
        for part in html.split('href="/costs?')[1:]
    ]


async def test_tag_and_time_groups_drill_down_and_presets_stay_relative(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    await seed(db, org, eur=False)
    client = console_for(member)
    html = (
        await client.get(
            "/costs", params={"startDate": START, "endDate": END, "groupBy": "tag:env"}
        )
    ).text
    assert ">prod<" in html
    assert {
        "tag": ["env:prod"],
        "groupBy": ["service"],
        "startDate": [START],
        "endDate": [END],
    } in [
        {k: v for k, v in q.items() if k in ("tag", "groupBy", "startDate", "endDate")}
        for q in hrefs(html)
    ]
    # By week then service: a week's click narrows the range to its days (within the range).
    html = (
        await client.get(
            "/costs",
            params={"startDate": START, "endDate": END, "groupBy": "week", "thenBy": "service"},
        )
    ).text
    weeks = [q for q in hrefs(html) if q.get("groupBy") == ["service"] and "startDate" in q]
    assert weeks[0]["startDate"] == ["2026-10-01"]
    assert weeks[0]["endDate"] == ["2026-10-04"]
    # A preset stays a preset in the links the page makes (a shared link keeps meaning it).
    html = (await client.get("/costs", params={"range": "lastmonth", "groupBy": "region"})).text
    assert 'aria-current="true"' in html
    region_links = [q for q in hrefs(html) if q.get("groupBy") == ["service"]]
    assert all(q.get("range") == ["lastmonth"] for q in region_links)
    assert all("startDate" not in q for q in region_links)
