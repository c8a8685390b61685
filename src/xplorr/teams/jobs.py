"""Teams in channel routing: routed deliveries to a Teams channel (``<team id>/<channel id>``)
are posted through Microsoft Graph with the hub's Adaptive Card; Teams channels may be routed
to once the app is installed."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels import routing
from xplorr.channels import service as channels
from xplorr.channels.models import ChannelConfig, ChatProvider
from xplorr.core.crypto import OrgCipher
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.notifications import render
from xplorr.notifications.events import Notification
from xplorr.notifications.jobs import TransientDeliveryError
from xplorr.notifications.models import DeliveryStatus
from xplorr.teams import service


async def _installed(db: AsyncSession, org_id: uuid.UUID) -> bool:
    return await service.installation_of(db, org_id) is not None


channels.INSTALLED[ChatProvider.TEAMS] = _installed


async def post_to_channel(
    ctx: JobContext, config: ChannelConfig, event: Notification
) -> DeliveryStatus:
    install = await service.installation_of(ctx.db, config.org_id)
    if install is None:
        raise PermanentJobError("The Teams app is not installed for this organization.")
    team_id, _, channel_id = config.channel_id.partition("/")
    org_id, tenant = install.org_id, install.tenant_id
    cipher = await OrgCipher.load(ctx.db, ctx.settings, org_id)
    token, refresh = service.usable_tokens(cipher, install)
    card = render.teams(event, ctx.settings)["attachments"][0]["content"]
    await ctx.release_connection()
    if token is None:
        try:
            tokens = await service.refresh_tokens(ctx.settings, tenant, refresh)
        except service.GraphError as exc:
            if exc.transient:
                raise TransientDeliveryError(f"Microsoft token endpoint: {exc.code}.") from None
            raise PermanentJobError(f"Microsoft refused the token refresh: {exc.code}.") from None
        install = await service.installation_of(ctx.db, org_id)
        if install is None:
            return DeliveryStatus.SKIPPED  # disconnected meanwhile
        await service.store_tokens(ctx.db, ctx.settings, install, tokens)
        # Committed before the post: a failed post must not lose the rotated refresh token.
        await ctx.db.commit()
        token = tokens.access
    try:
        await service.post_card(ctx.settings, token, team_id, channel_id, card)
    except service.GraphError as exc:
        if exc.transient:
            raise TransientDeliveryError(f"Graph: {exc.code}.") from None
        raise PermanentJobError(f"Graph refused the message: {exc.code}.") from None
    return DeliveryStatus.SENT


routing.POSTERS[ChatProvider.TEAMS] = post_to_channel
