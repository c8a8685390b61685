"""The daily purge of finished jobs and old schedule slots."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock
from xplorr.core.jobs.maintenance import DAILY, RETENTION, purge
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import JobContext
from xplorr.core.settings import Settings


async def test_purge_keeps_live_jobs_recent_rows_and_each_schedules_newest_slot(
    db: AsyncSession, settings: Settings
) -> None:
    now = clock.now()
    old = now - RETENTION - timedelta(days=1)

    def job(name: str, status: JobStatus, updated) -> Job:
        return Job(name=f"test.{name}", status=status, updated_at=updated, created_at=updated)

    jobs = {
        "old_succeeded": job("a", JobStatus.SUCCEEDED, old),
        "old_dead": job("b", JobStatus.DEAD, old),
        "old_queued": job("c", JobStatus.QUEUED, old),
        "old_running": job("d", JobStatus.RUNNING, old),
        "recent_succeeded": job("e", JobStatus.SUCCEEDED, now),
    }
    slots = {
        "daily_old": ScheduleSlot(schedule="daily", slot_at=old - timedelta(days=1)),
        "daily_newest": ScheduleSlot(schedule="daily", slot_at=now.replace(microsecond=0)),
        "monthly_current": ScheduleSlot(schedule="monthly", slot_at=old),
    }
    db.add_all([*jobs.values(), *slots.values()])
    await db.commit()
    job_ids = {k: v.id for k, v in jobs.items()}
    slot_ids = {k: v.id for k, v in slots.items()}
    runner = job("purge", JobStatus.RUNNING, now)
    db.add(runner)
    await db.commit()

    ctx = JobContext(db=db, job_id=runner.id, attempt=1, org_id=None, settings=settings)
    await purge(ctx, {})
    await db.commit()

    left_jobs = set((await db.scalars(select(Job.id))).all())
    assert job_ids["old_succeeded"] not in left_jobs
    assert job_ids["old_dead"] not in left_jobs
    assert {job_ids["old_queued"], job_ids["old_running"], job_ids["recent_succeeded"]} <= left_jobs
    assert runner.id in left_jobs
    left_slots = set((await db.scalars(select(ScheduleSlot.id))).all())
    assert left_slots == {slot_ids["daily_newest"], slot_ids["monthly_current"]}
    assert DAILY.every == timedelta(days=1)
