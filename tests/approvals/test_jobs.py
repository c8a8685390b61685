"""The daily approval expiry through the real job runner (``approvals.fan_out`` ->
``approvals.expire_org`` per organization): requests pending 14 days become ``expired`` in each
organization, audited, the requester notified; younger and decided ones stay; a rerun changes
nothing."""

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.recommendations import make_approval, make_recommendation
from tests.mail import run_jobs
from xplorr.approvals.models import Approval, ApprovalStatus
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.settings import Settings
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def _statuses(db: AsyncSession, ids: list[uuid.UUID]) -> list[ApprovalStatus]:
    await db.rollback()
    rows = {
        a.id: a.status
        for a in await db.scalars(select(Approval).execution_options(populate_existing=True))
    }
    return [rows[i] for i in ids]


async def test_daily_expiry_per_org(
    db: AsyncSession,
    settings: Settings,
    org: Org,
    other_org: Org,
    member: User,
    other_admin: User,
) -> None:
    mine, theirs = await make_account(db, org), await make_account(db, other_org)
    stale = await make_approval(
        db, await make_recommendation(db, mine, savings="900"), member, age=timedelta(days=15)
    )
    young = await make_approval(
        db, await make_recommendation(db, mine, savings="900"), member, age=timedelta(days=13)
    )
    decided = await make_approval(
        db,
        await make_recommendation(db, mine, savings="900"),
        member,
        status=ApprovalStatus.REJECTED,
        age=timedelta(days=20),
    )
    foreign = await make_approval(
        db,
        await make_recommendation(db, theirs, savings="900"),
        other_admin,
        age=timedelta(days=14, minutes=1),
    )
    ids = [stale.id, young.id, decided.id, foreign.id]
    stale_id, foreign_id = str(stale.id), str(foreign.id)
    org_id, other_id, member_email = org.id, other_org.id, member.email
    await queue.enqueue(db, "approvals.fan_out", {})
    await db.commit()
    await run_jobs(settings)

    assert await _statuses(db, ids) == [
        ApprovalStatus.EXPIRED,
        ApprovalStatus.PENDING,
        ApprovalStatus.REJECTED,
        ApprovalStatus.EXPIRED,
    ]
    jobs = {
        (j.name, j.org_id, j.status)
        for j in await db.scalars(select(Job).where(Job.name.like("approvals.%")))
    }
    assert jobs == {
        ("approvals.fan_out", None, JobStatus.SUCCEEDED),
        ("approvals.expire_org", org_id, JobStatus.SUCCEEDED),
        ("approvals.expire_org", other_id, JobStatus.SUCCEEDED),
    }
    expired = {
        (e.org_id, e.resource_id)
        for e in await db.scalars(select(AuditEntry).where(AuditEntry.action == "approval.expired"))
    }
    assert expired == {(org_id, stale_id), (other_id, foreign_id)}
    targets = await db.scalars(
        select(NotificationDelivery.target).where(
            NotificationDelivery.event_key == f"approval:{stale_id}:expired"
        )
    )
    assert member_email in set(targets)

    # Tomorrow's run: nothing left to expire, nothing changes.
    await queue.enqueue(db, "approvals.fan_out", {})
    await db.commit()
    await run_jobs(settings)
    assert await _statuses(db, ids) == [
        ApprovalStatus.EXPIRED,
        ApprovalStatus.PENDING,
        ApprovalStatus.REJECTED,
        ApprovalStatus.EXPIRED,
    ]
    count = len(
        (await db.scalars(select(AuditEntry).where(AuditEntry.action == "approval.expired"))).all()
    )
    assert count == 2
