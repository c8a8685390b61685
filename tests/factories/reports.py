"""Scheduled reports for tests: ``make_scheduled(db, org, user, **fields)`` commits one."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.orgs.models import Org
from xplorr.reports.models import DigestSetting, ScheduledReport
from xplorr.reports.scheduling import cron_of
from xplorr.users.models import User


async def make_scheduled(db: AsyncSession, org: Org, user: User, **fields: Any) -> ScheduledReport:
    values: dict[str, Any] = {
        "name": "Monthly CFO Report",
        "frequency": "monthly",
        "day_of_month": 1,
        "day_of_week": None,
        "hour": 8,
        "timezone": "UTC",
        "recipients": ["cfo@example.com"],
        "cloud_account_id": None,
        "format": "pdf",
        "is_active": True,
        "created_by": user.id,
    }
    values.update(fields)
    row = ScheduledReport(id=uuid.uuid4(), org_id=org.id, **values)
    row.cron = cron_of(row.frequency, row.day_of_month, row.day_of_week, row.hour)
    if row.is_active and "next_run_at" not in fields:
        row.reschedule()
    db.add(row)
    await db.commit()
    return row


async def make_digest(db: AsyncSession, org: Org, user: User, **fields: Any) -> DigestSetting:
    values: dict[str, Any] = {
        "recipients": ["team@example.com"],
        "hour": 9,
        "minute": 0,
        "timezone": "UTC",
        "enabled": True,
        "created_by": user.id,
    }
    values.update(fields)
    row = DigestSetting(id=uuid.uuid4(), org_id=org.id, **values)
    row.cron = f"{row.minute} {row.hour} * * *"
    if row.enabled and "next_run_at" not in fields:
        row.reschedule()
    db.add(row)
    await db.commit()
    return row


async def _tenant_digest(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    return (await make_digest(db, org, user)).id


async def _tenant_scheduled(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    return (await make_scheduled(db, org, user)).id


TENANT_FACTORIES = {ScheduledReport: _tenant_scheduled, DigestSetting: _tenant_digest}
