"""The daily commitments run through the real job runner (``commitments.fan_out`` ->
``commitments.refresh_org`` per organization -> ``commitments.collect_account`` per collected
account): the ``ri_sp_expiration`` notice for a commitment expiring within 30 days, once; and the
demo collector (``collect.collect_from_bill``) recording the commitments a demo account's bill
names, with their demo term, retiring one the bill no longer names, idempotent on a rerun."""

import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.commitments import make_commitment
from tests.factories.costs import add_costs
from tests.mail import run_jobs
from xplorr.cloud_accounts.models import Provider
from xplorr.commitments.collect import DEMO_DAYS_LEFT
from xplorr.commitments.models import Commitment
from xplorr.core import clock
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.settings import Settings
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User

PLAN = "arn:aws:savingsplans::123456789012:savingsplan/sp-demo"


async def _daily(db: AsyncSession, settings: Settings) -> list[tuple[str, str | None, JobStatus]]:
    """Queue the daily fan-out, run every job it leads to, and list the jobs (name, org,
    status) in creation order."""
    await queue.enqueue(db, "commitments.fan_out", {})
    await db.commit()
    await run_jobs(settings)
    db.expire_all()  # what the workers wrote (the caller holds ids, not loaded rows)
    jobs = (await db.scalars(select(Job).order_by(Job.created_at, Job.name))).all()
    return [(j.name, None if j.org_id is None else str(j.org_id), j.status) for j in jobs]


async def _deliveries(db: AsyncSession, org_id: uuid.UUID) -> list[str]:
    return list(
        (
            await db.scalars(
                select(NotificationDelivery.event_key).where(
                    NotificationDelivery.org_id == org_id,
                    NotificationDelivery.event_type == "ri_sp_expiration",
                )
            )
        ).all()
    )


async def test_daily_refresh_notifies_and_collects_the_demo_bill(
    db: AsyncSession, settings: Settings, org: Org, other_org: Org, admin: User, other_admin: User
) -> None:
    today = clock.now().date()
    demo = await make_account(db, org, provider=Provider.DEMO, name="demo")
    gcp = await make_account(db, org, provider=Provider.GCP, name="gcp")  # not collected
    theirs = await make_account(db, other_org, provider=Provider.GCP)
    # The demo bill: a savings plan covering 2.40 a day, every day of the window.
    await add_costs(
        db,
        demo,
        [
            {
                "usage_date": today - timedelta(days=i),
                "billed_cost": "0",
                "effective_cost": "2.40",
                "list_cost": "3",
                "pricing_category": "Committed",
                "commitment_discount_id": PLAN,
                "commitment_discount_category": "Spend",
            }
            for i in range(31)  # a day more than the window, wherever the data ends
        ],
    )
    retired = await make_commitment(db, demo, "sp-retired", service="demo", expires_in_days=300)
    retired.region = None  # the demo collector's scope ("demo:global")
    await make_commitment(db, gcp, "cud-1", expires_in_days=10)
    await make_commitment(db, gcp, "cud-2", expires_in_days=45)
    await make_commitment(db, theirs, "cud-theirs", expires_in_days=5)
    await db.commit()
    org_id, other_id, demo_id = org.id, other_org.id, demo.id

    jobs = await _daily(db, settings)
    assert sorted(jobs, key=str) == sorted(
        [
            ("commitments.fan_out", None, JobStatus.SUCCEEDED),
            ("commitments.refresh_org", str(org_id), JobStatus.SUCCEEDED),
            ("commitments.refresh_org", str(other_id), JobStatus.SUCCEEDED),
            ("commitments.collect_account", str(org_id), JobStatus.SUCCEEDED),  # demo only
            ("notifications.deliver", str(org_id), JobStatus.SUCCEEDED),
            ("notifications.deliver", str(other_id), JobStatus.SUCCEEDED),
        ],
        key=str,
    )
    # One notice: the commitment expiring in 10 days (not the one in 45), in this org; the
    # other org's job announced its own.
    expires = (today + timedelta(days=10)).isoformat()
    assert await _deliveries(db, org_id)
    assert set(await _deliveries(db, org_id)) == {f"ri_sp_expiration:cud-1:{expires}"}
    assert set(await _deliveries(db, other_id)) == {
        f"ri_sp_expiration:cud-theirs:{(today + timedelta(days=5)).isoformat()}"
    }
    # The demo account now holds exactly what its bill names; the GCP account is untouched.
    rows = (await db.scalars(select(Commitment).where(Commitment.org_id == org_id))).all()
    by_id = {c.commitment_id: c for c in rows}
    assert set(by_id) == {PLAN, "cud-1", "cud-2"}  # sp-retired: no longer in the bill
    plan = by_id[PLAN]
    ends = datetime.combine(today + timedelta(days=DEMO_DAYS_LEFT["aws"]), time(0), tzinfo=UTC)
    summary: dict[str, Any] = {
        "account": plan.cloud_account_id,
        "kind": plan.kind,
        "provider": plan.provider,
        "source": plan.source,
        "end": plan.end_at,
        "start": plan.start_at,
        "hourly": plan.hourly_cost,
        "currency": plan.currency,
        "description": plan.description,
    }
    assert summary == {
        "account": demo_id,
        "kind": "savings_plan",
        "provider": "aws",
        "source": "demo",
        "end": ends,
        "start": ends - timedelta(days=365),
        "hourly": Decimal("0.1"),  # 72.00 over 30 days of 24 hours
        "currency": "USD",
        "description": "Savings Plan covering AWS usage (demo term)",
    }

    # The next run: the demo plan collected by the first (21 days left) is announced, cud-1
    # not again; the demo commitment is updated in place.
    await db.execute(Job.__table__.delete())
    await db.commit()
    again = await _daily(db, settings)
    assert {status for *_, status in again} == {JobStatus.SUCCEEDED}
    assert sorted(await _deliveries(db, org_id)) == sorted(
        [f"ri_sp_expiration:cud-1:{expires}", f"ri_sp_expiration:{PLAN}:{ends.date()}"]
    )
    rows = (
        await db.scalars(select(Commitment).where(Commitment.cloud_account_id == demo_id))
    ).all()
    assert [(c.id, c.commitment_id) for c in rows] == [(plan.id, PLAN)]
