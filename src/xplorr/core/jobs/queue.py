"""The jobs table as a queue: enqueue, claim, heartbeat, finish, retry, reap, schedule slots.

Semantics are at-least-once with idempotent handlers (security guide section 3):

- ``enqueue`` adds the row to the caller's transaction: a rolled-back request leaves no job.
  It refuses a name no handler is registered under. With ``dedupe`` it adds nothing while a
  job of the same key waits to start (partial unique index ``uq_jobs_queued_dedupe``).
- Claims take the lowest ``lane`` first (``registry.Lane``), then the oldest ``run_at``.
- A claim is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1)``; the inner select takes
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so workers never wait on each other, and on SQLite the
  statement is atomic inside its ``BEGIN IMMEDIATE`` transaction. Claiming bumps ``attempts``,
  which fences every later write of that attempt (``WHERE attempts = :attempt``): a worker whose
  lease was taken over can neither finish nor fail the job.
- A job with a ``key`` is skipped while another job with that key runs; the partial unique index
  ``uq_jobs_running_key`` backs this up against two claims racing on PostgreSQL.
- Leases are renewed by heartbeats; any worker requeues jobs whose lease expired (or buries them
  as ``dead`` once out of attempts). ``attempts`` only ever goes up, so it stays a valid fencing
  token: a graceful release refunds the attempt through ``max_attempts`` instead.
- A failure is retried after an exponential, jittered backoff, until ``max_attempts``; then the
  job is ``dead`` and keeps ``last_error`` (exception type and message, credentials masked). A
  ``PermanentJobError`` is buried as ``dead`` at once.
- A schedule slot fires once: every worker tries ``INSERT ... ON CONFLICT DO NOTHING`` of
  (schedule, slot) and only the one whose insert lands enqueues the job, in the same transaction.
  A slot is an interval's start or a cron expression's fire time (``core.jobs.cron``).
"""

import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from xplorr.core import clock
from xplorr.core.db import is_postgres, rowcount
from xplorr.core.jobs import cron as crontab
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import (
    Lane,
    PermanentJobError,
    Schedule,
    check_name,
    spec_for,
)

log = structlog.get_logger("xplorr.jobs")

MAX_BACKOFF = timedelta(hours=1)
CLAIM_RETRIES = 3
ERROR_TEXT_LIMIT = 2000
REDACTED = "[REDACTED]"
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@]+@")
_SECRET_PAIR = re.compile(
    r"(?i)\b(\w*(?:password|passwd|pwd|secret|token|api_?key|access_?key|authorization)\w*)"
    r"(\s*[=:]\s*)(?:bearer\s+|basic\s+)?(?:\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job as its claim returned it; ``attempt`` is the fencing token of this attempt."""

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
    lane: Lane | None = None,
    dedupe: bool = False,
) -> Job:
    """Add a job to the caller's unit of work (flushed, never committed here).

    The job exists only if the caller's transaction commits, together with the change that
    asked for it. ``key`` serialises jobs (one running per key), ``run_at`` delays it, and
    ``max_attempts`` and ``lane`` override the handler's defaults. A name no handler is
    registered under is refused (``registry.UnknownJobError``).

    ``dedupe`` (needs ``key``): while a job of that key waits to start, it is returned instead
    of adding another, brought forward to this ``run_at`` and ``lane`` if they are sooner. Two
    transactions racing to add the first are settled by the unique index: the loser waits for
    the winner's commit, then returns its job."""
    check_name(name)
    spec = spec_for(name)
    if max_attempts is not None and max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware (xplorr.core.clock.now())")
    if dedupe and key is None:
        raise ValueError("dedupe=True needs a key: the job is unique per key while it waits")

    def new_job() -> Job:
        return Job(
            id=uuid.uuid4(),
            name=name,
            payload=dict(payload or {}),
            org_id=org_id,
            key=key,
            status=JobStatus.QUEUED,
            attempts=0,
            max_attempts=max_attempts or spec.max_attempts,
            run_at=run_at or clock.now(),
            lane=int(spec.lane if lane is None else lane),
            dedupe=dedupe,
        )

    if not dedupe:
        job = new_job()
        db.add(job)
        await db.flush()
        return job
    assert key is not None
    for _ in range(CLAIM_RETRIES):
        waiting = await _waiting(db, key)
        if waiting is not None:
            return await _bring_forward(db, waiting, run_at or clock.now(), lane)
        job = new_job()
        try:
            async with db.begin_nested():
                db.add(job)
        except IntegrityError:
            # Another transaction added (and has now committed) the key's job: take it.
            log.info("job_enqueue_deduplicated_race", name=name)
            continue
        return job
    raise RuntimeError(f"could not enqueue {name!r} with key {key!r}: the key kept changing")


