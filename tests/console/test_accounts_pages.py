"""Cloud accounts in the console: connect a FOCUS folder through the form (the connection test's
result in words, then saved), sync it now and watch the polled status end with the run, explore
what it stored and set a budget on it, the list with sync status, rename, typed-confirmation
disconnect, and the role rules."""

import shutil
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.mail import drain

from xplorr.cloud_accounts.models import Provider
from xplorr.console import format as fmt
from xplorr.core.jobs.registry import SCHEDULES
from xplorr.core.jobs.runner import Worker, load_job_modules
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users.models import User

SAMPLE = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "focus-samples"
    / "focus-1.0-finops-sample-1000.csv"
)


@pytest.fixture
def export_dir(settings: Settings) -> Path:
    folder = settings.focus_root_dirs[0] / "acme"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE, folder / SAMPLE.name)
    return folder


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine):
    load_job_modules()
    saved = dict(SCHEDULES)
    SCHEDULES.clear()
    yield Worker(settings, engine)
    SCHEDULES.update(saved)


@pytest.mark.browser
async def test_connect_a_focus_folder_test_it_save_it_and_sync_it(
    browse, client_for, admin: User, export_dir: Path, worker: Worker
) -> None:
    page = await browse.page(admin)
    await page.goto("/cloud-accounts")
    assert await browse.axe(page) == []
    await page.get_by_role("link", name="Connect an account").click()
    await page.get_by_role("link", name="FOCUS export files").click()
    await page.get_by_label("Name", exact=True).fill("Acme exports")
    await page.get_by_label("Identifier").fill("acme")
    await page.get_by_label("Export path on this server").fill(str(export_dir))
    await page.get_by_role("button", name="Test connection").click()
    result = page.get_by_test_id("test-result")
    await result.wait_for()
    text = await result.inner_text()
    assert "it works" in text
    assert "1 export file in 1 export run." in text
    assert "Nothing is saved" in text
    assert await browse.axe(page) == []
    # The form kept what was typed: Connect saves it.
    await page.get_by_role("button", name="Connect", exact=True).click()
    await page.wait_for_url("**/cloud-accounts/*")
    assert "Acme exports is connected" in await page.locator(".notice").inner_text()
    # Connecting queued the first sync: the status polls until the run ends.
    status = page.get_by_test_id("sync-status")
    assert await status.get_attribute("data-state") == "queued"
    assert await status.get_attribute("hx-trigger") == "every 2s"
    assert await page.get_by_role("button", name="Sync now").is_disabled()
    assert await browse.axe(page) == []
    await drain(worker)  # the worker runs it while the page polls
    done = page.locator('[data-testid="sync-status"][data-state="succeeded"]')
    await done.wait_for()
    assert await done.get_attribute("hx-trigger") is None  # the polling ended with the run
    text = await done.inner_text()
    assert "1,000 rows read" in text
    assert "Costs stored through Sep 30, 2024" in text or "Costs stored through" in text

    # Sync now (the page reloads with the new run queued), and the run finishes again.
    await page.reload()
    await page.get_by_role("button", name="Sync now").click()
    await page.wait_for_url("**/cloud-accounts/*")
    assert "Sync queued." in await page.locator(".notice").inner_text()
    assert await page.get_by_test_id("sync-status").get_attribute("data-state") == "queued"
    await drain(worker)
    await done.wait_for()
    assert await page.locator("#history-h + table tbody tr").count() == 2
    assert await browse.axe(page) == []
    account_url = page.url

    # What the sync stored, in the explorer: its total is the API's for the same view.
    nav = page.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Explorer").click()
    await page.get_by_role("heading", name="Cost explorer").wait_for()
    totals = page.locator('[data-testid^="total-"]')
    currency = (await totals.first.get_attribute("data-testid")).removeprefix("total-")
    params = dict(parse_qsl(urlsplit(page.url).query))
    answer = (await client_for(admin).get("/costs", params={**params, "currency": currency})).json()
    assert Decimal(answer["totalCost"]) > 0
    assert await totals.first.inner_text() == fmt.money(answer["totalCost"], currency)

    # ...and a budget set on it.
    await nav.get_by_role("link", name="Budgets").click()
    await page.get_by_role("link", name="New budget").first.click()
    await page.get_by_label("Name", exact=True).fill("Acme monthly")
    await page.get_by_label("Amount", exact=True).fill("5000")
    await page.get_by_role("button", name="Create budget").click()
    await page.get_by_text("Budget Acme monthly created.").wait_for()
    await page.get_by_role("meter", name="Share of Acme monthly used").wait_for()
    await page.goto(account_url)

    # Disconnect: a wrong name is refused in words, the right one disconnects.
    await page.get_by_label("Type the account's name").fill("nope")
    await page.get_by_role("button", name="Disconnect").click()
    assert (
        "Type the account's name, Acme exports"
        in await page.get_by_role("alert").first.inner_text()
    )
    await page.get_by_label("Type the account's name").fill("Acme exports")
    await page.get_by_role("button", name="Disconnect").click()
    await page.wait_for_url("**/cloud-accounts")
    assert "No cloud account yet" in await page.content()


async def test_list_shows_sync_status_and_sync_all_queues(
    console_for, admin: User, org: Org, db: AsyncSession
) -> None:
    await make_account(db, org, provider=Provider.FOCUS, name="Exports")
    client = console_for(admin)
    html = (await client.get("/cloud-accounts")).text
    assert "Exports" in html
    assert "never synced" in html
    done = await client.submit("/cloud-accounts/sync-all")
    assert done.status_code == 303
    assert "queued" in (await client.get("/cloud-accounts")).text


async def test_sync_now_over_its_limit_says_when_to_try_again(
    console_for, admin: User, org: Org, db: AsyncSession
) -> None:
    account = await make_account(db, org, provider=Provider.FOCUS, name="Exports")
    client = console_for(admin)
    for _ in range(10):  # POST /sync/{id}: 10 an hour
        assert (await client.submit(f"/cloud-accounts/{account.id}/sync")).status_code == 303
    limited = await client.submit(f"/cloud-accounts/{account.id}/sync")
    assert limited.status_code == 429
    assert "Try again in" in limited.text


async def test_viewer_sees_no_write_button_and_is_refused(
    console_for, viewer: User, org: Org, db: AsyncSession
) -> None:
    account = await make_account(db, org, provider=Provider.FOCUS, name="Exports")
    client = console_for(viewer)
    html = (await client.get("/cloud-accounts")).text
    assert "Exports" in html
    assert "Sync all" not in html
    assert "/cloud-accounts/new" not in html
    html = (await client.get(f"/cloud-accounts/{account.id}")).text
    assert "Sync now" not in html
    assert "Disconnect" not in html
    assert "Rename" not in html
    refused = await client.submit(f"/cloud-accounts/{account.id}/sync")
    assert refused.status_code == 403
    assert "admin" in refused.text.lower()
    assert (await client.get("/cloud-accounts/new")).status_code == 403


async def test_api_errors_are_shown_next_to_the_fields(console_for, admin: User) -> None:
    client = console_for(admin)
    r = await client.submit(
        "/cloud-accounts/new",
        {"provider": "aws", "mode": "role", "action": "save", "name": "Payer",
         "provider_account_id": "123", "c_roleName": "xplorr-readonly", "c_region": "us-east-1"},
    )  # fmt: skip
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text
    assert 'value="Payer"' in r.text  # the input is kept
    assert "{" not in r.text.split("<main", 1)[1].split("</main>")[0].replace("{{", "")
