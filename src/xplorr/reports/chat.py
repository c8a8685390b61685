"""The daily digest and the weekly summary in the organization's chat (section 25): posted
through the notification hub as ``DailyDigest`` and ``WeeklySummary`` events, one per currency
(never added together), which the hub sends to the org's Slack and Teams webhooks (rendered as
Block Kit and Adaptive Cards by ``notifications.render``) or to the channels that route them.

- **Daily**: at the org's ``digest_time`` in its ``timezone`` (settings; 09:00 UTC unless
  changed), for the local yesterday, when ``digest_enabled`` is on. A job per org runs every 15
  minutes; the first run past the time posts, the audit row ``daily_digest.posted`` (the day as
  its name) keeps later runs from posting again, and the hub's event key keeps a retried run
  from posting twice.
- **Weekly**: with the Monday weekly summary job, when ``weekly_summary_enabled`` is on: the
  content of ``reports.weekly`` for the whole organization, one event per currency. To the
  webhooks while the org has no channel; then to every channel whose ``digest`` toggle is on
  (``channels.routing`` rule 5, section 25: "goes to every digest-enabled channel"), and no
  longer to the webhooks, as every other notification type (``settings.jobs``).

Both read the whole organization (``org_scope``: every cloud account): a channel's readers are
the organization's, not one user. Nothing is built for an org without a chat destination.

**Channels** (``/channels`` rows; ``post_channel_dailies``). Once an org routes to channels its
webhooks are no fallback (``settings.jobs``), so the daily digest goes per channel instead of
to the webhooks, and a channel never gets two digests a day:

1. A channel that is the destination of an enabled digest setting (``/digest-settings`` with
   ``channel_id``) gets that setting's digest, at its time and time zone, and nothing else.
2. Any other channel whose ``notify.digest`` is on (the default, as every toggle) gets the
   daily digest at the org's ``digest_time`` in the *channel's* ``timezone``, while the org's
   ``digest_enabled`` is on; the audit row ``daily_digest.channel_posted`` (channel id and
   local day as its name) keeps later runs from posting again.
3. Both post the same events (``daily_digest:<day>:<currency>``) to the channel's hub target,
   so even a switch between 1 and 2 within a day adds nothing: the hub keeps one per day.
"""

import uuid
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels.models import ChannelConfig
from xplorr.core import audit
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs import cron as crontab
from xplorr.core.settings import Settings
from xplorr.core.tenancy import org_scope, org_select
from xplorr.notifications import notify
from xplorr.notifications.events import ProviderSpend, ServiceSpend, WeeklySummary
from xplorr.notifications.hub import routes_to_channels
from xplorr.orgs.models import Org
from xplorr.reports import digests, weekly
from xplorr.settings import service as org_settings
from xplorr.settings.jobs import orgs_with_webhooks

DAILY_RESOURCE: Final = "daily_digest"
WEEKLY_RESOURCE: Final = "weekly_summary_chat"
CHANNEL_RESOURCE: Final = "daily_digest_channel"


async def has_chat(db: AsyncSession, org_id: uuid.UUID) -> bool:
    """Whether anything in chat would receive the org's digests."""
    org = await org_settings.get_org_settings(db, org_id)
    if org.has_slack_webhook or org.has_teams_webhook:
        return True
    return await routes_to_channels(db, org_id)


async def _posted(db: AsyncSession, org_id: uuid.UUID, resource: str, day: date) -> bool:
    return await _posted_named(db, org_id, resource, day.isoformat())


async def _mark(
    db: AsyncSession,
    org_id: uuid.UUID,
    action: str,
    resource: str,
    day: date,
    currencies: list[str],
) -> int:
    """The audit row that says this day's post went (what ``_posted`` looks for)."""
    await audit.record(
        db,
        action,
        org_id=org_id,
        resource_type=resource,
        resource_name=day.isoformat(),
        details={"currencies": currencies},
    )
    return len(currencies)


async def post_daily(db: AsyncSession, org_id: uuid.UUID, now: datetime) -> int:
    """Post the org's daily digest if its time has come today and it was not posted yet.
    -> the number of events posted (one per currency)."""
    org = await org_settings.get_org_settings(db, org_id)
    if not org.digest_enabled:
        return 0
    local = now.astimezone(crontab.zone(org.timezone))
    if (local.hour, local.minute) < (org.digest_hour, org.digest_minute):
        return 0
    day = local.date() - timedelta(days=1)
    if await _posted(db, org_id, DAILY_RESOURCE, day) or not await has_chat(db, org_id):
        return 0
    if await routes_to_channels(db, org_id):
        return 0  # each channel gets its own (post_channel_dailies); webhooks are no fallback
    digest = await digests.build_digest(db, org_scope(org_id), day)
    for event in digests.chat_events(org_id, digest):
        await notify(db, event)
    currencies = [c.currency for c in digest.currencies]
    return await _mark(db, org_id, "daily_digest.posted", DAILY_RESOURCE, day, currencies)