def _waiting_clause(key: str) -> Any:
    return and_(
        Job.key == key,
        Job.status == JobStatus.QUEUED,
        Job.attempts == 0,
        Job.dedupe.is_(True),
    )


async def _waiting(db: AsyncSession, key: str) -> Job | None:
    return await db.scalar(select(Job).where(_waiting_clause(key)))


async def _bring_forward(db: AsyncSession, job: Job, run_at: datetime, lane: Lane | None) -> Job:
    values: dict[str, Any] = {}
    if run_at < job.run_at:
        values["run_at"] = run_at
    if lane is not None and lane < job.lane:
        values["lane"] = int(lane)
    if values:
        # Conditional: a worker may have claimed it since it was read.
        await db.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.QUEUED)
            .values(**values, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        await db.refresh(job)
    return job


async def claim(
    db: AsyncSession, worker_id: str, lease: timedelta, *, max_lane: Lane | None = None
) -> Claimed | None:
    """Take the next due job (of ``max_lane`` or a lower lane), or None. The caller commits
    right after (``async with db.begin()``), so the claim is visible to other workers only
    once it is complete.

    Two PostgreSQL workers can both see no running job for a key and claim two of its queued
    jobs; the second update then waits on the unique index ``uq_jobs_running_key`` and fails
    once the first commits. That attempt is rolled back to its savepoint and the pick is made
    again, now seeing the key busy (SQLite cannot race here: BEGIN IMMEDIATE serialises)."""
    for _ in range(CLAIM_RETRIES):
        try:
            async with db.begin_nested():
                stmt = _claim_statement(db, worker_id, lease, max_lane)
                row = (await db.execute(stmt)).first()
        except IntegrityError:
            log.info("job_claim_lost_key_race", worker=worker_id)
            continue
        if row is None:
            return None
        return _claimed(row)
    return None


def _claim_statement(
    db: AsyncSession, worker_id: str, lease: timedelta, max_lane: Lane | None
) -> Any:
    now = clock.now()
    running = aliased(Job)
    key_busy = exists().where(and_(running.key == Job.key, running.status == JobStatus.RUNNING))
    pick = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED, Job.run_at <= now)
        .where(Job.key.is_(None) | ~key_busy)
        .order_by(Job.lane, Job.run_at, Job.created_at)
        .limit(1)
    )
    if max_lane is not None:
        pick = pick.where(Job.lane <= int(max_lane))
    if is_postgres(db):
        # Rows another worker is claiming right now are skipped, not waited for.
        pick = pick.with_for_update(skip_locked=True, of=Job)
    return (
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
    return bool(rowcount(result))


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
    return bool(rowcount(result))


def backoff(attempt: int, base_seconds: float) -> timedelta:
    """Exponential backoff with "equal jitter": half the delay fixed, half random (AWS
    Architecture Blog, "Exponential Backoff And Jitter"), capped at one hour."""
    exponent = min(max(0, attempt - 1), 32)  # 2**32 base delays is past any cap; no overflow
    delay = min(MAX_BACKOFF.total_seconds(), base_seconds * 2**exponent)
    return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))  # noqa: S311


def mask_secrets(text: str) -> str:
    """Credentials in URLs and ``password=...``-style pairs masked, the length capped."""
    text = _URL_USERINFO.sub(REDACTED + "@", text)
    text = _SECRET_PAIR.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return text[:ERROR_TEXT_LIMIT]


