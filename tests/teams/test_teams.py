"""The Teams app against a local Microsoft identity platform and Graph: admin consent then the
authorization code, sealed tokens, refresh, posting a routed notification as an Adaptive Card,
disconnect."""

import json
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.channels import make_channel
from tests.mail import run_jobs
from tests.teams.fake_microsoft import CLIENT_ID, TENANT, FakeMicrosoft
from xplorr.channels.models import ChatProvider
from xplorr.core import clock, crypto
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings
from xplorr.notifications import hub
from xplorr.notifications.events import BudgetAlert
from xplorr.orgs.models import Org
from xplorr.teams.models import ACCESS_TOKEN, REFRESH_TOKEN, TeamsInstallation
from xplorr.users.models import User

JSON = {"Accept": "application/json"}
REDIRECT = "http://console.test/api/v1/teams/oauth_redirect"


async def browse(url: str) -> dict[str, str]:
    """The admin's browser on a Microsoft page: the query Microsoft sends it back with (its
    302 to the callback)."""
    async with httpx.AsyncClient(trust_env=False) as web:
        r = await web.get(url)
    assert r.status_code == 302, r.text
    back = urlsplit(r.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(back.query).items()}


async def test_admin_consent_then_code_state_rules_and_sealed_tokens(
    client_for: ClientFor, admin: User, other_admin: User, microsoft: FakeMicrosoft,
    db: AsyncSession, settings: Settings, org: Org,
) -> None:  # fmt: skip
    client, anon = client_for(admin), client_for(None)

    async def start() -> str:
        r = await client.get("/teams/install", headers=JSON)
        url = urlsplit(r.json()["redirect_url"])
        query = parse_qs(url.query)
        assert url.path == "/organizations/v2.0/adminconsent"
        assert (query["client_id"], query["redirect_uri"]) == ([CLIENT_ID], [REDIRECT])
        assert "https://graph.microsoft.com/ChannelMessage.Send" in query["scope"][0].split()
        return r.json()["redirect_url"]

    def problem(r: httpx.Response) -> tuple[int, str]:
        return r.status_code, r.json()["error"]["code"]

    # Leg 1, denied: the directory admin cancels; the state is spent, nothing stored.
    microsoft.deny_admin_consent = True
    back = await browse(await start())
    assert back["error"] == "permission_denied"
    r = await anon.get("/teams/oauth_redirect", params=back)
    assert parse_qs(urlsplit(r.headers["location"]).query)["result"] == ["denied"]
    microsoft.deny_admin_consent = False
    granted = {"admin_consent": "True", "tenant": TENANT, "state": back["state"]}
    r = await anon.get("/teams/oauth_redirect", params=granted, headers=JSON)
    assert problem(r) == (400, "OAUTH_STATE_INVALID")
    # Leg 1, wrong org: another org's admin cannot bring this admin's consent back (spent).
    back = await browse(await start())
    r = await client_for(other_admin).get("/teams/oauth_redirect", params=back, headers=JSON)
    assert r.status_code == 403
    r = await anon.get("/teams/oauth_redirect", params=back, headers=JSON)
    assert problem(r) == (400, "OAUTH_STATE_INVALID")
    # Leg 1 cannot be skipped: its state brought back with a code is refused; a consent that
    # names no tenant GUID is refused.
    state = parse_qs(urlsplit(await start()).query)["state"][0]
    skip = {"code": microsoft.consent(REDIRECT), "state": state}
    r = await anon.get("/teams/oauth_redirect", params=skip, headers=JSON)
    assert problem(r) == (400, "OAUTH_STATE_INVALID")
    back = await browse(await start()) | {"tenant": "contoso.onmicrosoft.com"}
    r = await anon.get("/teams/oauth_redirect", params=back, headers=JSON)
    assert problem(r) == (400, "TEAMS_TENANT_INVALID")
    assert microsoft.token_calls == []
    assert await db.scalar(select(TeamsInstallation)) is None

    # Leg 1, consented: the browser goes on to that tenant's authorize page with a new state
    # (no consent prompt), and the first leg's answer cannot be replayed.
    back = await browse(await start())
    r = await anon.get("/teams/oauth_redirect", params=back)
    assert r.status_code == 303
    authorize = urlsplit(r.headers["location"])
    query = parse_qs(authorize.query)
    assert authorize.path == f"/{TENANT}/oauth2/v2.0/authorize"
    assert (query["response_type"], query["redirect_uri"]) == (["code"], [REDIRECT])
    assert "prompt" not in query
    assert query["state"] != [back["state"]]
    r = await anon.get("/teams/oauth_redirect", params=back, headers=JSON)
    assert problem(r) == (400, "OAUTH_STATE_INVALID")
    # Leg 2: the code, exchanged at the consented tenant's token endpoint.
    code_back = await browse(authorize.geturl())
    r = await anon.get("/teams/oauth_redirect", params=code_back)
    assert parse_qs(urlsplit(r.headers["location"]).query)["result"] == ["installed"]
    assert [(c["tenant"], c["grant_type"]) for c in microsoft.token_calls] == [
        (TENANT, "authorization_code")
    ]
    r = await anon.get("/teams/oauth_redirect", params=code_back, headers=JSON)
    assert problem(r) == (400, "OAUTH_STATE_INVALID")  # replay
    actions = await db.scalars(
        select(AuditEntry.action).where(AuditEntry.action.startswith("teams."))
    )
    assert sorted(actions) == ["teams.admin_consented", "teams.installed"]

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
