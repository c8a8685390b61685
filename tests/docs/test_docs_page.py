"""The API docs page in a real headless Chromium (Debian's ``chromium``), served by a real
``xplorr serve``: every operation renders, groups come costs, accounts, sync first, nothing is
fetched from anywhere but the server, and the Authorize button makes a call work."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.tokens import make_raw_api_token
from tests.process import Served, serve
from xplorr.orgs.models import Org
from xplorr.users.models import User

CHROMIUM = os.environ.get("XPLORR_TEST_CHROMIUM", "/usr/bin/chromium")
# As this machine's notes say Chromium must run here: no sandbox (root), no GPU, and none of
# its own network calls (they fail on a closed network, many at a time).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        message = (
            f"Chromium not found at {CHROMIUM}: scripts/test installs Debian's chromium package"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Served]:
    with serve(db_url, tmp_path, {"XPLORR_LOG_LEVEL": "WARNING"}) as served:
        yield served


@pytest.mark.slow
async def test_docs_page_renders_every_operation_offline(
    server: Served, db: AsyncSession, org: Org, member: User
) -> None:
    executable = _chromium()
    raw = await make_raw_api_token(db, org, member)
    async with httpx.AsyncClient(base_url=server.url) as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
    expected = sum(
        1
        for item in spec["paths"].values()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )
    from playwright.async_api import async_playwright

    requested: list[str] = []
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.on("request", lambda req: requested.append(req.url))
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on(
                "console",
                lambda msg: problems.append(msg.text) if msg.type == "error" else None,
            )
            await page.goto(f"{server.url}/api/v1/docs", wait_until="networkidle")
            await page.wait_for_selector(".opblock", timeout=20_000)
            assert await page.locator(".opblock").count() == expected
            tags = await page.locator(".opblock-tag").evaluate_all(
                "els => els.map(e => e.getAttribute('data-tag'))"
            )
            assert tags[:3] == ["costs", "cloud-accounts", "sync"]
            # Authorize with an API token, then call GET /auth/me from the page.
            await page.locator("button.authorize").first.click()
            await page.locator(".modal-ux input").first.fill(raw)
            await page.locator(".modal-ux button.authorize").click()
            await page.locator(".modal-ux button.btn-done").click()
            me = page.locator("#operations-auth-auth_get_me")
            await me.locator(".opblock-summary").click()
            await me.locator("button.execute").click()
            status = me.locator(".live-responses-table .response .response-col_status").first
            await status.wait_for(timeout=10_000)
            assert (await status.inner_text()).strip().startswith("200")
            assert member.email in await me.locator(".live-responses-table").inner_text()
        finally:
            await browser.close()
    assert requested, "the page made no request"
    outside = [u for u in requested if not u.startswith(server.url)]
    assert outside == [], f"the docs page reached outside the server: {outside}"
    assert problems == [], problems
