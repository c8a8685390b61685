"""Scheduled reports: CRUD, and the send of one slot (run by the ``reports.send_scheduled`` job).

**When.** ``frequency`` + ``day_of_month`` (1-28) / ``day_of_week`` (0 Monday) + ``hour`` become
a cron expression read on the wall clock of ``timezone`` (``core.jobs.cron``); the platform's
due scanner (``core.jobs.periodic``) enqueues one send per fire time and moves ``next_run_at``
on. A send covers, in that zone: *daily* the day before the send, *weekly* the 7 days before,
*monthly* the previous calendar month.

**As whom.** Each send runs as the schedule's owner (``created_by``) *as they are now*
(``users.principals.principal_for_user``): a grant removed since the schedule was created
narrows the next report. **A deactivated (or deleted) owner's schedules stop**: the next send
pauses the schedule (``is_active`` false, ``next_run_at`` NULL, ``last_error`` says why, an
audit row ``scheduled_report.paused``) and sends nothing, so no one's access outlives them. An
admin who edits a stopped schedule becomes its owner and may turn it back on.

**Once per slot.** ``last_slot_at`` keeps the fire time of the last slot sent: a retried or
duplicated job for a slot already sent does nothing. Mail goes through the outbox (one message
per recipient with the file attached, each retried by ``email.send``). Recipients outside the
organization are allowed; every send writes an audit row ``scheduled_report.sent`` naming the
recipients and which of them are not users of the organization.
"""

import asyncio
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, email
from xplorr.core.errors import NotFound
from xplorr.core.jobs import cron as crontab
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_scope, org_select
from xplorr.reports import service
from xplorr.reports.formatting import amount, percent
from xplorr.reports.model import Report
from xplorr.reports.models import ScheduledReport
from xplorr.reports.render import render
from xplorr.reports.schemas import (
    ScheduledReportCreate,
    ScheduledReportOut,
    ScheduledReportUpdate,
)
from xplorr.settings import service as org_settings
from xplorr.users.models import User
from xplorr.users.principals import principal_for_user

