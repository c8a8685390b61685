"""The Microsoft Teams app: the directory admin's consent, then the Microsoft identity
platform's OAuth 2.0 authorization-code flow; delegated tokens sealed and refreshed, channel
posts through Graph.

The install takes two legs, each with the chat apps' one OAuth state (``channels.oauth_state``:
single use, 10 minutes, bound to org, admin and step):

1. ``start_install``: the admin consent endpoint (``{XPLORR_MS_LOGIN_BASE_URL}/organizations/
   v2.0/adminconsent``), where a directory admin grants the scopes for the whole tenant.
   Microsoft answers ``admin_consent=True&tenant=<id>`` and no code.
2. ``finish_install`` on that answer: the tenant is checked (a GUID) and the browser sent on to
   ``/<tenant>/oauth2/v2.0/authorize`` (no consent prompt: it was given) with a second state,
   bound to the same admin and to that tenant.
3. ``finish_install`` on the code: exchanged at that tenant's token endpoint (httpx,
   form-encoded, as the protocol says); the ID token's ``tid`` (received straight from the
   token endpoint over the TLS connection, OIDC Core 3.1.3.7) must name the consented tenant.

Access tokens are refreshed five minutes before they expire, and the refresh token Microsoft
rotates is sealed again each time.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels import oauth_state
from xplorr.channels.models import ChatProvider, OAuthStep
from xplorr.core import audit, clock
from xplorr.core.crypto import OrgCipher
from xplorr.core.errors import BadRequest, Conflict, NotFound, Upstream
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, org_scope, org_select
from xplorr.teams.models import ACCESS_TOKEN, REFRESH_TOKEN, TeamsInstallation

log = structlog.get_logger("xplorr.teams")

GRAPH = "https://graph.microsoft.com"
SCOPES = (
    "openid",
    "offline_access",
    f"{GRAPH}/ChannelMessage.Send",
    f"{GRAPH}/Team.ReadBasic.All",
    f"{GRAPH}/Channel.ReadBasic.All",
)
REDIRECT_PATH = "/api/v1/teams/oauth_redirect"
TIMEOUT = httpx.Timeout(10.0)
REFRESH_MARGIN = timedelta(minutes=5)


class TeamsNotConfigured(Conflict):
    code = "TEAMS_NOT_CONFIGURED"


class TeamsNotInstalled(NotFound):
    code = "TEAMS_NOT_INSTALLED"


class TeamsUpstream(Upstream):
    code = "TEAMS_API_ERROR"


class ConsentWithoutTenant(BadRequest):
    code = "TEAMS_TENANT_INVALID"


class GraphError(Exception):
    """A Microsoft endpoint refused or could not be reached; ``transient``: a retry may help."""

    def __init__(self, what: str, code: str, *, transient: bool) -> None:
        super().__init__(f"{what}: {code}")
        self.code = code
        self.transient = transient


def redirect_uri(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + REDIRECT_PATH


def _login(settings: Settings, tenant: str) -> str:
    return f"{settings.ms_login_base_url.rstrip('/')}/{quote(tenant, safe='')}/oauth2/v2.0"


def require_configured(settings: Settings) -> None:
    missing = [
        name
        for name, value in (
            ("XPLORR_TEAMS_CLIENT_ID", settings.teams.client_id),
            ("XPLORR_TEAMS_CLIENT_SECRET", settings.teams.client_secret),
        )
        if not value
    ]
    if missing:
        raise TeamsNotConfigured(
            "The Teams app is not configured on this installation: the operator must set "
            f"{', '.join(missing)} (an Entra ID app registration) and restart."
        )


async def start_install(db: AsyncSession, who: Principal, settings: Settings) -> str:
    """The admin consent page (leg 1), with a state for that step."""
    require_configured(settings)
    state = await oauth_state.issue(db, who, ChatProvider.TEAMS, step=OAuthStep.ADMIN_CONSENT)
    query = urlencode(
        {
            "client_id": settings.teams.client_id,
            "scope": " ".join(SCOPES),
            "redirect_uri": redirect_uri(settings),
            "state": state,
        }
    )
    base = settings.ms_login_base_url.rstrip("/")
    return f"{base}/organizations/v2.0/adminconsent?{query}"


async def _authorize_url(db: AsyncSession, who: Principal, settings: Settings, tenant: str) -> str:
    """The consented tenant's authorize page (leg 2), with a state bound to that tenant. No
    ``prompt``: the directory admin consented for everyone, so Microsoft asks nothing more."""
    state = await oauth_state.issue(db, who, ChatProvider.TEAMS, tenant_id=tenant)
    query = urlencode(
        {
            "client_id": settings.teams.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri(settings),
            "response_mode": "query",
            "scope": " ".join(SCOPES),
            "state": state,
        }
    )
    return f"{_login(settings, tenant)}/authorize?{query}"


async def _token(settings: Settings, tenant: str, form: dict[str, str]) -> dict[str, Any]:
    """One token-endpoint call (client credentials in the form, as the v2 endpoint takes)."""
    secret = settings.teams.client_secret
    body = {
        "client_id": settings.teams.client_id or "",
        "client_secret": secret.get_secret_value() if secret else "",
        "scope": " ".join(SCOPES),
        **form,
    }
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
            answer = await client.post(f"{_login(settings, tenant)}/token", data=body)
    except httpx.HTTPError as exc:
        raise GraphError("token", f"unreachable ({type(exc).__name__})", transient=True) from None
    try:
        data = answer.json()
    except ValueError:
        data = {}
    if answer.status_code != 200 or not isinstance(data, dict) or "access_token" not in data:
        code = str(data.get("error") if isinstance(data, dict) else None or answer.status_code)
        transient = answer.status_code == 429 or answer.status_code >= 500
        raise GraphError("token", code[:60], transient=transient)
    return data


@dataclass(frozen=True, slots=True)
class _Tokens:
    access: str
    refresh: str | None
    expires_in: int
    scope: str


def _tokens(data: dict[str, Any]) -> _Tokens:
    return _Tokens(
        access=str(data["access_token"]),
        refresh=data.get("refresh_token"),
        expires_in=int(data.get("expires_in") or 3600),
        scope=str(data.get("scope") or ""),
    )


async def _seal(db: AsyncSession, settings: Settings, row: TeamsInstallation, t: _Tokens) -> None:
    cipher = await OrgCipher.load(db, settings, row.org_id)
    await cipher.seal_column(db, ACCESS_TOKEN, row, t.access.encode())
    if t.refresh:
        await cipher.seal_column(db, REFRESH_TOKEN, row, t.refresh.encode())
    row.expires_at = clock.now() + timedelta(seconds=t.expires_in)
    row.scopes = t.scope[:1000]


def _tenant_guid(tenant: str | None) -> str:
    try:
        return str(uuid.UUID(tenant or ""))
    except ValueError:
        raise ConsentWithoutTenant(
            "Microsoft's admin consent answer named no tenant. Start the install again.",
            commit=True,
        ) from None


async def finish_install(
    db: AsyncSession,
    settings: Settings,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    admin_consent: str | None,
    tenant: str | None,
    caller: Principal | None,
) -> TeamsInstallation | oauth_state.NextLeg:
    """Either leg's callback. ``admin_consent`` (leg 1): the grant is checked and the browser
    goes on to the tenant's authorize page (``NextLeg``). Otherwise (leg 2) the code is
    exchanged and the tokens stored. As Slack's, the state is spent whatever follows
    (``commit=True`` errors)."""
    require_configured(settings)
    if admin_consent is not None and not error:
        who = await oauth_state.accept_admin_consent(
            db, ChatProvider.TEAMS, state=state, error=None, caller=caller
        )
        if admin_consent.casefold() != "true":
            raise oauth_state.ConsentDenied(
                "The Teams install was cancelled: the directory admin did not consent.",
                commit=True,
            )
        tenant_id = _tenant_guid(tenant)
        await audit.record(db, "teams.admin_consented", who=who,
                           resource_type=TeamsInstallation.audit_resource,
                           details={"tenant_id": tenant_id})  # fmt: skip
        return oauth_state.NextLeg(await _authorize_url(db, who, settings, tenant_id))
    accepted = await oauth_state.accept_callback(
        db, ChatProvider.TEAMS, state=state, code=code, error=error, caller=caller, max_code=4000
    )
    who, consented = accepted.who, accepted.tenant_id
    if consented is None:
        # A one-leg state (issued before the admin-consent leg existed): no consent to trust.
        raise oauth_state.InvalidState(
            "This install link skipped the admin consent. Start the install again.", commit=True
        )
    try:
        data = await _token(
            settings,
            consented,
            {"grant_type": "authorization_code", "code": accepted.code,
             "redirect_uri": redirect_uri(settings)},
        )  # fmt: skip
    except GraphError as exc:
        log.warning("teams_oauth_failed", org_id=str(who.org_id), error=exc.code)
        raise TeamsUpstream(
            f"Microsoft refused the install ({exc.code}). Start the install again.", commit=True
        ) from None
    try:
        claims = jwt.decode(str(data.get("id_token") or ""), options={"verify_signature": False})
        tenant_id = str(claims["tid"])
    except (jwt.PyJWTError, KeyError):
        raise TeamsUpstream("Microsoft's answer named no tenant.", commit=True) from None
    if tenant_id.casefold() != consented.casefold():
        raise TeamsUpstream(
            "Microsoft issued the tokens for another tenant than the one the admin consented "
            "for. Start the install again.",
            commit=True,
        )
    row = await db.scalar(org_select(TeamsInstallation, who).with_for_update())
    new = row is None
    if row is None:
        row = TeamsInstallation(id=uuid.uuid4(), org_id=who.org_id)
    row.tenant_id = tenant_id[:64]
    row.installed_by = who.user_id
    row.installed_at = clock.now()
    await _seal(db, settings, row, _tokens(data))
    if new:
        db.add(row)  # once sealed: the cipher's queries autoflush pending rows
    await db.flush()
    await audit.record(db, "teams.installed", who=who, target=row,
                       details={"tenant_id": row.tenant_id, "scopes": row.scopes})  # fmt: skip
    return row


async def installation_of(db: AsyncSession, org_id: uuid.UUID) -> TeamsInstallation | None:
    return await db.scalar(org_select(TeamsInstallation, org_scope(org_id)))


async def uninstall(db: AsyncSession, who: Principal) -> None:
    """Forget the tokens (Microsoft's v2 endpoint has no per-token revocation: the admin
    removes the app's consent in Entra ID to invalidate the refresh token there too)."""
    row = await db.scalar(org_select(TeamsInstallation, who).with_for_update())
    if row is None:
        raise TeamsNotInstalled("Teams is not installed for this organization.")
    await audit.record(db, "teams.uninstalled", who=who, target=row,
                       details={"tenant_id": row.tenant_id})  # fmt: skip
    await db.delete(row)
    await db.flush()


def usable_tokens(cipher: OrgCipher, row: TeamsInstallation) -> tuple[str | None, str | None]:
    """(the access token if it is valid for five more minutes, else None; the refresh token)."""
    refresh = None
    if row.refresh_token_encrypted is not None:
        refresh = cipher.open_column(REFRESH_TOKEN, row).decode()
    if row.expires_at - REFRESH_MARGIN > clock.now():
        return cipher.open_column(ACCESS_TOKEN, row).decode(), refresh
    return None, refresh


async def refresh_tokens(settings: Settings, tenant: str, refresh: str | None) -> _Tokens:
    """New tokens from the refresh token (network only: call it outside a transaction)."""
    if not refresh:
        raise GraphError("token", "no_refresh_token", transient=False)
    data = await _token(settings, tenant, {"grant_type": "refresh_token", "refresh_token": refresh})
    return _tokens(data)


async def store_tokens(
    db: AsyncSession, settings: Settings, row: TeamsInstallation, tokens: _Tokens
) -> None:
    """Seal refreshed tokens (Microsoft rotates the refresh token too)."""
    await _seal(db, settings, row, tokens)
    await db.flush()


async def post_card(
    settings: Settings, token: str, team_id: str, channel_id: str, card: dict[str, Any]
) -> None:
    """``POST /v1.0/teams/{team}/channels/{channel}/messages`` with the Adaptive Card as an
    attachment (Graph's chatMessage)."""
    attachment_id = uuid.uuid4().hex

    message = {
        "body": {
            "contentType": "html",
            "content": f'<attachment id="{attachment_id}"></attachment>',
        },
        "attachments": [
            {
                "id": attachment_id,
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": json.dumps(card),
            }
        ],
    }
    url = (
        f"{settings.ms_graph_base_url.rstrip('/')}/v1.0/teams/{quote(team_id, safe='')}"
        f"/channels/{quote(channel_id, safe='')}/messages"
    )
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
            answer = await client.post(
                url, json=message, headers={"Authorization": f"Bearer {token}"}
            )
    except httpx.HTTPError as exc:
        raise GraphError("Graph", f"unreachable ({type(exc).__name__})", transient=True) from None
    if answer.status_code in (200, 201):
        return
    try:
        code = str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = f"HTTP {answer.status_code}"
    transient = answer.status_code == 429 or answer.status_code >= 500
    raise GraphError("Graph chatMessage", code[:60], transient=transient)
