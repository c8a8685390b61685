"""The queue cleans up after itself: finished jobs and fired schedule slots are deleted once they
are older than ``RETENTION`` (a 1-minute schedule alone would add half a million slot rows a year).
Queued and running jobs, and each schedule's newest slot, are never touched."""

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import aliased

from xplorr.core import clock
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import JobContext, job, schedule

RETENTION = timedelta(days=14)
FINISHED = (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED)


@job("jobs.purge")
async def purge(ctx: JobContext, _payload: dict[str, Any]) -> None:
    """Idempotent: a re-run finds nothing older than the cutoff left."""
    cutoff = clock.now() - RETENTION
    newer = aliased(ScheduleSlot)
    # A schedule's newest slot stays whatever its age: it is what stops a monthly schedule from
    # firing its current slot again.
    has_newer = (
        select(newer.id)
        .where(newer.schedule == ScheduleSlot.schedule, newer.slot_at > ScheduleSlot.slot_at)
        .exists()
    )
    await ctx.db.execute(delete(ScheduleSlot).where(ScheduleSlot.slot_at < cutoff, has_newer))
    await ctx.db.execute(
        delete(Job).where(Job.status.in_(FINISHED), Job.updated_at < cutoff, Job.id != ctx.job_id)
    )


DAILY = schedule("jobs.purge.daily", every=timedelta(days=1), job="jobs.purge", key="jobs.purge")
