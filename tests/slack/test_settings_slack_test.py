"""``POST /settings/slack/test`` with the Slack app installed and no org webhook: the test goes
where the app posts the org's unrouted notifications (the default channel, by the bot; else
the install's incoming webhook), and a 409 only when there is nowhere to post."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor, make_settings
from tests.factories.channels import make_channel, make_slack_install
from tests.factories.cloud_accounts import _test_settings
from tests.factories.settings import make_org_settings
from tests.slack.conftest import slack_settings
from tests.slack.fake_slack import FakeSlack
from tests.webhooks import Receiver, start_receiver
from xplorr.channels.models import ChannelConfig, ChatProvider
from xplorr.core.audit import AuditEntry
from xplorr.core.crypto import OrgCipher
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.slack.models import INCOMING_WEBHOOK, SlackInstallation
from xplorr.users.models import User

TOKEN = "xoxb-T001-settings-test"


@pytest.fixture
def settings(db_url: str, tmp_path: Path, slack: FakeSlack) -> Settings:
    """The Slack app against the local Slack; webhooks may go to the loopback receiver."""
    return make_settings(
        db_url, tmp_path, slack=slack_settings(slack), egress_allow_hosts=["127.0.0.1"]
    )


@pytest.fixture(scope="module")
def _receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def receiver(_receiver: Receiver) -> Receiver:
    """A local webhook receiver (Slack's answers), emptied for each test."""
    with _receiver.lock:
        _receiver.posts.clear()
        _receiver.statuses.clear()
    return _receiver


async def test_the_default_channel_gets_the_test_through_the_bot(
    client_for: ClientFor,
    admin: User,
    db: AsyncSession,
    org: Org,
    slack: FakeSlack,
    settings: Settings,
    receiver: Receiver,
) -> None:
    load_job_modules()  # the slack area's registration with settings (an app does this)
    slack.tokens[TOKEN] = "T001"
    await make_slack_install(db, org, token=TOKEN)
    await make_channel(db, org, channel_id="CDATA", name="#data")  # not the default
    await make_channel(db, org, channel_id="CDEFAULT", name="#costs", is_default=True)
    client = client_for(admin)

    r = await client.post("/settings/slack/test")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "ok": True,
        "via": "default_channel",
        "target": "#costs (CDEFAULT)",
        "status_code": 200,
        "response": "ok",
    }
    (post,) = slack.of("chat.postMessage")
    assert (post.args["channel"], post.token) == ("CDEFAULT", TOKEN)
    assert "Xplorr test message" in post.args["text"]
    assert post.args["blocks"][0]["type"] == "section"

    # Slack refuses (the bot was removed from the channel): an answer, not an error.
    slack.errors["chat.postMessage"] = "not_in_channel"
    r = await client.post("/settings/slack/test")
    assert r.status_code == 200, r.text
    assert (r.json()["ok"], r.json()["status_code"], r.json()["response"]) == (
        False,
        200,
        "not_in_channel",
    )

    # The org's own webhook, once saved, is where the test goes (as before the app).
    url = receiver.url("/services/T1/B1/tokenabcd")
    await make_org_settings(db, org, settings=settings, slack_webhook=url)
    r = await client.post("/settings/slack/test")
    assert (r.json()["via"], r.json()["ok"]) == ("org_webhook", True)
    assert len(receiver.to("/services/T1/B1/tokenabcd")) == 1
    assert len(slack.of("chat.postMessage")) == 2

    tested = (
        await db.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "settings.slack_tested")
        )
    ).all()
    assert sorted((d["via"], d["ok"]) for d in tested) == [
        ("default_channel", False),
        ("default_channel", True),
        ("org_webhook", True),
    ]


async def test_without_a_default_channel_the_install_webhook_then_nothing(
    client_for: ClientFor,
    admin: User,
    db: AsyncSession,
    org: Org,
    slack: FakeSlack,
    receiver: Receiver,
) -> None:
    load_job_modules()
    install = await make_slack_install(db, org, token=TOKEN)
    slack.tokens[TOKEN] = "T001"
    await make_channel(db, org, channel_id="CDATA", name="#data")  # routed, not the default
    # A Teams default channel is no Slack destination.
    await make_channel(db, org, provider=ChatProvider.TEAMS, channel_id="19:x", is_default=True)
    client = client_for(admin)

    r = await client.post("/settings/slack/test")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "SLACK_NOT_CONFIGURED"
    assert "default" in r.json()["error"]["message"]

    # The incoming webhook the install granted (sealed as the OAuth callback seals it).
    install = await db.get(SlackInstallation, install.id)  # each request detaches the fixtures
    assert install is not None
    cipher = await OrgCipher.load(db, _test_settings(), org.id)
    url = receiver.url("/services/T001/B1/hooksecret")
    await cipher.seal_column(db, INCOMING_WEBHOOK, install, url.encode())
    install.webhook_channel = "#cost-alerts"
    await db.commit()
    r = await client.post("/settings/slack/test")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "ok": True,
        "via": "app_webhook",
        "target": "#cost-alerts (http://127.0.0.1/…cret)",
        "status_code": 200,
        "response": "ok",
    }
    (post,) = receiver.to("/services/T001/B1/hooksecret")
    assert "Xplorr test message" in post.body["text"]
    assert slack.of("chat.postMessage") == []

    # The app's bot is preferred once a Slack channel is the default.
    await db.execute(
        update(ChannelConfig).where(ChannelConfig.org_id == org.id).values(is_default=False)
    )
    await db.commit()
    await make_channel(db, org, channel_id="CDEFAULT", is_default=True)
    r = await client.post("/settings/slack/test")
    assert (r.json()["via"], r.json()["target"]) == ("default_channel", "#costs (CDEFAULT)")
