"""The org's Slack and Teams webhooks as the notification hub's fallback chat target.

Section 25: the org's incoming webhook receives anomalies (medium and above: the hub's severity
rule), budget alerts, the weekly digest, the daily digest, the weekly summary and failed syncs,
unless the org routes notifications to channels of its own (a ``hub.channel_routing`` check
says so): then none of them, the channels' routing decides (``channels.routing``). The URL
stays sealed in the settings row; the hub reads it at send time through ``service.webhook_url``."""

import uuid
from collections.abc import Sequence
from typing import Final

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.notifications.events import Notification, NotificationType
from xplorr.notifications.hub import (
    Target,
    WebhookTarget,
    routes_to_channels,
    target_source,
    webhook_source,
)
from xplorr.notifications.models import Channel
from xplorr.settings import service
from xplorr.settings.models import OrgSetting

ORG_WEBHOOK_TYPES: Final = frozenset(
    {
        NotificationType.ANOMALY_DETECTED,
        NotificationType.BUDGET_ALERT,
        NotificationType.PROJECTED_OVERRUN,
        NotificationType.SYNC_FAILED,
        NotificationType.WEEKLY_DIGEST,
        NotificationType.DAILY_DIGEST,
        NotificationType.WEEKLY_SUMMARY,
    }
)

webhook_source(service.WEBHOOK_SOURCE)(service.webhook_url)


@target_source(service.WEBHOOK_SOURCE)
async def org_webhooks(db: AsyncSession, event: Notification) -> Sequence[Target]:
    if event.type not in ORG_WEBHOOK_TYPES or not event.webhooks:
        return []
    org = await service.get_org_settings(db, event.org_id)
    if not (org.has_slack_webhook or org.has_teams_webhook):
        return []
    if await routes_to_channels(db, event.org_id):
        return []
    found: list[Target] = []
    if org.has_slack_webhook:
        found.append(WebhookTarget(Channel.SLACK, service.WEBHOOK_SOURCE, event.org_id))
    if org.has_teams_webhook:
        found.append(WebhookTarget(Channel.TEAMS, service.WEBHOOK_SOURCE, event.org_id))
    return found


def orgs_with_webhooks() -> Select[uuid.UUID]:
    """The organizations that set a Slack or Teams webhook (a fan-out's ``orgs``: the daily
    digest's chat post runs for these only)."""
    return select(OrgSetting.org_id).where(
        or_(
            OrgSetting.slack_webhook_encrypted.is_not(None),
            OrgSetting.teams_webhook_encrypted.is_not(None),
        )
    )
