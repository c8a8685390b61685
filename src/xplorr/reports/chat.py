"""The daily digest and the weekly summary in the organization's chat (section 25): posted
through the notification hub as ``DailyDigest`` and ``WeeklySummary`` events, one per currency
(never added together), which the hub sends to the org's Slack and Teams webhooks (rendered as
Block Kit and Adaptive Cards by ``notifications.render``) or to the channels that route them.

- **Daily**: at the org's ``digest_time`` in its ``timezone`` (settings; 09:00 UTC unless
  changed), for the local yesterday, when ``digest_enabled`` is on. A job per org runs every 15
  minutes; the first run past the time posts, the audit row ``daily_digest.posted`` (the day as
  its name) keeps later runs from posting again, and the hub's event key keeps a retried run
  from posting twice.
- **Weekly**: with the Monday weekly summary job, when ``weekly_summary_enabled`` is on.

Both read the whole organization (``org_scope``: every cloud account): a channel's readers are
the organization's, not one user. Nothing is built for an org without a chat destination.
"""

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import audit
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs import cron as crontab
from xplorr.core.report_sections import Section
from xplorr.core.tenancy import org_scope
from xplorr.notifications import notify
from xplorr.notifications.events import DailyDigest, ServiceSpend, Severity, WeeklySummary
from xplorr.notifications.hub import routes_to_channels
from xplorr.reports import digests, service
from xplorr.settings import service as org_settings

DAILY_RESOURCE: Final = "daily_digest"
WEEKLY_RESOURCE: Final = "weekly_summary_chat"
_SEVERITIES: Final = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


async def has_chat(db: AsyncSession, org_id: uuid.UUID) -> bool:
    """Whether anything in chat would receive the org's digests."""
    org = await org_settings.get_org_settings(db, org_id)
    if org.has_slack_webhook or org.has_teams_webhook:
        return True
    return await routes_to_channels(db, org_id)


async def _posted(db: AsyncSession, org_id: uuid.UUID, resource: str, day: date) -> bool:
    found = await db.scalar(
        select(AuditEntry.id).where(
            AuditEntry.org_id == org_id,
            AuditEntry.resource_type == resource,
            AuditEntry.resource_name == day.isoformat(),
        )
    )
    return found is not None


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


def _anomalies(sections: tuple[Section, ...]) -> tuple[int, Severity | None]:
    """The anomalies section's count and highest severity (0, None without the section)."""
    for section in sections:
        if section.key != "anomalies":
            continue
        figures = {f.label: f.value for f in section.figures}
        count = figures.get("Anomalies")
        worst = next(
            (
                s
                for s in _SEVERITIES
                if isinstance(v := figures.get(s.value.capitalize()), int) and v
            ),
            None,
        )
        return (count if isinstance(count, int) else 0), worst
    return 0, None


def _recommendations(sections: tuple[Section, ...]) -> tuple[int, dict[str, Decimal]]:
    """The recommendations section's open count and potential savings per currency (0 and none
    without the section)."""
    for section in sections:
        if section.key != "recommendations":
            continue
        count = next((f.value for f in section.figures if f.label == "Open recommendations"), 0)
        savings = {
            f.currency: f.value
            for f in section.figures
            if f.currency is not None and isinstance(f.value, Decimal)
        }
        return (count if isinstance(count, int) else 0), savings
    return 0, {}


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
    digest = await digests.build_digest(db, org_scope(org_id), day)
    count, worst = _anomalies(digest.sections)
    for c in digest.currencies:
        await notify(
            db,
            DailyDigest(
                org_id=org_id,
                day=day,
                currency=c.currency,
                yesterday=c.yesterday,
                average_7_days=c.average_7_days,
                change_percent=c.change_percent,
                top_services=tuple(
                    ServiceSpend(
                        service=s.name, amount=s.month_to_date, previous=s.previous_month_same_days
                    )
                    for s in c.top_services
                ),
                forecast=c.forecast,
                new_anomalies=count,
                highest_severity=worst,
            ),
        )
    currencies = [c.currency for c in digest.currencies]
    return await _mark(db, org_id, "daily_digest.posted", DAILY_RESOURCE, day, currencies)


async def post_weekly(db: AsyncSession, org_id: uuid.UUID, start: date, end: date) -> int:
    """Post the org's weekly summary of ``start..end`` (a Monday-Sunday) once.
    -> the number of events posted (one per currency)."""
    org = await org_settings.get_org_settings(db, org_id)
    if not org.weekly_summary_enabled or await _posted(db, org_id, WEEKLY_RESOURCE, start):
        return 0
    if not await has_chat(db, org_id):
        return 0
    report = await service.build_report(
        db, org_scope(org_id), service.ReportRequest(start=start, end=end)
    )
    count, _worst = _anomalies(report.sections)
    open_count, potential = _recommendations(report.sections)
    for c in report.currencies:
        await notify(
            db,
            WeeklySummary(
                org_id=org_id,
                week_start=start,
                week_end=end,
                currency=c.currency,
                total=c.total,
                previous_total=c.previous_total,
                top_services=tuple(
                    ServiceSpend(service=line.name, amount=line.cost) for line in c.by_service[:5]
                ),
                anomalies=count,
                open_recommendations=open_count,
                potential_savings=potential.get(c.currency),
            ),
        )
    currencies = [c.currency for c in report.currencies]
    return await _mark(db, org_id, "weekly_summary.posted", WEEKLY_RESOURCE, start, currencies)
