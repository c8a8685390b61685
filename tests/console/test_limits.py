"""Rate limits and the console: a page view counts once in the console's bucket (60 a minute),
not once per API read its page makes; the API's own limits still hold for API clients, and the
proof that marks the console's reads cannot be sent from outside."""

from fastapi import FastAPI
from tests.conftest import AppWith
from tests.console.conftest import ConsoleClient, csrf_of, login_cookies
from tests.factories.users import token_for

from xplorr.auth import browser
from xplorr.users.models import User


def _client(app: FastAPI, user: User | None = None) -> ConsoleClient:
    import httpx

    cookies = login_cookies(app, user) if user else {}
    client = ConsoleClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", cookies=cookies
    )
    client.csrf = csrf_of(app)
    return client


async def test_page_reads_do_not_use_up_the_api_limit(app_with: AppWith, member: User) -> None:
    app = app_with(rate_limit_overrides="GET /costs=2/minute")
    async with _client(app, member) as console:
        for _ in range(3):  # each overview reads GET /costs once
            assert (await console.get("/")).status_code == 200
    import httpx

    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://t/api/v1",
        headers={"authorization": f"Bearer {token_for(app, member)}"},
    )
    async with api:
        assert (await api.get("/costs")).status_code == 200
        assert (await api.get("/costs")).status_code == 200
        limited = await api.get("/costs")
        assert limited.status_code == 429
        # The console's mark, forged by a client, changes nothing.
        forged = await api.get("/costs", headers={browser.INTERNAL_READ_HEADER: "0" * 64})
        assert forged.status_code == 429


async def test_page_views_are_limited_with_retry_after(app_with: AppWith) -> None:
    app = app_with()
    async with _client(app) as console:
        for _ in range(60):
            assert (await console.get("/login")).status_code == 200
        limited = await console.get("/login")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "Too many pages" in limited.text


async def test_file_downloads_count_in_the_apis_own_limit(app_with: AppWith, member: User) -> None:
    """A PDF or an export costs more than a page view: the console's download is counted by
    the API's limit for that file (PDF and Excel 10 per 15 minutes), and its 429 is a page."""
    app = app_with(rate_limit_overrides="GET /reports/excel=1/15minute")
    async with _client(app, member) as console:
        first = await console.get("/reports/excel")
        assert first.status_code == 200
        assert first.headers["content-disposition"].startswith("attachment;")
        limited = await console.get("/reports/excel")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert '{"error"' not in limited.text
    assert "try again" in limited.text.lower()
