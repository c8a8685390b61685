"""The durable job runner on a real database (SQLite file, or PostgreSQL with
XPLORR_TEST_DATABASE_URL): transactional enqueue, retries with backoff, dead jobs, per-key
exclusivity (and the claim race behind it), zombie fencing, leases lost and released, the
embedded worker's shutdown, a worker SIGKILLed mid-job, and schedule slots shared by three worker
processes. No mocks: workers are real loops or real ``python -m xplorr worker`` processes."""

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from structlog.testing import capture_logs

from tests.conftest import TEST_SECRET, make_settings
from tests.jobs import sample_jobs  # registers the test handlers
from tests.mail import drain
from xplorr.app import create_app
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import queue, registry
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import Schedule
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def job_settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        db_url, tmp_path, job_lease_seconds=2, job_poll_seconds=0.05, job_backoff_base_seconds=0.2
    )


async def _enqueue(engine: AsyncEngine, name: str, payload: dict[str, Any], **kw: Any) -> Job:
    async with make_sessionmaker(engine)() as db:
        job = await queue.enqueue(db, name, payload, **kw)
        await db.commit()
        return job


async def _job(engine: AsyncEngine, job_id: uuid.UUID) -> Job:
    async with make_sessionmaker(engine)() as db:
        return await db.get_one(Job, job_id)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_enqueue_rides_the_callers_transaction(engine: AsyncEngine, tmp_path: Path) -> None:
    async with make_sessionmaker(engine)() as db:
        await queue.enqueue(db, "test.record", {"file": str(tmp_path / "x")})
        await db.rollback()
    async with make_sessionmaker(engine)() as db:
        assert await db.scalar(select(func.count()).select_from(Job)) == 0


async def test_committed_job_runs_once_and_succeeds(
    engine: AsyncEngine, job_settings: Settings, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    job = await _enqueue(engine, "test.record", {"file": str(notes)})
    await drain(Worker(job_settings, engine))
    done = await _job(engine, job.id)
    assert (done.status, done.attempts, done.last_error) == (JobStatus.SUCCEEDED, 1, None)
    assert done.finished_at is not None
    assert done.lease_until is None
    assert _lines(notes) == ["run 1"]


async def test_handler_writes_commit_with_success_and_roll_back_with_failure(
    engine: AsyncEngine, job_settings: Settings, db: AsyncSession
) -> None:
    ok = await _enqueue(engine, "test.writes", {})
    bad = await _enqueue(engine, "test.writes", {"fail": True}, max_attempts=1)
    await drain(Worker(job_settings, engine))
    assert (await _job(engine, ok.id)).status == JobStatus.SUCCEEDED
    failed = await _job(engine, bad.id)
    assert failed.status == JobStatus.DEAD
    assert failed.last_error == "ValueError: fails after writing"
    rows = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "test.job_wrote"))).all()
    assert len(rows) == 1  # only the successful attempt's write survived


