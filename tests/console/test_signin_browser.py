"""Signing in through the real form in Chromium: the overview with its chart, accessible (axe),
usable at phone width, and signing out ends the login for the API too."""

import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncSession
from tests.console.test_overview import _month_of_costs
from tests.factories.users import DEFAULT_PASSWORD

from xplorr.orgs.models import Org
from xplorr.users.models import User

pytestmark = pytest.mark.browser


async def test_sign_in_see_overview_and_sign_out(
    browse, db: AsyncSession, org: Org, member: User
) -> None:
    await _month_of_costs(db, org)
    page = await browse.page()
    await page.goto("/")
    assert page.url.endswith("/login")
    await page.get_by_label("Email").fill(member.email)
    await page.get_by_label("Password").fill("wrong password 123")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("alert").wait_for()
    assert "password" in (await page.get_by_role("alert").inner_text()).lower()

    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Overview").wait_for()
    # The forecast and budget panels follow the page (htmx), in place of "Loading…".
    await page.get_by_text("No budget is at 80 %").wait_for()
    await expect(page.locator("main [aria-busy=true]")).to_have_count(0)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["xplorr_session"]["httpOnly"]
    assert cookies["xplorr_session"]["sameSite"] == "Lax"
    # The chart drew something (Chart.js from the vendored file, under the CSP).
    painted = await page.eval_on_selector(
        "#chart-mtd",
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }",
    )
    assert painted > 1000
    assert await browse.axe(page) == []
    assert not await page.evaluate(
        "() => 'xplorr_session' in Object.fromEntries("
        "document.cookie.split('; ').map(c => c.split('=')))"
    )

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.get_by_role("button", name="Menu").click()
    await page.get_by_role("link", name="Overview").wait_for()

    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_text("You are signed out.").wait_for()
    await page.goto("/")
    assert "/login" in page.url
