"""The jobs table as a queue: enqueue, claim, heartbeat, finish, retry, reap, schedule slots.

Semantics are at-least-once with idempotent handlers (security guide section 3):

- ``enqueue`` adds the row to the caller's transaction: a rolled-back request leaves no job.
- A claim is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1)``; the inner select takes
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so workers never wait on each other, and on SQLite the
  statement is atomic inside its ``BEGIN IMMEDIATE`` transaction. Claiming bumps ``attempts``,
  which fences every later write of that attempt (``WHERE attempts = :attempt``): a worker whose
  lease was taken over can neither finish nor fail the job.
- A job with a ``key`` is skipped while another job with that key runs; the partial unique index
  ``uq_jobs_running_key`` backs this up against two claims racing on PostgreSQL.
- Leases are renewed by heartbeats; any worker requeues jobs whose lease expired (or buries them
  as ``dead`` once out of attempts).
- A schedule slot fires once: every worker tries ``INSERT ... ON CONFLICT DO NOTHING`` of
  (schedule, slot) and only the one whose insert lands enqueues the job, in the same transaction.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from xplorr.core import clock
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import DEFAULT_MAX_ATTEMPTS, JOBS, Schedule

MAX_BACKOFF = timedelta(hours=1)
ERROR_TEXT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    name: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    org_id: uuid.UUID | None
    key: str | None


async def enqueue(
    db: AsyncSession,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    org_id: uuid.UUID | None = None,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Add a job to the caller's unit of work (flushed, never committed here)."""
    spec = JOBS.get(name)
    job = Job(
        id=uuid.uuid4(),
        name=name,
        payload=dict(payload or {}),
        org_id=org_id,
        key=key,
        status=JobStatus.QUEUED,
        attempts=0,
        max_attempts=max_attempts or (spec.max_attempts if spec else DEFAULT_MAX_ATTEMPTS),
        run_at=run_at or clock.now(),
    )
    db.add(job)
    await db.flush()
    return job


async def claim(db: AsyncSession, worker_id: str, lease: timedelta) -> Claimed | None:
    """Take the next due job, or None. The caller commits right after."""
    now = clock.now()
    running = aliased(Job)
    key_busy = exists().where(and_(running.key == Job.key, running.status == JobStatus.RUNNING))
    pick = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED, Job.run_at <= now)
        .where(Job.key.is_(None) | ~key_busy)
        .order_by(Job.run_at, Job.created_at)
        .limit(1)
    )
    if db.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=Job)
    stmt = (
        update(Job)
        .where(Job.id == pick.scalar_subquery(), Job.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            lease_until=now + lease,
            heartbeat_at=now,
            locked_by=worker_id,
            started_at=now,
            updated_at=now,
        )
        .returning(
            Job.id, Job.name, Job.payload, Job.attempts, Job.max_attempts, Job.org_id, Job.key
        )
        .execution_options(synchronize_session=False)
    )
    try:
        row = (await db.execute(stmt)).first()
    except IntegrityError:
        # Another worker started a job with the same key between our select and update.
        await db.rollback()
        return None
    if row is None:
        return None
    return Claimed(
        id=row.id,
        name=row.name,
        payload=dict(row.payload or {}),
        attempt=row.attempts,
        max_attempts=row.max_attempts,
        org_id=row.org_id,
        key=row.key,
    )


def _fenced(job_id: uuid.UUID, attempt: int) -> Any:
    return and_(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.RUNNING)


async def heartbeat(db: AsyncSession, job_id: uuid.UUID, attempt: int, lease: timedelta) -> bool:
    """Extend the lease; False means this attempt no longer owns the job."""
    now = clock.now()
    result = await db.execute(
        update(Job)
        .where(_fenced(job_id, attempt))
        .values(lease_until=now + lease, heartbeat_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_succeeded(db: AsyncSession, job_id: uuid.UUID, attempt: int) -> bool:
    """In the handler's transaction: False means a newer attempt owns the job (roll back)."""
    now = clock.now()
    result = await db.execute(
        update(Job)
        .where(_fenced(job_id, attempt))
        .values(
            status=JobStatus.SUCCEEDED,
            finished_at=now,
            lease_until=None,
            last_error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff(attempt: int, base_seconds: float) -> timedelta:
    """Exponential backoff with "equal jitter": half the delay fixed, half random (AWS
    Architecture Blog, "Exponential Backoff And Jitter"), capped at one hour."""
    delay = min(MAX_BACKOFF.total_seconds(), base_seconds * 2 ** max(0, attempt - 1))
    return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))  # noqa: S311


async def mark_failed(
    db: AsyncSession, job: Claimed, error: BaseException, base_seconds: float
) -> JobStatus | None:
    """Retry later, or bury as ``dead`` after the last attempt. None: not ours any more."""
    now = clock.now()
    text = f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
    dead = job.attempt >= job.max_attempts
    values: dict[str, Any] = {
        "status": JobStatus.DEAD if dead else JobStatus.QUEUED,
        "last_error": text,
        "lease_until": None,
        "locked_by": None,
        "updated_at": now,
    }
    if dead:
        values["finished_at"] = now
    else:
        values["run_at"] = now + backoff(job.attempt, base_seconds)
    result = await db.execute(
        update(Job)
        .where(_fenced(job.id, job.attempt))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return JobStatus.DEAD if dead else JobStatus.QUEUED


async def release(db: AsyncSession, job: Claimed) -> None:
    """Give a job back without spending an attempt (graceful worker shutdown)."""
    now = clock.now()
    await db.execute(
        update(Job)
        .where(_fenced(job.id, job.attempt))
        .values(
            status=JobStatus.QUEUED,
            attempts=Job.attempts - 1,
            run_at=now,
            lease_until=None,
            locked_by=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def reap(db: AsyncSession) -> tuple[int, int]:
    """Requeue running jobs whose lease expired; bury those out of attempts. -> (requeued, dead)"""
    now = clock.now()
    expired = and_(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    lost = "lease expired: the worker stopped heartbeating (crashed or killed)"
    dead = await db.execute(
        update(Job)
        .where(expired, Job.attempts >= Job.max_attempts)
        .values(
            status=JobStatus.DEAD,
            finished_at=now,
            last_error=lost,
            locked_by=None,
            lease_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    requeued = await db.execute(
        update(Job)
        .where(expired)
        .values(
            status=JobStatus.QUEUED,
            run_at=now,
            last_error=lost,
            locked_by=None,
            lease_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return requeued.rowcount, dead.rowcount  # type: ignore[attr-defined]


def slot_of(sched: Schedule, at: datetime) -> datetime:
    """The start of the time slot ``at`` falls in, aligned on the Unix epoch."""
    step = sched.every.total_seconds()
    return datetime.fromtimestamp(int(at.timestamp() // step * step), UTC)


async def fire_slot(db: AsyncSession, sched: Schedule, slot: datetime) -> Job | None:
    """Enqueue the schedule's job for ``slot`` unless some worker already did."""
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(ScheduleSlot)
        .values(schedule=sched.name, slot_at=slot, created_at=clock.now())
        .on_conflict_do_nothing(index_elements=["schedule", "slot_at"])
        .returning(ScheduleSlot.id)
    )
    slot_id = (await db.execute(stmt)).scalar()
    if slot_id is None:
        return None
    job = await enqueue(db, sched.job, sched.payload, key=sched.key)
    await db.execute(update(ScheduleSlot).where(ScheduleSlot.id == slot_id).values(job_id=job.id))
    return job
