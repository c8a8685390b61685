"""The Slack app's OAuth install, its installation and its removal, against the local Slack."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import AppWith, ClientFor, asgi_client
from tests.factories.users import token_for
from tests.slack.conftest import slack_settings
from tests.slack.fake_slack import CLIENT_ID, FakeSlack
from xplorr.channels.models import OAuthState
from xplorr.core import clock, crypto
from xplorr.core.audit import AuditEntry
from xplorr.core.settings import Settings, SlackSettings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.slack.models import BOT_TOKEN, INCOMING_WEBHOOK, SlackInstallation
from xplorr.users.models import User

JSON = {"Accept": "application/json"}


async def start(client: httpx.AsyncClient) -> str:
    """GET /slack/install as the console does (JSON): the state in Slack's authorize URL."""
    r = await client.get("/slack/install", headers=JSON)
    assert r.status_code == 200, r.text
    return parse_qs(urlsplit(r.json()["redirect_url"]).query)["state"][0]


def result_of(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 303, r.text
    location = urlsplit(r.headers["location"])
    assert (location.netloc, location.path) == ("console.test", "/settings/integrations")
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def test_install_stores_the_bot_token_sealed_and_reports_it(
    client_for: ClientFor, admin: User, viewer: User, slack: FakeSlack, db: AsyncSession,
    settings: Settings, org: Org,
) -> None:  # fmt: skip
    client = client_for(admin)
    r = await client.get("/slack/install")  # a browser: straight to Slack
    assert r.status_code == 303
    authorize = urlsplit(r.headers["location"])
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == (
        f"{slack.url}/oauth/v2/authorize"
    )
    assert query["client_id"] == [CLIENT_ID]
    assert {"chat:write", "users:read.email", "incoming-webhook"} <= set(
        query["scope"][0].split(",")
    )
    assert query["redirect_uri"] == ["http://console.test/api/v1/slack/oauth_redirect"]
    state = query["state"][0]
    assert len(state) >= 43  # 256 bits
    stored = (await db.scalars(select(OAuthState))).all()
    assert [s.state_sha256 for s in stored] != [state]  # only its hash is kept

    code = slack.grant("T001", "Acme Slack")
    token = next(iter(slack.grants.values()))["access_token"]
    r = await client_for(None).get("/slack/oauth_redirect", params={"code": code, "state": state})
    assert result_of(r) == {"provider": "slack", "result": "installed"}
    (exchange,) = slack.of("oauth.v2.access")
    assert exchange.basic == (CLIENT_ID, "fake-client-secret")  # HTTP Basic, as Slack wants
    assert exchange.args["redirect_uri"] == "http://console.test/api/v1/slack/oauth_redirect"

    row = await db.scalar(select(SlackInstallation).where(SlackInstallation.org_id == org.id))
    assert row is not None
    assert row.team_id == "T001"
    assert token.encode() not in row.bot_token_encrypted
    assert b"hooks.slack.com" not in (row.webhook_url_encrypted or b"")
    cipher = await crypto.OrgCipher.load(db, settings, org.id)
    assert cipher.open_column(BOT_TOKEN, row).decode() == token
    assert cipher.open_column(INCOMING_WEBHOOK, row).startswith(b"https://hooks.slack.com/")
    assert await db.scalar(select(OAuthState)) is None  # spent

    r = await client_for(viewer).get("/slack/installation")
    assert r.status_code == 200
    body = r.json()
    assert body["installed"] is True
    assert (body["team_id"], body["team_name"], body["channel"]) == (
        "T001", "Acme Slack", "#cost-alerts"
    )  # fmt: skip
    assert body["installed_by"] == str(admin.id)
    assert body["installed_by_email"] == admin.email
    assert "users:read.email" in body["scopes"]
    assert token not in r.text
    assert "hooks.slack.com/services" not in r.text
    audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "slack.installed"))
    assert audit is not None
    assert token not in str(audit.details)

    # `xplorr keys rotate` re-seals the token: it still opens, under the new data key.
    before = row.bot_token_key_version
    rotation = await crypto.rotate_org_key(db, settings, org.id)
    await db.commit()
    assert rotation.resealed["slack_installations"] == 1
    assert rotation.resealed["slack_incoming_webhooks"] == 1
    row = await db.scalar(select(SlackInstallation).execution_options(populate_existing=True))
    assert row is not None
    assert row.bot_token_key_version == rotation.version != before
    cipher = await crypto.OrgCipher.load(db, settings, org.id)
    assert cipher.open_column(BOT_TOKEN, row).decode() == token


