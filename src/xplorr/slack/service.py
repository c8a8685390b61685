"""The Slack app: install through OAuth v2, the installation, uninstall, and the bot's posts.

Install: ``start_install`` hands out a state (``channels.oauth_state``: single use, 10 minutes,
bound to the org and the admin) inside Slack's authorize URL; ``finish_install`` consumes it,
re-checks that its admin still is one, exchanges the code with ``oauth.v2.access`` and stores
the bot token (and the incoming webhook's URL, if granted) sealed under the org's data key
(``core.secrets``: ``xplorr keys rotate`` re-seals them). A Slack workspace belongs to one org:
interactions from it must name exactly one.
"""

import uuid
from urllib.parse import urlencode

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels import oauth_state
from xplorr.channels.models import ChannelConfig, ChatProvider
from xplorr.core import audit, clock
from xplorr.core.crypto import OrgCipher
from xplorr.core.errors import Conflict, NotFound, Upstream
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Role, org_scope, org_select
from xplorr.notifications import webhooks
from xplorr.settings import service as org_settings
from xplorr.settings.schemas import SlackTestOut
from xplorr.slack import api
from xplorr.slack.models import BOT_TOKEN, INCOMING_WEBHOOK, SlackInstallation
from xplorr.slack.schemas import SlackInstallationOut
from xplorr.users.models import User, UserStatus

log = structlog.get_logger("xplorr.slack")

# What the features need: post to channels (joined or public), read channel names for the
# routing form, read users' emails to map an acting Slack user to an Xplorr user, and the
# incoming webhook the install page offers.
BOT_SCOPES = (
    "chat:write",
    "chat:write.public",
    "channels:read",
    "groups:read",
    "users:read",
    "users:read.email",
    "incoming-webhook",
)
REDIRECT_PATH = "/api/v1/slack/oauth_redirect"


class SlackNotConfigured(Conflict):
    code = "SLACK_NOT_CONFIGURED"


class TeamInUse(Conflict):
    code = "SLACK_TEAM_IN_USE"


class SlackNotInstalled(NotFound):
    code = "SLACK_NOT_INSTALLED"


class SlackUpstream(Upstream):
    code = "SLACK_API_ERROR"


