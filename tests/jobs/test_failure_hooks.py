"""What the runner gives handlers that must leave a trace of a failure (sync runs): the
``on_failure`` hook, run in the transaction that records each failed attempt (also when the
reaper finds a dead worker's job), ``PermanentJobError`` buried at once, and schedules whose
interval comes from the worker's settings."""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from tests.conftest import make_settings
from xplorr.core import audit, clock
from xplorr.core.audit import AuditEntry
from xplorr.core.db import make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import (
    SCHEDULES,
    JobContext,
    PermanentJobError,
    job,
    schedule,
)
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings


async def _hook(
    ctx: JobContext, payload: dict[str, Any], error: BaseException, final: bool
) -> None:
    await audit.record(
        ctx.db,
        "test.hook",
        details={
            "tag": payload["tag"],
            "attempt": ctx.attempt,
            "final": final,
            "error": type(error).__name__,
        },
    )
    if payload.get("hook_fails"):
        await ctx.db.flush()
        raise RuntimeError("the hook itself failed")


@job("test.hooked", max_attempts=3, on_failure=_hook)
async def hooked(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Writes, then fails as the payload says (its write must roll back)."""
    await audit.record(ctx.db, "test.hooked_wrote", details={"tag": payload["tag"]})
    await ctx.db.flush()
    if payload["fail"] == "permanent":
        raise PermanentJobError("bad credentials: fix them")
    if payload["fail"] == "transient" and ctx.attempt < payload.get("succeed_on", 99):
        raise OSError("share unavailable")
    if payload["fail"] == "sleep":
        await asyncio.sleep(60)


@pytest.fixture
def job_settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        db_url, tmp_path, job_lease_seconds=2, job_poll_seconds=0.05, job_backoff_base_seconds=0.05
    )


async def _enqueue(engine: AsyncEngine, payload: dict[str, Any], **kw: Any) -> Job:
    async with make_sessionmaker(engine)() as db:
        row = await queue.enqueue(db, "test.hooked", payload, **kw)
        await db.commit()
        return row


async def _job(engine: AsyncEngine, job_id: uuid.UUID) -> Job:
    async with make_sessionmaker(engine)() as db:
        return await db.get_one(Job, job_id)


async def _audit(engine: AsyncEngine, action: str, tag: str) -> list[dict[str, Any]]:
    async with make_sessionmaker(engine)() as db:
        rows = (await db.scalars(select(AuditEntry).where(AuditEntry.action == action))).all()
    return [dict(r.details) for r in rows if r.details.get("tag") == tag]


async def _drain(worker: Worker) -> None:
    for _ in range(50):
        await worker.tick()
        if not worker.running:
            return
        await asyncio.gather(*worker.running.values(), return_exceptions=True)
    raise AssertionError("worker did not drain")


async def test_permanent_error_is_dead_at_once_and_the_hook_records_it(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    row = await _enqueue(engine, {"tag": "perm", "fail": "permanent"})
    await _drain(Worker(job_settings, engine))
    done = await _job(engine, row.id)
    assert (done.status, done.attempts) == (JobStatus.DEAD, 1)
    assert done.last_error == "PermanentJobError: bad credentials: fix them"
    hooks = await _audit(engine, "test.hook", "perm")
    assert hooks == [{"tag": "perm", "attempt": 1, "final": True, "error": "PermanentJobError"}]
    assert await _audit(engine, "test.hooked_wrote", "perm") == []  # the attempt rolled back


async def test_transient_errors_call_the_hook_each_attempt_then_succeed(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    row = await _enqueue(engine, {"tag": "flaky", "fail": "transient", "succeed_on": 3})
    worker = Worker(job_settings, engine)
    for _ in range(3):
        await _drain(worker)
        current = await _job(engine, row.id)
        if current.status == JobStatus.SUCCEEDED:
            break
        await asyncio.sleep(max(0.0, (current.run_at - clock.now()).total_seconds()) + 0.02)
    done = await _job(engine, row.id)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 3)
    hooks = await _audit(engine, "test.hook", "flaky")
    assert sorted((h["attempt"], h["final"], h["error"]) for h in hooks) == [
        (1, False, "OSError"),
        (2, False, "OSError"),
    ]
    assert len(await _audit(engine, "test.hooked_wrote", "flaky")) == 1  # the good attempt


async def test_the_last_transient_failure_is_final(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    row = await _enqueue(engine, {"tag": "out", "fail": "transient"}, max_attempts=1)
    await _drain(Worker(job_settings, engine))
    assert (await _job(engine, row.id)).status == JobStatus.DEAD
    hooks = await _audit(engine, "test.hook", "out")
    assert [(h["attempt"], h["final"]) for h in hooks] == [(1, True)]


async def test_a_failing_hook_is_logged_and_the_failure_still_recorded(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    row = await _enqueue(engine, {"tag": "broken", "fail": "permanent", "hook_fails": True})
    with capture_logs() as logs:
        await _drain(Worker(job_settings, engine))
    assert (await _job(engine, row.id)).status == JobStatus.DEAD
    assert await _audit(engine, "test.hook", "broken") == []  # its savepoint rolled back
    assert any(e["event"] == "job_failure_hook_failed" for e in logs)


@pytest.mark.parametrize(("max_attempts", "final"), [(1, True), (3, False)])
async def test_the_reaper_calls_the_hook_for_a_dead_workers_job(
    engine: AsyncEngine, job_settings: Settings, max_attempts: int, final: bool
) -> None:
    tag = f"reaped-{max_attempts}"
    row = await _enqueue(engine, {"tag": tag, "fail": "sleep"}, max_attempts=max_attempts)
    maker = make_sessionmaker(engine)
    async with maker() as db, db.begin():  # a worker claims it, then dies
        assert await queue.claim(db, "dead-worker", timedelta(seconds=30)) is not None
        await db.execute(
            update(Job).where(Job.id == row.id).values(lease_until=clock.now() - timedelta(1))
        )
    # One slot: on SQLite the re-claimed handler holds the engine's only connection.
    worker = Worker(job_settings, engine, concurrency=1)
    await worker.tick()  # reaps (and, when requeued, claims the job again)
    for task in worker.running.values():
        task.cancel()
    await asyncio.gather(*worker.running.values(), return_exceptions=True)
    hooks = await _audit(engine, "test.hook", tag)
    assert hooks == [{"tag": tag, "attempt": 1, "final": final, "error": "LeaseExpiredError"}]
    if final:
        assert (await _job(engine, row.id)).status == JobStatus.DEAD


async def test_schedule_interval_from_the_workers_settings(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    sched = schedule(
        "test.configured",
        every=lambda s: timedelta(minutes=s.sync_interval_minutes),
        job="test.hooked",
        payload={"tag": "sched", "fail": "none"},
    )
    with pytest.raises(TypeError, match="resolve"):
        queue.slot_of(sched, clock.now())
    settings = make_settings(db_url, tmp_path, sync_interval_minutes=15)
    assert sched.resolve(settings).every == timedelta(minutes=15)
    await Worker(settings, engine).fire_schedules(clock.now())
    async with make_sessionmaker(engine)() as db:
        slot = await db.scalar(select(ScheduleSlot).where(ScheduleSlot.schedule == sched.name))
    assert slot is not None
    assert slot.slot_at.timestamp() % (15 * 60) == 0  # aligned on this worker's interval
    assert "test.configured" in SCHEDULES
