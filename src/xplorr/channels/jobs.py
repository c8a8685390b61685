"""Channel routing joins the notification hub: a target source choosing the channels of each
event (``routing.channel_targets``), and the sender of routed deliveries, which hands each to
its provider's poster (``routing.POSTERS``: the Slack and Teams bots)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels import routing
from xplorr.channels.models import ChannelConfig
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.core.tenancy import org_scope, org_select
from xplorr.notifications.events import Notification
from xplorr.notifications.hub import channel_routing, channel_sender, target_source
from xplorr.notifications.models import DeliveryStatus, NotificationDelivery

target_source("channel_routing")(routing.channel_targets)


@channel_routing("channels")
async def has_channels(db: AsyncSession, org_id: uuid.UUID) -> bool:
    """While the org routes to channels, its settings webhook is no fallback (settings.jobs)."""
    stmt = org_select(ChannelConfig, org_scope(org_id)).with_only_columns(ChannelConfig.id)
    return await db.scalar(stmt.limit(1)) is not None


@channel_sender(routing.SOURCE)
async def send_routed(
    ctx: JobContext, delivery: NotificationDelivery, event: Notification
) -> DeliveryStatus:
    """Skipped when the route was deleted since; refused for good when its provider has no
    poster (the app's area is not installed in this build)."""
    _, _, raw_id = delivery.target.partition(":")
    config = await ctx.db.scalar(
        org_select(ChannelConfig, org_scope(delivery.org_id)).where(
            ChannelConfig.id == uuid.UUID(raw_id)
        )
    )
    if config is None:
        return DeliveryStatus.SKIPPED
    poster = routing.POSTERS.get(config.provider)
    if poster is None:
        raise PermanentJobError(f"No poster for {config.provider.value} channels.")
    return await poster(ctx, config, event)