async def post_weekly(
    db: AsyncSession,
    settings: Settings,
    org_id: uuid.UUID,
    start: date,
    end: date,
    *,
    insights: weekly.InsightCache | None = None,
) -> int:
    """Post the org's weekly summary of ``start..end`` (a Monday-Sunday) once, through the hub:
    to the org's webhooks, or, once the org routes to channels, to every channel whose
    ``digest`` toggle is on (``channels.routing`` rule 5). -> the number of deliveries queued
    (the audit row ``weekly_summary.posted`` is written only when one was)."""
    org = await org_settings.get_org_settings(db, org_id)
    if not org.weekly_summary_enabled or await _posted(db, org_id, WEEKLY_RESOURCE, start):
        return 0
    if not await has_chat(db, org_id):
        return 0
    summary = await weekly.build_summary(
        db, settings, org_scope(org_id), start, end, insights=insights
    )
    queued = 0
    for c in summary.currencies:
        queued += len(await notify(db, weekly_event(org_id, summary, c)))
    if queued:
        await audit.record(
            db,
            "weekly_summary.posted",
            org_id=org_id,
            resource_type=WEEKLY_RESOURCE,
            resource_name=start.isoformat(),
            details={
                "currencies": [c.currency for c in summary.currencies],
                "deliveries": queued,
                "insight_model": None if summary.insight is None else summary.insight.model,
            },
        )
    return queued


def weekly_event(
    org_id: uuid.UUID, summary: weekly.Summary, c: weekly.CurrencyWeek
) -> WeeklySummary:
    """One currency of the summary as the hub's chat event."""
    return WeeklySummary(
        org_id=org_id,
        week_start=summary.start,
        week_end=summary.end,
        currency=c.currency,
        total=c.total,
        previous_total=c.previous_total,
        change_percent=c.change_percent,
        top_services=tuple(ServiceSpend(service=s.name, amount=s.cost) for s in c.top_services),
        anomalies=summary.anomalies,
        open_recommendations=c.open,
        potential_savings=c.potential_savings,
        providers=tuple(
            ProviderSpend(provider=p.name, amount=p.cost, previous=p.previous) for p in c.providers
        ),
        top_movers=tuple(
            ServiceSpend(service=m.name, amount=m.current, previous=m.previous) for m in c.movers
        ),
        anomaly_excess=c.anomaly_excess,
        recommendations_applied=c.applied,
        savings_realized=c.savings_realized,
        budgets=tuple(b.usage() for b in c.budgets),
        insight=None if summary.insight is None else summary.insight.text,
        insight_model=None if summary.insight is None else summary.insight.model,
    )


def orgs_with_chat() -> Select[uuid.UUID]:
    """The orgs the daily chat digest job runs for: a webhook set, or a channel routed."""
    return select(Org.id).where(
        or_(Org.id.in_(orgs_with_webhooks()), Org.id.in_(select(ChannelConfig.org_id)))
    )


async def post_channel_dailies(db: AsyncSession, org_id: uuid.UUID, now: datetime) -> int:
    """Post the daily digest to each channel whose local digest time has come today and that
    did not get it yet (rule 2 of the module's docstring). -> the number of channels posted."""
    org = await org_settings.get_org_settings(db, org_id)
    if not org.digest_enabled:
        return 0
    channels = (await db.scalars(org_select(ChannelConfig, org_scope(org_id)))).all()
    taken = await digests.channel_destinations(db, org_id)
    built: dict[date, digests.Digest] = {}
    posted = 0
    for channel in sorted(channels, key=lambda c: str(c.id)):
        if channel.id in taken or not channel.notify.get("digest", True):
            continue
        local = now.astimezone(crontab.zone(channel.timezone))
        if (local.hour, local.minute) < (org.digest_hour, org.digest_minute):
            continue
        day = local.date() - timedelta(days=1)
        marker = f"{channel.id}:{day.isoformat()}"
        if await _posted_named(db, org_id, CHANNEL_RESOURCE, marker):
            continue
        if day not in built:
            built[day] = await digests.build_digest(db, org_scope(org_id), day)
        currencies = await digests.post_to_channel(db, org_id, channel, built[day])
        await audit.record(
            db,
            "daily_digest.channel_posted",
            org_id=org_id,
            resource_type=CHANNEL_RESOURCE,
            resource_name=marker,
            details={"channel": channel.audit_name, "currencies": currencies},
        )
        posted += 1
    return posted


async def _posted_named(db: AsyncSession, org_id: uuid.UUID, resource: str, name: str) -> bool:
    found = await db.scalar(
        select(AuditEntry.id).where(
            AuditEntry.org_id == org_id,
            AuditEntry.resource_type == resource,
            AuditEntry.resource_name == name,
        )
    )
    return found is not None
