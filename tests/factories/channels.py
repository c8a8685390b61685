"""Channel routes and Slack installations (rows; the install flow is tested through OAuth)."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import _test_settings
from xplorr.channels.models import ChannelConfig, ChatProvider, ScopeType
from xplorr.core import clock
from xplorr.core.crypto import OrgCipher
from xplorr.orgs.models import Org
from xplorr.slack.models import BOT_TOKEN, SlackInstallation
from xplorr.users.models import User


async def make_channel(
    db: AsyncSession,
    org: Org,
    *,
    channel_id: str | None = None,
    name: str = "#costs",
    provider: ChatProvider = ChatProvider.SLACK,
    scope_type: ScopeType = ScopeType.ALL,
    scope_values: list[str] | None = None,
    notify: dict[str, Any] | None = None,
    is_default: bool = False,
) -> ChannelConfig:
    row = ChannelConfig(
        id=uuid.uuid4(),
        org_id=org.id,
        provider=provider,
        channel_id=channel_id or f"C{uuid.uuid4().hex[:8].upper()}",
        channel_name=name,
        scope_type=scope_type,
        scope_values=scope_values or [],
        notify=notify or {},
        timezone="UTC",
        is_default=is_default,
    )
    db.add(row)
    await db.commit()
    return row


async def make_slack_install(
    db: AsyncSession,
    org: Org,
    *,
    team_id: str = "T001",
    token: str = "xoxb-test",  # noqa: S107 (a test token)
) -> SlackInstallation:
    """An installation whose bot token is sealed like the OAuth flow seals it."""
    row = SlackInstallation(
        id=uuid.uuid4(),
        org_id=org.id,
        team_id=team_id,
        team_name="Acme Slack",
        scopes="chat:write,users:read,users:read.email",
        bot_user_id="UBOT",
        installed_at=clock.now(),
    )
    cipher = await OrgCipher.load(db, _test_settings(), org.id)
    await cipher.seal_column(db, BOT_TOKEN, row, token.encode())
    db.add(row)
    await db.commit()
    return row


async def _tenant_channel(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_channel(db, org)).id


TENANT_FACTORIES = {ChannelConfig: _tenant_channel}
