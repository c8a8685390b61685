"""The Teams app against a local Microsoft identity platform and Graph: consent, sealed tokens,
refresh, posting a routed notification as an Adaptive Card, disconnect."""

import json
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.channels import make_channel
from tests.mail import run_jobs
from tests.teams.fake_microsoft import CLIENT_ID, TENANT, FakeMicrosoft
from xplorr.channels.models import ChatProvider
from xplorr.core import clock, crypto
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings
from xplorr.notifications import hub
from xplorr.notifications.events import BudgetAlert
from xplorr.orgs.models import Org
from xplorr.teams.models import ACCESS_TOKEN, REFRESH_TOKEN, TeamsInstallation
from xplorr.users.models import User

JSON = {"Accept": "application/json"}
REDIRECT = "http://console.test/api/v1/teams/oauth_redirect"


async def test_consent_flow_state_rules_and_sealed_tokens(
    client_for: ClientFor, admin: User, other_admin: User, microsoft: FakeMicrosoft,
    db: AsyncSession, settings: Settings, org: Org,
) -> None:  # fmt: skip
    client, anon = client_for(admin), client_for(None)

    async def start() -> str:
        r = await client.get("/teams/install", headers=JSON)
        url = urlsplit(r.json()["redirect_url"])
        query = parse_qs(url.query)
        assert url.path == "/organizations/oauth2/v2.0/authorize"
        assert (query["client_id"], query["response_type"]) == ([CLIENT_ID], ["code"])
        assert query["redirect_uri"] == [REDIRECT]
        assert "offline_access" in query["scope"][0]
        return query["state"][0]

    # Denied consent: spent state, nothing stored.
    state = await start()
    r = await anon.get("/teams/oauth_redirect",
                       params={"error": "access_denied", "state": state})  # fmt: skip
    assert parse_qs(urlsplit(r.headers["location"]).query)["result"] == ["denied"]
    again = {"code": microsoft.consent(REDIRECT), "state": state}
    r = await anon.get("/teams/oauth_redirect", params=again, headers=JSON)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OAUTH_STATE_INVALID")
    # A Slack state is no Teams state; another org's admin cannot bring this one back.
    state = await start()
    r = await client_for(other_admin).get(
        "/teams/oauth_redirect", params={"code": microsoft.consent(REDIRECT), "state": state},
        headers=JSON,
    )  # fmt: skip
    assert r.status_code == 403
    assert await db.scalar(select(TeamsInstallation)) is None

    state = await start()
    r = await anon.get("/teams/oauth_redirect",
                       params={"code": microsoft.consent(REDIRECT), "state": state})  # fmt: skip
    assert parse_qs(urlsplit(r.headers["location"]).query)["result"] == ["installed"]
    again = {"code": microsoft.consent(REDIRECT), "state": state}
    r = await anon.get("/teams/oauth_redirect", params=again, headers=JSON)
    assert r.json()["error"]["code"] == "OAUTH_STATE_INVALID"  # replay

    row = await db.scalar(select(TeamsInstallation))
    assert row is not None
    assert row.tenant_id == TENANT
    (access,) = microsoft.access
    (refresh,) = microsoft.refresh
    assert access.encode() not in row.access_token_encrypted
    assert refresh.encode() not in (row.refresh_token_encrypted or b"")
    cipher = await crypto.OrgCipher.load(db, settings, org.id)
    assert cipher.open_column(ACCESS_TOKEN, row).decode() == access
    assert cipher.open_column(REFRESH_TOKEN, row).decode() == refresh
    body = (await client.get("/teams/installation")).json()
    assert (body["installed"], body["tenant_id"]) == (True, TENANT)
    assert access not in json.dumps(body)

    # A routed budget alert goes to the Teams channel through Graph; the token is refreshed
    # first when it expires within five minutes, and the rotated refresh token is kept.
    load_job_modules()
    await make_channel(
        db, org, provider=ChatProvider.TEAMS, channel_id="team-1/19:abc@thread.tacv2"
    )
    await db.execute(
        update(TeamsInstallation).values(expires_at=clock.now() + timedelta(minutes=2))
    )
    await db.commit()
    event = BudgetAlert(
        org_id=org.id, budget_id=org.id, budget_name="Prod", threshold_percent=100,
        amount=Decimal(100), current_spend=Decimal(120), percent_used=Decimal(120),
        currency="USD", period_start=date(2026, 12, 1), period_end=date(2026, 12, 31),
    )  # fmt: skip
    await hub.notify(db, event)
    await db.commit()
    await run_jobs(settings)
    (team, channel, message, used) = microsoft.messages[0]
    assert (team, channel) == ("team-1", "19:abc@thread.tacv2")
    assert used != access  # refreshed
    card = json.loads(message["attachments"][0]["content"])
    assert card["type"] == "AdaptiveCard"
    assert "Prod" in card["body"][0]["text"]
    assert refresh not in microsoft.refresh  # rotated
    db.expunge_all()
    await db.rollback()
    row = await db.scalar(select(TeamsInstallation))
    assert row is not None
    cipher = await crypto.OrgCipher.load(db, settings, org.id)
    assert cipher.open_column(ACCESS_TOKEN, row).decode() == used
    assert cipher.open_column(REFRESH_TOKEN, row).decode() in microsoft.refresh

    r = await client.delete("/teams/installation")
    assert r.status_code == 204
    assert (await client.get("/teams/installation")).json()["installed"] is False
    r = await client.delete("/teams/installation")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "TEAMS_NOT_INSTALLED")
