"""Slack's part in notification delivery (registered with the hub and channel routing when the
worker and the API discover the areas' ``jobs`` modules):

- routed deliveries to a Slack channel (``channels.jobs``) are posted by the installed bot with
  ``chat.postMessage`` (Block Kit from the hub's renderer, with the event's action buttons);
- with no channel configured and no Slack webhook in the org settings, the install's incoming
  webhook (if granted) is the fallback target;
- channel routing may target Slack once the app is installed;
- ``POST /settings/slack/test`` without an org webhook posts where the app would
  (``service.send_test``: the default channel, else the install's incoming webhook).
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels import routing
from xplorr.channels import service as channels
from xplorr.channels.models import ChannelConfig, ChatProvider
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.core.settings import Settings
from xplorr.notifications.events import ApprovalNotice, Notification
from xplorr.notifications.hub import WebhookTarget, allowed, webhook_source
from xplorr.notifications.jobs import TransientDeliveryError
from xplorr.notifications.models import Channel, DeliveryStatus
from xplorr.settings import service as org_settings
from xplorr.settings.service import get_org_settings
from xplorr.slack import api, blocks, interactions, service

INSTALL_WEBHOOK = "slack_install_webhook"


async def _installed(db: AsyncSession, org_id: uuid.UUID) -> bool:
    return await service.installation_of(db, org_id) is not None


channels.INSTALLED[ChatProvider.SLACK] = _installed
org_settings.SLACK_APP_TESTS["slack_app"] = service.send_test


async def post_to_channel(
    ctx: JobContext, config: ChannelConfig, event: Notification
) -> DeliveryStatus:
    """Post one routed delivery with the org's bot; Slack's rate limit and outages are retried,
    anything else Slack refuses (``channel_not_found``, ``invalid_auth``) fails at once."""
    install = await service.installation_of(ctx.db, config.org_id)
    if install is None:
        raise PermanentJobError("The Slack app is not installed for this organization.")
    token = await service.bot_token(ctx.db, ctx.settings, install)
    channel_id = config.channel_id
    body = blocks.message(event, ctx.settings, set(interactions.ACTIONS))
    deciders: list[str] = []
    if isinstance(event, ApprovalNotice) and event.status == "requested":
        deciders = await service.admin_emails(ctx.db, config.org_id)
    await ctx.release_connection()
    if deciders:  # the request tags the admins who can decide it (product-notes section 15)
        mentions = await service.slack_user_ids(ctx.settings, token, deciders)
        body = blocks.mention_admins(body, mentions)
    try:
        await api.post_message(ctx.settings, token, channel_id, body["text"], body["blocks"])
    except api.SlackError as exc:
        if exc.transient:
            raise TransientDeliveryError(f"Slack chat.postMessage: {exc.code}.") from None
        raise PermanentJobError(f"Slack refused chat.postMessage: {exc.code}.") from None
    return DeliveryStatus.SENT


routing.POSTERS[ChatProvider.SLACK] = post_to_channel


async def _install_webhook_targets(db: AsyncSession, event: Notification) -> list[WebhookTarget]:
    install = await service.installation_of(db, event.org_id)
    if install is None or install.webhook_url_encrypted is None:
        return []
    if (await get_org_settings(db, event.org_id)).has_slack_webhook:
        return []  # the org's own webhook setting is the fallback (settings.jobs)
    target = WebhookTarget(Channel.SLACK, INSTALL_WEBHOOK, install.id)
    return [target] if allowed(event, target) else []


routing.FALLBACKS[INSTALL_WEBHOOK] = (10, _install_webhook_targets)


@webhook_source(INSTALL_WEBHOOK)
async def install_webhook_url(
    db: AsyncSession, settings: Settings, org_id: uuid.UUID, source_id: uuid.UUID, _: Channel
) -> str | None:
    install = await service.installation_of(db, org_id)
    if install is None or install.id != source_id:
        return None
    return await service.webhook_url(db, settings, install)