def redirect_uri(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + REDIRECT_PATH


def require_configured(settings: Settings, *, interactions: bool = False) -> None:
    """409 ``SLACK_NOT_CONFIGURED`` naming the settings the operator must set."""
    missing = []
    if not settings.slack.client_id:
        missing.append("XPLORR_SLACK_CLIENT_ID")
    if settings.slack.client_secret is None:
        missing.append("XPLORR_SLACK_CLIENT_SECRET")
    if interactions and settings.slack.signing_secret is None:
        missing.append("XPLORR_SLACK_SIGNING_SECRET")
    if missing:
        raise SlackNotConfigured(
            "The Slack app is not configured on this installation: the operator must set "
            f"{', '.join(missing)} (from the Slack app's Basic Information page) and restart."
        )


async def start_install(db: AsyncSession, who: Principal, settings: Settings) -> str:
    """Slack's authorize URL for this admin, with a fresh state."""
    require_configured(settings)
    state = await oauth_state.issue(db, who, ChatProvider.SLACK)
    query = urlencode(
        {
            "client_id": settings.slack.client_id,
            "scope": ",".join(BOT_SCOPES),
            "user_scope": "",
            "redirect_uri": redirect_uri(settings),
            "state": state,
        }
    )
    return f"{api.authorize_url(settings)}?{query}"


async def finish_install(
    db: AsyncSession,
    settings: Settings,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    caller: Principal | None,
) -> SlackInstallation:
    """The callback: state (consumed whatever happens next: ``commit=True`` errors keep it
    spent), consent, code exchange, sealed storage. ``caller``, when the callback carries a
    token, must be the admin the state was issued to."""
    require_configured(settings)
    accepted = await oauth_state.accept_callback(
        db, ChatProvider.SLACK, state=state, code=code, error=error, caller=caller, max_code=500
    )
    who = accepted.who
    try:
        answer = await api.oauth_v2_access(settings, accepted.code, redirect_uri(settings))
    except api.SlackError as exc:
        log.warning("slack_oauth_failed", org_id=str(who.org_id), error=exc.code)
        raise SlackUpstream(
            f"Slack refused the install ({exc.code}). Start the install again.", commit=True
        ) from None
    token = answer.get("access_token")
    team = answer.get("team") or {}
    if answer.get("token_type") != "bot" or not isinstance(token, str) or not team.get("id"):
        raise SlackUpstream("Slack's answer carried no bot token.", commit=True)
    taken = await db.scalar(
        select(SlackInstallation.org_id).where(
            SlackInstallation.team_id == team["id"], SlackInstallation.org_id != who.org_id
        )
    )
    if taken is not None:
        # Revoke what Slack just issued: it must not outlive a refused install.
        await _revoke_quietly(settings, token)
        raise TeamInUse(
            f"The Slack workspace {team.get('name') or team['id']} is connected to another "
            "Xplorr organization. Disconnect it there first.",
            commit=True,
        )
    row = await db.scalar(org_select(SlackInstallation, who).with_for_update())
    new = row is None
    if row is None:
        row = SlackInstallation(id=uuid.uuid4(), org_id=who.org_id)
    hook = answer.get("incoming_webhook") or {}
    row.team_id = str(team["id"])
    row.team_name = str(team.get("name") or team["id"])[:200]
    enterprise = answer.get("enterprise") or {}
    row.enterprise_id = enterprise.get("id") if isinstance(enterprise, dict) else None
    row.app_id = answer.get("app_id")
    row.bot_user_id = answer.get("bot_user_id")
    row.scopes = str(answer.get("scope") or "")[:1000]
    row.webhook_channel = hook.get("channel")
    row.webhook_channel_id = hook.get("channel_id")
    row.installed_by = who.user_id
    row.installed_at = clock.now()
    cipher = await OrgCipher.load(db, settings, who.org_id)
    await cipher.seal_column(db, BOT_TOKEN, row, token.encode())
    if isinstance(hook.get("url"), str):
        await cipher.seal_column(db, INCOMING_WEBHOOK, row, hook["url"].encode())
    else:
        row.webhook_url_encrypted = None
        row.webhook_key_version = None
    if new:
        db.add(row)  # only once sealed: the cipher's queries autoflush pending rows
    await db.flush()
    await audit.record(
        db,
        "slack.installed",
        who=who,
        target=row,
        details={"team_id": row.team_id, "scopes": row.scopes, "channel": row.webhook_channel},
    )
    return row


async def _revoke_quietly(settings: Settings, token: str) -> None:
    try:
        await api.auth_revoke(settings, token)
    except api.SlackError as exc:
        log.warning("slack_revoke_failed", error=exc.code)


async def installation_of(db: AsyncSession, org_id: uuid.UUID) -> SlackInstallation | None:
    return await db.scalar(org_select(SlackInstallation, org_scope(org_id)))


async def get_installation(db: AsyncSession, who: Principal) -> SlackInstallationOut:
    row = await installation_of(db, who.org_id)
    if row is None:
        return SlackInstallationOut(installed=False)
    email = None
    if row.installed_by is not None:
        email = await db.scalar(
            select(User.email).where(User.id == row.installed_by, User.org_id == who.org_id)
        )
    return SlackInstallationOut(
        installed=True,
        team_id=row.team_id,
        team_name=row.team_name,
        channel=row.webhook_channel,
        bot_user_id=row.bot_user_id,
        scopes=[s for s in row.scopes.split(",") if s],
        installed_by=row.installed_by,
        installed_by_email=email,
        installed_at=row.installed_at,
    )


async def bot_token(db: AsyncSession, settings: Settings, row: SlackInstallation) -> str:
    cipher = await OrgCipher.load(db, settings, row.org_id)
    return cipher.open_column(BOT_TOKEN, row).decode()


async def webhook_url(db: AsyncSession, settings: Settings, row: SlackInstallation) -> str | None:
    if row.webhook_url_encrypted is None:
        return None
    cipher = await OrgCipher.load(db, settings, row.org_id)
    return cipher.open_column(INCOMING_WEBHOOK, row).decode()


async def uninstall(db: AsyncSession, who: Principal, settings: Settings) -> None:
    """Revoke the bot token with ``auth.revoke``, then delete the installation. A token Slack
    already considers revoked is simply deleted; Slack unreachable: 502, nothing deleted (the
    admin retries; a token must not stay valid at Slack while Xplorr forgot it)."""
    row = await db.scalar(org_select(SlackInstallation, who).with_for_update())
    if row is None:
        raise SlackNotInstalled("Slack is not installed for this organization.")
    token = await bot_token(db, settings, row)
    try:
        await api.auth_revoke(settings, token)
    except api.SlackError as exc:
        if exc.code not in api.GONE:
            raise SlackUpstream(
                f"Slack could not revoke the token ({exc.code}); nothing was changed. Try again.",
            ) from None
    await audit.record(db, "slack.uninstalled", who=who, target=row,
                       details={"team_id": row.team_id})  # fmt: skip
    await db.delete(row)
    await db.flush()


async def installation_for_team(db: AsyncSession, team_id: str) -> SlackInstallation | None:
    """The installation a Slack workspace belongs to: interactions arrive without an org."""
    return await db.scalar(select(SlackInstallation).where(SlackInstallation.team_id == team_id))


async def send_test(db: AsyncSession, settings: Settings, org_id: uuid.UUID) -> SlackTestOut | None:
    """``POST /settings/slack/test`` for an org without a Slack webhook of its own (registered
    with the settings area by ``jobs``): the test message goes where the app posts the org's
    unrouted notifications, the default channel when it is a Slack one (``chat.postMessage``
    by the bot), else the incoming webhook the install granted. None: the app is not
    installed or has neither. Slack's refusal (``channel_not_found``, ``not_in_channel``) is
    an answer (``ok`` false); Slack not reached is a 502."""
    install = await installation_of(db, org_id)
    if install is None:
        return None
    default = await db.scalar(
        org_select(ChannelConfig, org_scope(org_id)).where(
            ChannelConfig.is_default, ChannelConfig.provider == ChatProvider.SLACK
        )
    )
    if default is not None:
        message = org_settings.test_message()
        target = f"{default.channel_name} ({default.channel_id})"
        token = await bot_token(db, settings, install)
        try:
            await api.post_message(
                settings, token, default.channel_id, message["text"], message["blocks"]
            )
        except api.SlackError as exc:
            if exc.status_code is None:
                raise SlackUpstream(f"Slack could not be reached ({exc.code}).") from None
            return SlackTestOut(
                ok=False,
                via="default_channel",
                target=target,
                status_code=exc.status_code,
                response=org_settings.slack_word(exc.code),
            )
        return SlackTestOut(
            ok=True, via="default_channel", target=target, status_code=200, response="ok"
        )
    url = await webhook_url(db, settings, install)
    if url is None:
        return None
    return await org_settings.post_test_to_webhook(
        settings,
        url,
        via="app_webhook",
        target=f"{install.webhook_channel or 'incoming webhook'} ({webhooks.mask(url)})",
        field="slack_installation",
    )


MAX_MENTIONS = 20  # admins tagged on one approval request (one users.lookupByEmail each)


async def admin_emails(db: AsyncSession, org_id: uuid.UUID) -> list[str]:
    """The verified emails of the org's active owners and admins (who may decide an
    approval), the first ``MAX_MENTIONS`` by address."""
    found = await db.scalars(
        select(User.email)
        .where(
            User.org_id == org_id,
            User.status == UserStatus.ACTIVE,
            User.role.in_([Role.OWNER, Role.ADMIN]),
            User.email_verified_at.is_not(None),
        )
        .order_by(User.email)
        .limit(MAX_MENTIONS)
    )
    return list(found.all())


async def slack_user_ids(settings: Settings, token: str, emails: list[str]) -> list[str]:
    """The Slack user ids of ``emails`` in the bot's workspace (``users.lookupByEmail``);
    an address Slack does not know is left out. A failed lookup (rate limit, outage, a token
    without ``users:read.email``) ends the lookups with what was found: the message still
    goes, with fewer mentions, rather than waiting on them."""
    found: list[str] = []
    for email in emails:
        try:
            ident = await api.user_id_by_email(settings, token, email)
        except api.SlackError as exc:
            log.warning("slack_admin_lookup_failed", error=exc.code)
            break
        if ident is not None and ident not in found:
            found.append(ident)
    return found