CONTENT_TYPES: Final = {
    "pdf": ("pdf", "application/pdf"),
    "excel": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
OWNER_GONE: Final = (
    "Stopped: the user who set up this report was deactivated or removed. An admin who edits "
    "it becomes its owner and can turn it back on."
)


def cron_of(frequency: str, day_of_month: int | None, day_of_week: int | None, hour: int) -> str:
    """The cron expression of a schedule (cron's day of week: 0 Sunday; ours: 0 Monday)."""
    if frequency == "daily":
        return f"0 {hour} * * *"
    if frequency == "weekly":
        return f"0 {hour} * * {((day_of_week or 0) + 1) % 7}"
    return f"0 {hour} {day_of_month or 1} * *"


def period_of(frequency: str, send_day: date) -> tuple[date, date]:
    """The days a send on ``send_day`` (local) covers."""
    if frequency == "daily":
        day = send_day - timedelta(days=1)
        return day, day
    if frequency == "weekly":
        return send_day - timedelta(days=7), send_day - timedelta(days=1)
    last = send_day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _out(row: ScheduledReport) -> ScheduledReportOut:
    return ScheduledReportOut.model_validate(row)


def _recipients(values: list[str]) -> list[str]:
    """Lower-cased, duplicates dropped, order kept."""
    return list(dict.fromkeys(v.strip().lower() for v in values))


def _apply_schedule(row: ScheduledReport) -> None:
    row.cron = cron_of(row.frequency, row.day_of_month, row.day_of_week, row.hour)
    crontab.check(row.cron, row.timezone)
    if row.is_active:
        row.reschedule()
    else:
        row.next_run_at = None


async def _check_account(db: AsyncSession, who: Principal, account_id: uuid.UUID | None) -> None:
    if account_id is not None:
        await get_in_org(db, CloudAccount, account_id, who)


async def list_scheduled(
    db: AsyncSession, who: Principal, params: PageParams
) -> Page[ScheduledReportOut]:
    stmt = org_select(ScheduledReport, who).order_by(ScheduledReport.created_at, ScheduledReport.id)
    return await paginate(db, stmt, params, _out)


async def get_scheduled(
    db: AsyncSession, who: Principal, report_id: uuid.UUID
) -> ScheduledReportOut:
    return _out(await get_in_org(db, ScheduledReport, report_id, who))


async def create_scheduled(
    db: AsyncSession, who: Principal, data: ScheduledReportCreate
) -> ScheduledReportOut:
    await _check_account(db, who, data.cloud_account_id)
    org = await org_settings.get_org_settings(db, who.org_id)
    row = ScheduledReport(
        id=uuid.uuid4(),
        org_id=who.org_id,
        name=data.name,
        frequency=data.frequency,
        day_of_month=data.day_of_month if data.frequency == "monthly" else None,
        day_of_week=data.day_of_week if data.frequency == "weekly" else None,
        hour=data.hour,
        timezone=data.timezone or org.timezone,
        recipients=_recipients([str(r) for r in data.recipients]),
        cloud_account_id=data.cloud_account_id,
        format=data.format,
        is_active=data.is_active,
        created_by=who.user_id,
    )
    _apply_schedule(row)
    db.add(row)
    await db.flush()
    await audit.record(
        db,
        "scheduled_report.created",
        who=who,
        target=row,
        details={"frequency": row.frequency, "format": row.format, "recipients": row.recipients},
    )
    return _out(row)


async def update_scheduled(
    db: AsyncSession, who: Principal, report_id: uuid.UUID, data: ScheduledReportUpdate
) -> ScheduledReportOut:
    row = await get_in_org(db, ScheduledReport, report_id, who, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "frequency", "hour", "timezone", "format", "is_active"):
        if key in changes and changes[key] is None:
            changes.pop(key)  # null for a required field: left as it is
    if "cloud_account_id" in changes:
        await _check_account(db, who, changes["cloud_account_id"])
    if "recipients" in changes:
        if changes["recipients"] is None:
            changes.pop("recipients")
        else:
            changes["recipients"] = _recipients([str(r) for r in changes["recipients"]])
    for key, value in changes.items():
        setattr(row, key, value)
    if row.frequency == "monthly":
        row.day_of_month, row.day_of_week = row.day_of_month or 1, None
    elif row.frequency == "weekly":
        row.day_of_week = 0 if row.day_of_week is None else row.day_of_week
        row.day_of_month = None
    else:
        row.day_of_month = row.day_of_week = None
    owner = None
    if row.created_by is not None:
        owner = await principal_for_user(db, row.created_by, org_id=row.org_id)
    if owner is None:  # the owner is gone: the admin editing it takes it over
        row.created_by = who.user_id
        changes["created_by"] = str(who.user_id)
    if row.is_active and row.last_error == OWNER_GONE:
        row.last_error = None
    _apply_schedule(row)
    row.updated_at = clock.now()
    await audit.record(db, "scheduled_report.updated", who=who, target=row, details=changes)
    return _out(row)


async def delete_scheduled(db: AsyncSession, who: Principal, report_id: uuid.UUID) -> None:
    row = await get_in_org(db, ScheduledReport, report_id, who, for_update=True)
    await audit.record(db, "scheduled_report.deleted", who=who, target=row)
    await db.delete(row)


# --- sending ------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "report"


async def _org_users(db: AsyncSession, who: Scope, addresses: list[str]) -> set[str]:
    """Which of ``addresses`` are users of ``who``'s organization."""
    rows = await db.scalars(
        org_select(User, who)
        .where(func.lower(User.email).in_(addresses))
        .with_only_columns(func.lower(User.email))
    )
    return set(rows.all())


async def _pause(db: AsyncSession, row: ScheduledReport, reason: str) -> None:
    row.is_active = False
    row.next_run_at = None
    row.last_error = reason
    await audit.record(
        db,
        "scheduled_report.paused",
        org_id=row.org_id,
        target=row,
        details={"reason": reason},
    )


def _email_context(
    row: ScheduledReport, report: Report, owner: Principal, filename: str, settings: Settings
) -> dict[str, Any]:
    return {
        "report_name": row.name,
        "org_name": report.org_name,
        "period": f"{report.start.isoformat()} to {report.end.isoformat()}",
        "filename": filename,
        "totals": [
            {
                "currency": cr.currency,
                "total": amount(cr.total, cr.currency),
                "change": percent(cr.change_percent),
            }
            for cr in report.currencies
        ],
        "owner_email": owner.email,
        "link": email.link(settings, "/reports/scheduled"),
    }


class SendProblem(Exception):
    """A send that cannot succeed as the schedule stands (its cloud account is no longer
    visible to its owner): recorded on the row, not retried."""


async def send_slot(
    db: AsyncSession,
    settings: Settings,
    org_id: uuid.UUID,
    report_id: uuid.UUID,
    due_at: datetime,
    *,
    release: Any = None,
) -> bool:
    """Send the slot ``due_at`` of one scheduled report, once. -> whether mail was queued.
    ``release``: an awaitable factory ending the read-only transaction before rendering (the
    job's ``release_connection``), so no connection is held while the file is drawn."""
    scope = org_scope(org_id)
    row = await db.scalar(org_select(ScheduledReport, scope).where(ScheduledReport.id == report_id))
    if row is None or not row.is_active:
        return False
    if row.last_slot_at is not None and row.last_slot_at >= due_at:
        return False  # this slot was sent already (a retry, or a duplicate job)
    owner = None
    if row.created_by is not None:
        owner = await principal_for_user(db, row.created_by, org_id=org_id)
    if owner is None:
        await _pause(db, row, OWNER_GONE)
        return False
    send_day = due_at.astimezone(crontab.zone(row.timezone)).date()
    start, end = period_of(row.frequency, send_day)
    try:
        report = await service.build_report(
            db,
            owner,
            service.ReportRequest(start=start, end=end, account_id=row.cloud_account_id),
        )
    except NotFound as exc:
        raise SendProblem(
            "The report's cloud account is not visible to the report's owner any more."
        ) from exc
    recipients = list(row.recipients)
    internal = await _org_users(db, scope, recipients)
    fmt, name, frequency = row.format, row.name, row.frequency
    if release is not None:
        await release()
    ext, content_type = CONTENT_TYPES[fmt]
    data = await asyncio.to_thread(render, report, "pdf" if fmt == "pdf" else "excel")
    filename = f"{_slug(name)}-{start.isoformat()}-{end.isoformat()}.{ext}"
    row = await db.scalar(
        org_select(ScheduledReport, scope).where(ScheduledReport.id == report_id).with_for_update()
    )
    if row is None or (row.last_slot_at is not None and row.last_slot_at >= due_at):
        return False
    attachment = email.Attachment(filename, content_type, data)
    context = _email_context(row, report, owner, filename, settings)
    for to in recipients:
        await email.queue_email(
            db,
            to=to,
            template="scheduled_report",
            context=context,
            org_id=org_id,
            attachments=[attachment],
        )
    now = clock.now()
    row.last_sent_at, row.last_slot_at, row.last_error = now, due_at, None
    await audit.record(
        db,
        "scheduled_report.sent",
        who=owner,
        target=row,
        details={
            "frequency": frequency,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "format": fmt,
            "filename": filename,
            "bytes": len(data),
            "recipients": recipients,
            "external_recipients": [r for r in recipients if r not in internal],
            "slot": due_at.isoformat(),
        },
    )
    return True


async def record_failure(
    db: AsyncSession, org_id: uuid.UUID, report_id: uuid.UUID, error: str
) -> None:
    """The last error of a schedule's send (after each failed attempt)."""
    scope = org_scope(org_id)
    row = await db.scalar(org_select(ScheduledReport, scope).where(ScheduledReport.id == report_id))
    if row is not None:
        row.last_error = error[:2000]