def error_text(error: BaseException) -> str:
    """``"<ExceptionType>: <message>"`` for ``last_error``, which the API shows to org admins:
    credentials in URLs and ``password=...``-style pairs are masked, the length is capped."""
    return mask_secrets(f"{type(error).__name__}: {error}")


async def mark_failed(
    db: AsyncSession, job: Claimed, error: BaseException, base_seconds: float
) -> JobStatus | None:
    """Retry later, or bury as ``dead`` after the last attempt (at once for a
    ``PermanentJobError``). None: not ours any more."""
    now = clock.now()
    text = error_text(error)
    dead = job.attempt >= job.max_attempts or isinstance(error, PermanentJobError)
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
    if not rowcount(result):
        return None
    return JobStatus.DEAD if dead else JobStatus.QUEUED


async def release(db: AsyncSession, job: Claimed) -> bool:
    """Give a job back at once (graceful worker shutdown) without charging it an attempt.

    ``attempts`` never goes down: it is the fencing token, and a token handed out twice could
    let a stale write of the released attempt pass for the next one. The attempt is refunded
    by raising ``max_attempts`` instead. False: this attempt no longer owned the job."""
    now = clock.now()
    result = await db.execute(
        update(Job)
        .where(_fenced(job.id, job.attempt))
        .values(
            status=JobStatus.QUEUED,
            max_attempts=Job.max_attempts + 1,
            run_at=now,
            lease_until=None,
            locked_by=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


async def reap(db: AsyncSession) -> tuple[int, int]:
    """Requeue running jobs whose lease expired; bury those out of attempts. -> (requeued, dead)"""
    requeued, dead = await reap_expired(db)
    return len(requeued), len(dead)


async def reap_expired(db: AsyncSession) -> tuple[list[Claimed], list[Claimed]]:
    """``reap``, returning the jobs it requeued and buried as their expired attempts (the
    runner calls their ``on_failure`` hooks in this transaction)."""
    now = clock.now()
    expired = and_(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    released = {
        "last_error": "lease expired: the worker stopped heartbeating (crashed or killed)",
        "locked_by": None,
        "lease_until": None,
        "updated_at": now,
    }
    returned = (Job.id, Job.name, Job.payload, Job.attempts, Job.max_attempts, Job.org_id, Job.key)
    dead = await db.execute(
        update(Job)
        .where(expired, Job.attempts >= Job.max_attempts)
        .values(status=JobStatus.DEAD, finished_at=now, **released)
        .returning(*returned)
        .execution_options(synchronize_session=False)
    )
    dead_jobs = [_claimed(row) for row in dead.all()]
    requeued = await db.execute(
        update(Job)
        .where(expired)
        .values(status=JobStatus.QUEUED, run_at=now, **released)
        .returning(*returned)
        .execution_options(synchronize_session=False)
    )
    return [_claimed(row) for row in requeued.all()], dead_jobs


def _claimed(row: Any) -> Claimed:
    return Claimed(
        id=row.id,
        name=row.name,
        payload=dict(row.payload or {}),
        attempt=row.attempts,
        max_attempts=row.max_attempts,
        org_id=row.org_id,
        key=row.key,
    )


def slot_of(sched: Schedule, at: datetime) -> datetime:
    """The slot ``at`` falls in: the start of its interval, aligned on the Unix epoch, or the
    cron expression's last fire time at or before ``at``. A schedule whose interval comes from
    settings must be ``resolve``d first."""
    if isinstance(sched.cron, str):
        return crontab.latest_fire(sched.cron, sched.timezone, at)
    if sched.cron is not None:
        raise TypeError(f"schedule {sched.name!r}: resolve(settings) before computing slots")
    if not isinstance(sched.every, timedelta):
        raise TypeError(f"schedule {sched.name!r}: resolve(settings) before computing slots")
    step = sched.every.total_seconds()
    return datetime.fromtimestamp(int(at.timestamp() // step * step), UTC)


async def fire_slot(db: AsyncSession, sched: Schedule, slot: datetime) -> Job | None:
    """Enqueue the schedule's job for ``slot`` unless some worker already did."""
    insert = pg_insert if is_postgres(db) else sqlite_insert
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
