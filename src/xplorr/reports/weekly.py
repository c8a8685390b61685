"""The weekly summary (product-notes.md section 25): every Monday, the previous Monday-Sunday,
emailed to each active user of the organization whose ``weekly_digest`` preference is on
(``users.service.notification_preferences``; on by default), built as that user (their own
grants). Per currency: the week's spend and its change against the week before, spend by
provider, the top movers, the month's forecast; then other areas' sections for the week.

One job per organization (``reports.weekly_summary``, fanned out by the Monday schedule) sends
to every user in one transaction; each send writes the audit row ``weekly_summary.sent`` (the
user as the resource, the week's Monday as its name), which is also what keeps a second run of
the same week from sending again."""

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import audit, email
from xplorr.core.audit import AuditEntry
from xplorr.core.settings import Settings
from xplorr.core.tenancy import org_scope, org_select
from xplorr.reports import service
from xplorr.reports.formatting import amount, cell, percent, share
from xplorr.reports.model import Report
from xplorr.users import service as users_service
from xplorr.users.models import User, UserStatus
from xplorr.users.principals import principal_for_user

RESOURCE = "weekly_summary"


def week_before(today: date) -> tuple[date, date]:
    """The Monday-Sunday before the week holding ``today``."""
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=6)


def _context(report: Report, settings: Settings) -> dict[str, Any]:
    return {
        "org_name": report.org_name,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "currencies": [
            {
                "currency": c.currency,
                "total": amount(c.total, c.currency),
                "previous": amount(c.previous_total, c.currency),
                "change": percent(c.change_percent),
                "providers": [
                    {"name": p.name, "cost": amount(p.cost, c.currency), "share": share(p.share)}
                    for p in c.by_provider
                ],
                "movers": [
                    {
                        "name": m.name,
                        "change": amount(m.change, c.currency),
                        "percent": percent(m.change_percent),
                    }
                    for m in c.top_movers[:5]
                ],
                "forecast": None if c.forecast is None else amount(c.forecast.forecast, c.currency),
            }
            for c in report.currencies
        ],
        "sections": [
            {
                "title": s.title,
                "figures": [
                    {"label": f.label, "value": cell(f.value, f.kind, f.currency)}
                    for f in s.figures
                ],
            }
            for s in report.sections
        ],
        "link": email.link(settings, "/"),
    }


async def _sent_already(
    db: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, monday: date
) -> bool:
    found = await db.scalar(
        select(AuditEntry.id).where(
            AuditEntry.org_id == org_id,
            AuditEntry.action == "weekly_summary.sent",
            AuditEntry.resource_type == RESOURCE,
            AuditEntry.resource_id == str(user_id),
            AuditEntry.resource_name == monday.isoformat(),
        )
    )
    return found is not None


async def send_weekly(db: AsyncSession, settings: Settings, org_id: uuid.UUID, today: date) -> int:
    """Send the summary of the week before ``today`` to the org's users who want it.
    -> the number of emails queued."""
    start, end = week_before(today)
    user_ids = (
        await db.scalars(
            org_select(User, org_scope(org_id))
            .where(User.status == UserStatus.ACTIVE)
            .with_only_columns(User.id)
            .order_by(User.created_at, User.id)
        )
    ).all()
    sent = 0
    for user_id in user_ids:
        who = await principal_for_user(db, user_id, org_id=org_id)
        if who is None or await _sent_already(db, org_id, user_id, start):
            continue
        if not (await users_service.notification_preferences(db, who)).weekly_digest:
            continue
        report = await service.build_report(db, who, service.ReportRequest(start=start, end=end))
        await email.queue_email(
            db,
            to=who.email,
            template="weekly_summary",
            context=_context(report, settings),
            org_id=org_id,
        )
        await audit.record(
            db,
            "weekly_summary.sent",
            who=who,
            resource_type=RESOURCE,
            resource_id=user_id,
            resource_name=start.isoformat(),
            details={"week_start": start.isoformat(), "week_end": end.isoformat()},
        )
        sent += 1
    return sent
