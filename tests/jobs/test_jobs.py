"""The durable job runner on a real database: transactional enqueue, retries with backoff, dead
jobs, per-key exclusivity, zombie fencing, a worker SIGKILLed mid-job, and one schedule slot seen
by three worker processes."""

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import TEST_SECRET, make_settings
from tests.jobs import sample_jobs  # noqa: F401  (registers the test handlers)
from xplorr.audit_log.models import AuditEntry
from xplorr.core import clock
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import Schedule
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def job_settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        db_url, tmp_path, job_lease_seconds=2, job_poll_seconds=0.05, job_backoff_base_seconds=0.2
    )


async def _enqueue(engine: AsyncEngine, name: str, payload: dict, **kw) -> Job:
    async with make_sessionmaker(engine)() as db:
        job = await queue.enqueue(db, name, payload, **kw)
        await db.commit()
        return job


async def _job(engine: AsyncEngine, job_id) -> Job:
    async with make_sessionmaker(engine)() as db:
        return await db.get_one(Job, job_id)


async def _drain(worker: Worker, rounds: int = 50) -> None:
    """Tick until nothing is running and nothing due is left (bounded)."""
    for _ in range(rounds):
        await worker.tick()
        if not worker.running:
            return
        await asyncio.gather(*worker.running.values(), return_exceptions=True)
    raise AssertionError("worker did not drain")


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
    await _drain(Worker(job_settings, engine))
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
    await _drain(Worker(job_settings, engine))
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
        await _drain(worker)
        row = await _job(engine, job.id)
        assert (row.status, row.attempts) == (JobStatus.QUEUED, attempt)
        assert row.last_error == f"RuntimeError: transient failure {attempt}"
        delays.append((row.run_at - row.updated_at).total_seconds())  # both set at the failure
        await asyncio.sleep(max(0.0, (row.run_at - clock.now()).total_seconds()) + 0.02)
    # base 0.2 s, equal jitter: attempt 1 waits 0.1..0.2 s, attempt 2 waits 0.2..0.4 s
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.4
    await _drain(worker)
    row = await _job(engine, job.id)
    assert (row.status, row.attempts, row.last_error) == (JobStatus.SUCCEEDED, 3, None)


def test_backoff_is_exponential_jittered_and_capped() -> None:
    for attempt in range(1, 8):
        full = 2.0 * 2 ** (attempt - 1)
        samples = [queue.backoff(attempt, 2.0).total_seconds() for _ in range(200)]
        assert all(full / 2 <= s <= full for s in samples)
        assert len({round(s, 6) for s in samples}) > 150  # jittered, not constant
    assert queue.backoff(40, 2.0) <= queue.MAX_BACKOFF


async def test_out_of_attempts_is_dead_with_last_error(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    job = await _enqueue(engine, "test.always_fails", {})
    worker = Worker(job_settings, engine)
    await _drain(worker)
    await asyncio.sleep(0.25)
    await _drain(worker)
    row = await _job(engine, job.id)
    assert (row.status, row.attempts, row.last_error) == (JobStatus.DEAD, 2, "RuntimeError: boom")


async def test_unknown_job_name_fails_visibly(engine: AsyncEngine, job_settings: Settings) -> None:
    job = await _enqueue(engine, "nobody.handles_this", {}, max_attempts=1)
    await _drain(Worker(job_settings, engine))
    row = await _job(engine, job.id)
    assert row.status == JobStatus.DEAD
    assert "no handler registered" in (row.last_error or "")


async def test_same_key_never_runs_concurrently(
    engine: AsyncEngine, job_settings: Settings, tmp_path: Path
) -> None:
    keyed, free = tmp_path / "keyed", tmp_path / "free"
    for _ in range(3):
        await _enqueue(engine, "test.overlap", {"file": str(keyed)}, key="sync:account-1")
        await _enqueue(engine, "test.overlap", {"file": str(free)})
    worker = Worker(job_settings, engine, concurrency=6)
    await worker.tick()
    assert len(worker.running) == 4  # three free jobs and one of the keyed ones
    await _drain(worker)

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
    assert max(s for s, _ in free_runs) < min(e for _, e in free_runs)  # these overlapped


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


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "xplorr", "worker"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_for(predicate, within: float, what: str) -> None:
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
async def test_three_worker_processes_fire_one_schedule_slot_once(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    notes = tmp_path / "scheduled"
    env = _worker_env(db_url, tmp_path, XPLORR_TEST_SCHEDULE_FILE=str(notes))
    log = tmp_path / "workers.log"
    procs = [_start_worker(env, log) for _ in range(3)]
    maker = make_sessionmaker(engine)
    try:

        async def slot_taken_and_run() -> bool:
            async with maker() as db:
                done = await db.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.name == "test.record", Job.status == JobStatus.SUCCEEDED)
                )
            return bool(done)

        await _wait_for(slot_taken_and_run, 40, "the scheduled job to run")
        await asyncio.sleep(1.0)  # every worker has ticked several times by now
        assert all(p.poll() is None for p in procs), log.read_text()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=15)
    async with maker() as db:
        slots = (
            await db.scalars(select(ScheduleSlot).where(ScheduleSlot.schedule == "test.hourly"))
        ).all()
        jobs = await db.scalar(
            select(func.count()).select_from(Job).where(Job.name == "test.record")
        )
    assert len(slots) == 1
    assert jobs == 1
    assert _lines(notes) == ["run 1"]


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
    with (tmp_path / "serve.log").open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "xplorr", "serve", "--port", "0"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
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
