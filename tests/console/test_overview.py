"""The overview page and the console's ground rules: sign-in required, security headers, no
inline script, CSRF on every unsafe request, HTML (not JSON) for a browser's 404."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs

from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def _month_of_costs(db: AsyncSession, org: Org) -> None:
    account = await make_account(db, org, name="Production")
    today = clock.now().date()
    rows = [
        {
            "usage_date": today - timedelta(days=d),
            "billed_cost": "10.25",
            "service_name": "Amazon Elastic Compute Cloud",
        }
        for d in range(1, 40)
    ]
    await add_costs(db, account, rows)


async def test_signed_out_browser_is_sent_to_login_with_the_page_to_return_to(
    console_for, org: Org
) -> None:
    response = await console_for(None).get("/?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F%3Fx%3D1"
    response = await console_for(None).get("/")
    assert response.headers["location"] == "/login"


async def test_overview_shows_month_to_date_and_top_services(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    await _month_of_costs(db, org)
    response = await console_for(member).get("/")
    assert response.status_code == 200, response.text
    html = response.text
    assert "Month to date" in html
    assert "Amazon Elastic Compute Cloud" in html
    assert "$" in html
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in html
    assert " style=" not in html
    # The slow panels follow as fragments.
    forecast = await console_for(member).get("/overview/forecast")
    assert forecast.status_code == 200
    assert "Forecast for" in forecast.text
    assert "Loading" not in forecast.text
    budgets = await console_for(member).get("/overview/budgets")
    assert "No budget is at 80 %" in budgets.text


async def test_empty_organization_is_told_to_connect_an_account(
    console_for, admin: User, viewer: User
) -> None:
    html = (await console_for(admin).get("/")).text
    assert "No cloud account yet" in html
    assert 'href="/cloud-accounts/new"' in html
    # A viewer could not connect one: no button it may not press.
    html = (await console_for(viewer).get("/")).text
    assert "No cloud account yet" in html
    assert "/cloud-accounts/new" not in html


async def test_unsafe_request_without_csrf_token_is_refused(console_for, member: User) -> None:
    client = console_for(member)
    refused = await client.post("/logout", data={})
    assert refused.status_code == 403
    assert "did not come from this site" in refused.text
    # With the token the same request works and ends the session.
    done = await client.submit("/logout")
    assert done.status_code == 303
    assert done.headers["location"] == "/login"


async def test_browser_gets_a_page_for_an_unknown_path_and_api_keeps_its_envelope(
    console_for, member: User
) -> None:
    client = console_for(member)
    page = await client.get("/no-such-page")
    assert page.status_code == 404
    assert "There is no page here" in page.text
    api = await client.get("/api/v1/no-such", headers={"accept": "application/json"})
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "NOT_FOUND"


async def test_static_files_are_served_and_paths_cannot_escape(console_for) -> None:
    client = console_for(None)
    assert (await client.get("/static/vendor/htmx.min.js")).status_code == 200
    assert (await client.get("/static/../router.py")).status_code == 404
    assert (await client.get("/static/%2e%2e/router.py")).status_code == 404