async def test_state_is_single_use_bound_and_expiring(
    client_for: ClientFor, admin: User, slack: FakeSlack, db: AsyncSession, org: Org,
    other_admin: User,
) -> None:  # fmt: skip
    anon = client_for(None)
    # Replay: the second use of a state is refused, whatever the code.
    state = await start(client_for(admin))
    r = await anon.get(
        "/slack/oauth_redirect", params={"code": slack.grant(), "state": state}, headers=JSON
    )
    assert r.json() == {"provider": "slack", "result": "installed", "team_name": "Acme Slack"}
    assert (r.headers["cache-control"], r.headers["pragma"]) == ("no-store", "no-cache")
    r = await anon.get("/slack/oauth_redirect", params={"code": slack.grant(), "state": state})
    assert result_of(r) == {
        "provider": "slack", "result": "error", "reason": "OAUTH_STATE_INVALID"
    }  # fmt: skip
    r = await anon.get("/slack/oauth_redirect", params={"code": "x", "state": state}, headers=JSON)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OAUTH_STATE_INVALID")
    assert len(slack.of("oauth.v2.access")) == 1  # a refused state never reaches Slack

    # Denied consent: Slack sends error=access_denied; nothing stored, the state is spent.
    await db.execute(update(SlackInstallation).values(team_name="before"))
    await db.commit()
    state = await start(client_for(admin))
    r = await anon.get("/slack/oauth_redirect", params={"error": "access_denied", "state": state})
    assert result_of(r) == {
        "provider": "slack", "result": "denied", "reason": "OAUTH_CONSENT_DENIED"
    }  # fmt: skip
    r = await anon.get("/slack/oauth_redirect", params={"code": slack.grant(), "state": state})
    assert result_of(r)["reason"] == "OAUTH_STATE_INVALID"
    assert await db.scalar(select(SlackInstallation.team_name)) == "before"

    # Expired: 10 minutes.
    state = await start(client_for(admin))
    await db.execute(update(OAuthState).values(expires_at=clock.now() - timedelta(seconds=1)))
    await db.commit()
    r = await anon.get(
        "/slack/oauth_redirect", params={"code": slack.grant(), "state": state}, headers=JSON
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OAUTH_STATE_INVALID")
    assert "expired" in r.json()["error"]["message"]

    # Bound to org and user: another org's admin bringing this state back is refused.
    state = await start(client_for(admin))
    r = await client_for(other_admin).get(
        "/slack/oauth_redirect", params={"code": slack.grant(), "state": state}, headers=JSON
    )
    assert r.status_code == 403
    assert await db.scalar(select(SlackInstallation.team_name)) == "before"

    # The admin who started was demoted meanwhile: refused.
    state = await start(client_for(admin))
    await db.execute(update(User).where(User.id == admin.id).values(role=Role.MEMBER))
    await db.commit()
    r = await anon.get(
        "/slack/oauth_redirect", params={"code": slack.grant(), "state": state}, headers=JSON
    )
    assert r.status_code == 403
    assert len(slack.of("oauth.v2.access")) == 1


async def test_a_workspace_belongs_to_one_org(
    client_for: ClientFor, admin: User, other_admin: User, slack: FakeSlack, db: AsyncSession,
    org: Org,
) -> None:  # fmt: skip
    anon = client_for(None)
    state = await start(client_for(admin))
    await anon.get("/slack/oauth_redirect", params={"code": slack.grant("T001"), "state": state})
    state = await start(client_for(other_admin))
    code = slack.grant("T001", "Acme Slack")
    stray = slack.grants[code]["access_token"]
    r = await anon.get("/slack/oauth_redirect", params={"code": code, "state": state}, headers=JSON)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "SLACK_TEAM_IN_USE")
    assert stray not in slack.tokens  # the token Slack issued for the refused install is revoked
    rows = (await db.scalars(select(SlackInstallation))).all()
    assert [r.org_id for r in rows] == [org.id]


async def test_slack_refusing_the_code_is_502_and_nothing_stored(
    client_for: ClientFor, admin: User, slack: FakeSlack, db: AsyncSession
) -> None:
    state = await start(client_for(admin))
    r = await client_for(None).get(
        "/slack/oauth_redirect", params={"code": "forged", "state": state}, headers=JSON
    )
    assert (r.status_code, r.json()["error"]["code"]) == (502, "SLACK_API_ERROR")
    assert "invalid_code" in r.json()["error"]["message"]
    assert await db.scalar(select(SlackInstallation)) is None


async def test_not_configured_says_what_to_set(app_with: AppWith, admin: User) -> None:
    app = app_with(slack=SlackSettings(), base_url="http://console.test")
    async with asgi_client(app) as client:
        client.headers["Authorization"] = f"Bearer {token_for(app, admin)}"
        r = await client.get("/slack/install")
        assert (r.status_code, r.json()["error"]["code"]) == (409, "SLACK_NOT_CONFIGURED")
        assert "XPLORR_SLACK_CLIENT_ID" in r.json()["error"]["message"]
        assert (await client.get("/slack/installation")).json()["installed"] is False


async def test_uninstall_revokes_then_deletes(
    client_for: ClientFor, admin: User, slack: FakeSlack, db: AsyncSession, app_with: AppWith
) -> None:
    client = client_for(admin)
    r = await client.delete("/slack/installation")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "SLACK_NOT_INSTALLED")
    state = await start(client)
    code = slack.grant()
    token = slack.grants[code]["access_token"]
    await client_for(None).get("/slack/oauth_redirect", params={"code": code, "state": state})

    # Slack unreachable: nothing deleted, 502.
    down = app_with(slack=slack_settings(slack, base_url="http://127.0.0.1:9"))
    async with asgi_client(down) as other:
        other.headers["Authorization"] = f"Bearer {token_for(down, admin)}"
        r = await other.delete("/slack/installation")
    assert (r.status_code, r.json()["error"]["code"]) == (502, "SLACK_API_ERROR")
    assert await db.scalar(select(SlackInstallation)) is not None

    r = await client.delete("/slack/installation")
    assert r.status_code == 204
    (revoke,) = slack.of("auth.revoke")
    assert revoke.token == token
    assert token not in slack.tokens
    assert await db.scalar(select(SlackInstallation)) is None
    assert await db.scalar(select(AuditEntry).where(AuditEntry.action == "slack.uninstalled"))
    assert (await client.get("/slack/installation")).json()["installed"] is False
