"""Integrations in the console: the OAuth callback's result banner, the Slack install sending
the browser to Slack's authorize page, the installation and its uninstall, channels added,
edited and removed through their forms, webhook URLs refused in words, and the role rules."""

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import make_settings
from tests.factories.channels import make_slack_install

from xplorr.core.settings import Settings, SlackSettings
from xplorr.orgs.models import Org
from xplorr.users.models import User

PAGE = "/settings/integrations"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The Slack app configured (starting an install only builds Slack's authorize URL)."""
    slack = SlackSettings(
        client_id="111.222",
        client_secret="slack-client-secret",  # type: ignore[arg-type]
        signing_secret="slack-signing-secret",  # type: ignore[arg-type]
        base_url="https://slack.example",
    )
    return make_settings(db_url, tmp_path, slack=slack, base_url="http://console.test")


@pytest.mark.browser
async def test_install_banner_and_channels_in_the_browser(
    browse, db: AsyncSession, org: Org, admin: User
) -> None:
    await make_slack_install(db, org)  # as the OAuth callback left it
    page = await browse.page(admin)
    await page.goto(f"{PAGE}?provider=slack&result=installed")
    assert await page.get_by_test_id("install-result").inner_text() == "Slack is connected."
    assert "Connected to the workspace <strong>Acme Slack</strong>" in await page.content()
    assert await browse.axe(page) == []
    await page.get_by_label("Channel ID").fill("C0123ABCD")
    await page.get_by_label("Channel name").fill("#finops")
    await page.get_by_label("Anomalies").uncheck()
    await page.get_by_role("button", name="Add channel").click()
    await page.wait_for_url(f"**{PAGE}")
    assert "Channel #finops added." in await page.locator(".notice").inner_text()
    row = page.locator("tbody tr", has_text="#finops")
    assert "Anomalies" not in await row.inner_text()
    await page.get_by_role("link", name="#finops").click()
    await page.get_by_label("What it receives").select_option("tags")
    await page.get_by_label("Limited to (comma-separated)").fill("team:data")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_url(f"**{PAGE}")
    assert "team:data" in await page.locator("tbody tr", has_text="#finops").inner_text()
    assert await browse.axe(page) == []
    await page.get_by_role("link", name="#finops").click()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Remove this channel").click()
    await page.wait_for_url(f"**{PAGE}")
    assert "No channel yet" in await page.content()
    # A failed install lands here with its reason in words.
    await page.goto(f"{PAGE}?provider=slack&result=error&reason=SLACK_TEAM_IN_USE")
    assert (
        "already connected to another organization"
        in await page.get_by_test_id("install-result").inner_text()
    )


async def test_add_to_slack_sends_the_browser_to_slack(console_for, admin: User) -> None:
    client = console_for(admin)
    answer = await client.submit(f"{PAGE}/slack/install")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("https://slack.example/oauth/v2/authorize?")
    assert "client_id=111.222" in answer.headers["location"]
    # Teams is not configured here: said in words, on the page.
    refused = await client.submit(f"{PAGE}/teams/install")
    assert refused.status_code == 409
    assert "XPLORR_TEAMS" in refused.text


async def test_installation_shown_and_uninstall_refused_for_a_viewer(
    console_for, db: AsyncSession, org: Org, viewer: User
) -> None:
    await make_slack_install(db, org)
    client = console_for(viewer)
    html = (await client.get(PAGE)).text
    assert "Acme Slack" in html
    assert "Disconnect Slack" not in html
    assert "Add a channel" not in html
    assert "Organization webhooks" not in html
    refused = await client.submit(f"{PAGE}/slack/uninstall")
    assert refused.status_code == 403
    assert "owner or admin" in refused.text


async def test_webhook_url_refused_in_words(console_for, admin: User) -> None:
    client = console_for(admin)
    bad = await client.submit(f"{PAGE}/webhooks", {"slack_webhook_url": "http://example.com/x"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    test = await client.submit(f"{PAGE}/slack-test")
    assert test.status_code in (400, 404, 409, 422)
    assert '{"error"' not in test.text