async def test_failures_retry_with_growing_backoff_then_succeed(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    job = await _enqueue(engine, "test.flaky", {"succeed_on": 3})
    worker = Worker(job_settings, engine)
    delays = []
    for attempt in (1, 2):
        await drain(worker)
        row = await _job(engine, job.id)
        assert (row.status, row.attempts) == (JobStatus.QUEUED, attempt)
        assert row.last_error == f"RuntimeError: transient failure {attempt}"
        delays.append((row.run_at - row.updated_at).total_seconds())  # both set at the failure
        await asyncio.sleep(max(0.0, (row.run_at - clock.now()).total_seconds()) + 0.02)
    # base 0.2 s, equal jitter: attempt 1 waits 0.1..0.2 s, attempt 2 waits 0.2..0.4 s
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.4
    await drain(worker)
    row = await _job(engine, job.id)
    assert (row.status, row.attempts, row.last_error) == (JobStatus.SUCCEEDED, 3, None)


def test_backoff_is_exponential_jittered_and_capped() -> None:
    for attempt in range(1, 8):
        full = 2.0 * 2 ** (attempt - 1)
        samples = [queue.backoff(attempt, 2.0).total_seconds() for _ in range(200)]
        assert all(full / 2 <= s <= full for s in samples)
        assert len({round(s, 6) for s in samples}) > 150  # jittered, not constant
    assert queue.backoff(40, 2.0) <= queue.MAX_BACKOFF
    assert queue.backoff(10_000, 2.0) <= queue.MAX_BACKOFF  # no float overflow


def test_last_error_masks_credentials_and_is_capped() -> None:
    exc = ConnectionError(
        "postgresql://bob:hunter2@db:5432/x unreachable; password=hunter2, "
        "Authorization: Bearer abc.def api_key='k-123'"
    )
    text = queue.error_text(exc)
    assert text.startswith("ConnectionError: postgresql://[REDACTED]@db:5432/x unreachable")
    for secret in ("hunter2", "abc.def", "k-123", "bob"):
        assert secret not in text
    assert len(queue.error_text(ValueError("x" * 10_000))) == queue.ERROR_TEXT_LIMIT


async def test_job_names_are_area_dot_verb(engine: AsyncEngine) -> None:
    for bad in ("nodot", "Area.Verb", "area.", ".verb", "area verb.x", "a." + "b" * 100):
        with pytest.raises(ValueError, match=r"area\.verb"):
            registry.check_name(bad)
    with pytest.raises(ValueError, match=r"area\.verb"):
        registry.job("NotAJobName")
    with pytest.raises(ValueError, match="already registered"):
        registry.job("test.record")(sample_jobs.slow)
    async with make_sessionmaker(engine)() as db:
        with pytest.raises(ValueError, match=r"area\.verb"):
            await queue.enqueue(db, "no_area", {})
        assert await db.scalar(select(func.count()).select_from(Job)) == 0


async def test_out_of_attempts_is_dead_with_last_error(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    job = await _enqueue(engine, "test.always_fails", {})
    worker = Worker(job_settings, engine)
    await drain(worker)
    await asyncio.sleep(0.25)
    await drain(worker)
    row = await _job(engine, job.id)
    assert (row.status, row.attempts, row.last_error) == (JobStatus.DEAD, 2, "RuntimeError: boom")


async def test_same_key_never_runs_concurrently_across_workers(
    db_url: str, engine: AsyncEngine, job_settings: Settings, tmp_path: Path
) -> None:
    """Two workers with their own engines (so nothing but the database is shared) take turns on
    three jobs of one key; jobs without a key run side by side."""
    keyed, free = tmp_path / "keyed", tmp_path / "free"
    keyed_ids, free_ids = set(), set()
    for _ in range(3):
        job = await _enqueue(engine, "test.overlap", {"file": str(keyed)}, key="sync:account-1")
        keyed_ids.add(job.id)
        free_ids.add((await _enqueue(engine, "test.overlap", {"file": str(free)})).id)
    other_engine = make_engine(db_url)
    try:
        a = Worker(job_settings, engine, concurrency=6, worker_id="worker-a")
        b = Worker(job_settings, other_engine, concurrency=6, worker_id="worker-b")
        for turn, (first, second) in enumerate(((a, b), (b, a), (a, b))):
            await first.tick()
            if turn == 0:
                assert free_ids <= first.running.keys()  # no key: all run at once
            await second.tick()
            assert not second.running.keys() & keyed_ids  # the key is busy on the other worker
            assert len(first.running.keys() & keyed_ids) == 1
            await asyncio.wait_for(asyncio.gather(*first.running.values()), 10)
    finally:
        await other_engine.dispose()

    def intervals(path: Path) -> list[tuple[float, float]]:
        lines = [line.split() for line in _lines(path)]
        starts = sorted(float(stamp) for kind, stamp in lines if kind == "start")
        ends = sorted(float(stamp) for kind, stamp in lines if kind == "end")
        return list(zip(starts, ends, strict=True))

    keyed_runs = intervals(keyed)
    assert len(keyed_runs) == 3
    for (_, end), (next_start, _) in itertools.pairwise(keyed_runs):
        assert next_start >= end  # strictly one after the other
    free_runs = intervals(free)
    assert len(free_runs) == 3
    assert max(s for s, _ in free_runs) < min(e for _, e in free_runs)  # these overlapped
    async with make_sessionmaker(engine)() as db:
        owners = (await db.scalars(select(Job.locked_by).where(Job.key == "sync:account-1"))).all()
        stmt = select(Job.status).where(Job.name == "test.overlap")
        states = set((await db.scalars(stmt)).all())
    assert sorted(owner or "" for owner in owners) == ["worker-a", "worker-a", "worker-b"]
    assert states == {JobStatus.SUCCEEDED}


async def test_claim_that_loses_a_key_race_retries_and_takes_the_next_job(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Worker A has claimed the key's first job but not committed. Worker B must not start the
    key's second job: on PostgreSQL B's update waits on ``uq_jobs_running_key`` and fails when A
    commits, so B rolls back to its savepoint and picks again; on SQLite B waits for the write
    lock. Either way B ends up with the next job that has no key."""
    base = clock.now() - timedelta(seconds=10)
    note = {"file": str(tmp_path / "n")}
    first = await _enqueue(engine, "test.record", note, key="k", run_at=base)
    await _enqueue(engine, "test.record", note, key="k", run_at=base + timedelta(seconds=1))
    free = await _enqueue(engine, "test.record", note, run_at=base + timedelta(seconds=2))
    maker = make_sessionmaker(engine)
    lease = timedelta(seconds=30)

    async def claim_as_b() -> queue.Claimed | None:
        async with maker() as db, db.begin():
            return await queue.claim(db, "worker-b", lease)

    with capture_logs() as logs:
        async with maker() as db_a, db_a.begin():
            claimed_a = await queue.claim(db_a, "worker-a", lease)
            assert claimed_a is not None
            assert claimed_a.id == first.id
            b = asyncio.create_task(claim_as_b())
            await asyncio.sleep(0.5)
            assert not b.done()  # blocked behind A's uncommitted claim
        claimed_b = await asyncio.wait_for(b, 10)
    assert claimed_b is not None
    assert claimed_b.id == free.id
    lost_races = [e for e in logs if e["event"] == "job_claim_lost_key_race"]
    assert len(lost_races) == (1 if engine.dialect.name == "postgresql" else 0)
    async with maker() as db:
        running = (await db.scalars(select(Job.key).where(Job.status == JobStatus.RUNNING))).all()
    assert sorted(running, key=str) == [None, "k"]


async def test_superseded_attempt_cannot_finish(engine: AsyncEngine, tmp_path: Path) -> None:
    """Attempt fencing: worker A's lease expired and B re-claimed the job; A's late success and
    late failure are both refused."""
    job = await _enqueue(engine, "test.record", {"file": str(tmp_path / "n")})
    maker = make_sessionmaker(engine)
    async with maker() as db, db.begin():
        first = await queue.claim(db, "worker-a", timedelta(seconds=30))
    assert first is not None
    assert first.attempt == 1
    async with maker() as db, db.begin():
        await db.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(lease_until=clock.now() - timedelta(seconds=1))
        )
    async with maker() as db, db.begin():
        assert await queue.reap(db) == (1, 0)
    async with maker() as db, db.begin():
        second = await queue.claim(db, "worker-b", timedelta(seconds=30))
    assert second is not None
    assert second.attempt == 2
    async with maker() as db, db.begin():
        assert await queue.mark_succeeded(db, job.id, first.attempt) is False
        assert await queue.mark_failed(db, first, RuntimeError("late"), 1.0) is None
        assert await queue.heartbeat(db, job.id, first.attempt, timedelta(seconds=30)) is False
    async with maker() as db, db.begin():
        assert await queue.mark_succeeded(db, job.id, second.attempt) is True
    row = await _job(engine, job.id)
    assert (row.status, row.attempts, row.locked_by) == (JobStatus.SUCCEEDED, 2, "worker-b")


async def _take_over(engine: AsyncEngine, job_id: uuid.UUID) -> int:
    """What another worker does to a job whose lease expired: reap it and claim it again."""
    maker = make_sessionmaker(engine)
    async with maker() as db, db.begin():
        await db.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(lease_until=clock.now() - timedelta(seconds=1))
        )
    async with maker() as db, db.begin():
        assert await queue.reap(db) == (1, 0)
    async with maker() as db, db.begin():
        claimed = await queue.claim(db, "worker-b", timedelta(seconds=60))
    assert claimed is not None
    assert claimed.id == job_id
    return claimed.attempt


async def _gated_writes(db: AsyncSession) -> int:
    await db.rollback()  # a fresh read
    stmt = (
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "test.gated_wrote")
    )
    return await db.scalar(stmt) or 0


async def test_zombie_attempt_rolls_back_its_handlers_writes(
    db_url: str, engine: AsyncEngine, tmp_path: Path, db: AsyncSession
) -> None:
    """The handler outlives its lease (a long pause, so no heartbeat noticed) while another
    worker re-claims the job; the handler's writes and its success are rolled back."""
    settings = make_settings(db_url, tmp_path, job_lease_seconds=60, job_poll_seconds=0.05)
    sample_jobs.GATES["zombie"] = gate = asyncio.Event()
    job = await _enqueue(engine, "test.gated", {"gate": "zombie"})
    worker = Worker(settings, engine, worker_id="worker-a")
    await worker.tick()
    task = worker.running[job.id]
    assert await _take_over(engine, job.id) == 2
    with capture_logs() as logs:
        gate.set()
        await asyncio.wait_for(task, 10)
    assert "job_attempt_superseded_rolled_back" in [e["event"] for e in logs]
    row = await _job(engine, job.id)
    assert (row.status, row.attempts, row.locked_by) == (JobStatus.RUNNING, 2, "worker-b")
    assert await _gated_writes(db) == 0


async def test_lost_lease_cancels_the_handler_and_leaves_the_job_to_its_new_owner(
    engine: AsyncEngine, job_settings: Settings, db: AsyncSession
) -> None:
    sample_jobs.GATES["never"] = asyncio.Event()  # never opened: only the heartbeat ends it
    job = await _enqueue(engine, "test.gated", {"gate": "never"})
    worker = Worker(job_settings, engine, worker_id="worker-a")  # lease 2 s: beats every 0.67 s
    await worker.tick()
    task = worker.running[job.id]
    assert await _take_over(engine, job.id) == 2
    with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    events = [e["event"] for e in logs]
    assert "job_lease_lost" in events
    assert "job_released" not in events
    row = await _job(engine, job.id)
    assert (row.status, row.attempts, row.max_attempts) == (JobStatus.RUNNING, 2, 5)
    assert row.locked_by == "worker-b"
    assert await _gated_writes(db) == 0


async def test_graceful_stop_releases_a_running_job_without_spending_an_attempt(
    engine: AsyncEngine, job_settings: Settings, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    job = await _enqueue(engine, "test.slow", {"file": str(notes), "first_sleep": 60})
    worker = Worker(job_settings, engine, shutdown_grace=0.2)
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))

    async def started() -> bool:
        return _lines(notes) == ["start 1"]

    await _wait_for(started, 10, "the job to start")
    stop.set()
    await asyncio.wait_for(run, 10)
    row = await _job(engine, job.id)
    assert (row.status, row.locked_by, row.lease_until) == (JobStatus.QUEUED, None, None)
    # attempts never goes down (it fences zombies); the attempt is refunded as budget instead
    assert (row.attempts, row.max_attempts) == (1, 6)
    await drain(Worker(job_settings, engine))
    row = await _job(engine, job.id)
    assert (row.status, row.attempts) == (JobStatus.SUCCEEDED, 2)
    assert _lines(notes) == ["start 1", "start 2", "done 2"]


async def test_embedded_worker_runs_jobs_and_finishes_them_at_app_shutdown(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """``xplorr serve`` embedded: the lifespan starts the worker and cancels it on shutdown; the
    cancelled worker lets the running job finish instead of dropping it."""
    notes = tmp_path / "notes"
    settings = make_settings(
        db_url, tmp_path, embedded_worker=True, job_lease_seconds=2, job_poll_seconds=0.05
    )
    job = await _enqueue(engine, "test.slow", {"file": str(notes), "first_sleep": 0.5})
    app = create_app(settings)

    async def started() -> bool:
        return _lines(notes) == ["start 1"]

    async with app.router.lifespan_context(app):
        await _wait_for(started, 10, "the embedded worker to start the job")
    row = await _job(engine, job.id)
    assert (row.status, row.attempts) == (JobStatus.SUCCEEDED, 1)
    assert _lines(notes) == ["start 1", "done 1"]


async def test_reaper_buries_an_expired_job_out_of_attempts(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    job = await _enqueue(engine, "test.record", {"file": str(tmp_path / "n")}, max_attempts=1)
    maker = make_sessionmaker(engine)
    async with maker() as db, db.begin():
        assert await queue.claim(db, "w", timedelta(seconds=-1)) is not None  # already expired
    async with maker() as db, db.begin():
        assert await queue.reap(db) == (0, 1)
    row = await _job(engine, job.id)
    assert row.status == JobStatus.DEAD
    assert "lease expired" in (row.last_error or "")


async def test_one_slot_fires_once_across_in_process_workers(engine: AsyncEngine) -> None:
    sched = Schedule("test.slot", timedelta(minutes=5), "test.record", {"file": "/dev/null"})
    slot = queue.slot_of(sched, clock.now())
    assert slot.minute % 5 == 0
    assert slot.second == 0
    assert slot.tzinfo is not None
    maker = make_sessionmaker(engine)

    async def fire() -> bool:
        async with maker() as db, db.begin():
            return await queue.fire_slot(db, sched, slot) is not None

    results = await asyncio.gather(*(fire() for _ in range(3)))
    assert sorted(results) == [False, False, True]
    async with maker() as db:
        assert await db.scalar(select(func.count()).select_from(ScheduleSlot)) == 1
        assert await db.scalar(select(func.count()).select_from(Job)) == 1


def _worker_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "XPLORR_DATABASE_URL": db_url,
        "XPLORR_DATA_DIR": str(tmp_path),
        "XPLORR_SECRET_KEY": TEST_SECRET,
        "XPLORR_JOB_MODULES": "tests.jobs.sample_jobs",
        "XPLORR_JOB_LEASE_SECONDS": "2",
        "XPLORR_JOB_POLL_SECONDS": "0.1",
        "XPLORR_LOG_LEVEL": "WARNING",
        **extra,
    }


def _start_worker(
    env: dict[str, str], log: Path, command: tuple[str, ...] = ("worker",)
) -> subprocess.Popen[bytes]:
    """``python -m xplorr worker`` (or another command) with its output appended to ``log``."""
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "xplorr", *command],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_for(predicate: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_worker_killed_mid_job_is_rerun_once_after_its_lease(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    job = await _enqueue(engine, "test.slow", {"file": str(notes), "first_sleep": 60})
    env = _worker_env(db_url, tmp_path)
    log = tmp_path / "workers.log"
    first = _start_worker(env, log)
    second = None
    try:

        async def started() -> bool:
            return _lines(notes) == ["start 1"]

        await _wait_for(started, 30, "the first attempt to start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert (await _job(engine, job.id)).status == JobStatus.RUNNING  # orphaned, leased

        second = _start_worker(env, log)

        async def finished() -> bool:
            return (await _job(engine, job.id)).status == JobStatus.SUCCEEDED

        await _wait_for(finished, 30, "the job to be re-run and succeed")
        row = await _job(engine, job.id)
        assert row.attempts == 2
        assert _lines(notes) == ["start 1", "start 2", "done 2"]  # re-run exactly once
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
    assert second.returncode == 0, log.read_text()  # graceful stop on SIGTERM


@pytest.mark.slow
async def test_three_worker_processes_fire_each_schedule_slot_once(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Three live workers, each ticking every 0.1 s, share a one-second schedule: every slot
    they saw produced exactly one slot row and one job, run once (no leader)."""
    notes = tmp_path / "scheduled"
    env = _worker_env(
        db_url,
        tmp_path,
        XPLORR_TEST_SCHEDULE_FILE=str(notes),
        XPLORR_TEST_SCHEDULE_SECONDS="1",
    )
    log = tmp_path / "workers.log"
    procs = [_start_worker(env, log) for _ in range(3)]
    maker = make_sessionmaker(engine)

    async def succeeded() -> int:
        async with maker() as db:
            stmt = select(func.count()).select_from(Job)
            stmt = stmt.where(Job.name == "test.record", Job.status == JobStatus.SUCCEEDED)
            return await db.scalar(stmt) or 0

    try:

        async def three_slots_ran() -> bool:
            return await succeeded() >= 3

        await _wait_for(three_slots_ran, 40, "three scheduled slots to run")
        assert all(p.poll() is None for p in procs), log.read_text()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=15)
    assert [p.returncode for p in procs] == [0, 0, 0], log.read_text()
    async with maker() as db:
        slots = (
            await db.scalars(select(ScheduleSlot).where(ScheduleSlot.schedule == "test.periodic"))
        ).all()
        jobs = (await db.scalars(select(Job).where(Job.name == "test.record"))).all()
    slot_times = [s.slot_at for s in slots]
    assert len(slots) >= 3
    assert len(set(slot_times)) == len(slots)
    assert all(t.microsecond == 0 for t in slot_times)  # floor of epoch seconds by the interval
    assert len(jobs) == len(slots)  # the inserts that lost fired nothing
    assert {s.job_id for s in slots} == {j.id for j in jobs}
    done = [j for j in jobs if j.status == JobStatus.SUCCEEDED]
    assert len(done) >= 3
    assert all(j.attempts == 1 for j in done)
    assert _lines(notes) == ["run 1"] * len(done)  # each slot's job ran once


@pytest.mark.slow
async def test_serve_runs_the_embedded_worker_on_sqlite(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the in-process worker is the embedded (SQLite) default")
    notes = tmp_path / "notes"
    job = await _enqueue(engine, "test.record", {"file": str(notes)})
    env = _worker_env(db_url, tmp_path)
    env.pop("XPLORR_EMBEDDED_WORKER", None)
    server = _start_worker(env, tmp_path / "serve.log", ("serve", "--port", "0"))
    try:

        async def done() -> bool:
            return (await _job(engine, job.id)).status == JobStatus.SUCCEEDED

        await _wait_for(done, 30, "the embedded worker to run the job")
        assert _lines(notes) == ["run 1"]
    finally:
        server.terminate()
        server.wait(timeout=15)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert server.returncode in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()
