"""The platform other areas plug their background work into, on both databases: names checked at
enqueue and handlers missing at run time, deduplicated enqueue (also two transactions racing on
PostgreSQL), lanes and the slot kept for the interactive one, cron schedules, one job per
organization, per-row schedules and their due scanner (two scans at once), network I/O outside
the job's transaction and the warning about a transaction held long."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Column, MetaData, String, Table, Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from structlog.testing import capture_logs

from tests.conftest import make_settings
from tests.factories.cloud_accounts import make_account
from tests.factories.users import make_org
from tests.jobs import sample_jobs
from tests.mail import drain
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import periodic, queue, registry
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import Lane, Schedule, UnknownJobError
from xplorr.core.jobs.runner import Worker
from xplorr.core.models import NAMING, Base
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org


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


async def _jobs(engine: AsyncEngine, name: str) -> list[Job]:
    async with make_sessionmaker(engine)() as db:
        stmt = select(Job).where(Job.name == name).order_by(Job.created_at)
        return list((await db.scalars(stmt)).all())


# -- names ---------------------------------------------------------------------------------------


async def test_an_unregistered_name_is_refused_at_enqueue_and_writes_nothing(
    engine: AsyncEngine,
) -> None:
    async with make_sessionmaker(engine)() as db:
        with pytest.raises(UnknownJobError, match=r"nobody\.handles_this"):
            await queue.enqueue(db, "nobody.handles_this", {})
        await db.commit()
        assert await db.scalar(select(func.count()).select_from(Job)) == 0


async def test_a_job_whose_handler_is_missing_fails_for_good_at_its_first_attempt(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    """A row written by another version (or a module left out of XPLORR_JOB_MODULES): no retry
    can bring the handler, so the job is dead at once, saying why."""
    async with make_sessionmaker(engine)() as db:
        row = Job(name="retired.handler", payload={}, max_attempts=5, run_at=clock.now())
        db.add(row)
        await db.commit()
    await drain(Worker(job_settings, engine))
    (dead,) = await _jobs(engine, "retired.handler")
    assert (dead.status, dead.attempts) == (JobStatus.DEAD, 1)
    assert "PermanentJobError: no handler registered for job 'retired.handler'" in (
        dead.last_error or ""
    )


def test_job_modules_are_discovered_not_listed() -> None:
    modules = registry.area_job_modules()
    assert {"xplorr.auth.jobs", "xplorr.orgs.jobs", "xplorr.sync.jobs"} <= set(modules)
    registry.discover()
    for name in ("sync.account", "sync.fan_out", "orgs.purge", "auth.send_verification"):
        assert name in registry.JOBS
    assert "email.send" in registry.JOBS  # core's own
    assert registry.JOBS["auth.send_password_reset"].lane is Lane.INTERACTIVE


# -- dedupe -------------------------------------------------------------------------------------


async def test_dedupe_keeps_one_waiting_job_per_key_and_brings_it_forward(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    note = {"file": str(tmp_path / "n")}
    later = clock.now() + timedelta(hours=1)
    first = await _enqueue(engine, "test.record", note, key="k", dedupe=True, run_at=later)
    again = await _enqueue(engine, "test.record", note, key="k", dedupe=True, lane=Lane.INTERACTIVE)
    assert again.id == first.id
    (row,) = await _jobs(engine, "test.record")
    assert row.run_at <= clock.now()  # asked for now: no longer an hour away
    assert row.lane == Lane.INTERACTIVE
    # Without dedupe, or under another key, jobs add up as before.
    await _enqueue(engine, "test.record", note, key="k")
    await _enqueue(engine, "test.record", note, key="other", dedupe=True)
    assert len(await _jobs(engine, "test.record")) == 3
    # Once the waiting job has started, the key may have a waiting job again.
    async with make_sessionmaker(engine)() as db, db.begin():
        claimed = await queue.claim(db, "w", timedelta(seconds=30))
    assert claimed is not None
    assert claimed.id == first.id
    fresh = await _enqueue(engine, "test.record", note, key="k", dedupe=True)
    assert fresh.id != first.id
    with pytest.raises(ValueError, match="needs a key"):
        async with make_sessionmaker(engine)() as db:
            await queue.enqueue(db, "test.record", note, dedupe=True)


async def test_a_retry_waiting_out_its_backoff_does_not_block_a_new_deduplicated_job(
    engine: AsyncEngine, job_settings: Settings
) -> None:
    job = await _enqueue(engine, "test.flaky", {"succeed_on": 9}, key="f", dedupe=True)
    worker = Worker(job_settings, engine)
    await worker.tick()
    await asyncio.gather(*worker.running.values())
    (retrying,) = await _jobs(engine, "test.flaky")
    assert (retrying.status, retrying.attempts) == (JobStatus.QUEUED, 1)
    fresh = await _enqueue(engine, "test.flaky", {"succeed_on": 1}, key="f", dedupe=True)
    assert fresh.id != job.id


async def test_two_transactions_enqueueing_one_key_at_once_leave_one_job(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """A adds the key's job and holds its transaction open; B adds the same key meanwhile (on
    PostgreSQL B's insert waits on the unique index, then loses; on SQLite B waits for the
    write lock). Both end up with A's job, and the table holds one."""
    note = {"file": str(tmp_path / "n")}
    other = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db_a:
            mine = await queue.enqueue(db_a, "test.record", note, key="race", dedupe=True)
            b = asyncio.create_task(_enqueue(other, "test.record", note, key="race", dedupe=True))
            await asyncio.sleep(0.5)
            assert not b.done()  # waiting for A
            await db_a.commit()
        theirs = await asyncio.wait_for(b, 10)
    finally:
        await other.dispose()
    assert theirs.id == mine.id
    assert [j.id for j in await _jobs(engine, "test.record")] == [mine.id]


async def test_many_concurrent_deduplicated_enqueues_make_one_job(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    try:
        made = await asyncio.gather(
            *(
                _enqueue(e, "test.record", {"file": str(tmp_path / "n")}, key="herd", dedupe=True)
                for e in engines
            )
        )
    finally:
        for e in engines:
            await e.dispose()
    assert len({job.id for job in made}) == 1
    assert len(await _jobs(engine, "test.record")) == 1


# -- lanes --------------------------------------------------------------------------------------


async def test_claims_take_the_interactive_lane_before_older_bulk_work(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    note = {"file": str(tmp_path / "n")}
    past = clock.now() - timedelta(minutes=5)
    bulk = await _enqueue(engine, "test.record", note, lane=Lane.BULK, run_at=past)
    default = await _enqueue(engine, "test.record", note, run_at=past)
    interactive = await _enqueue(engine, "test.record", note, lane=Lane.INTERACTIVE)
    order = []
    for _ in range(3):
        async with make_sessionmaker(engine)() as db, db.begin():
            claimed = await queue.claim(db, "w", timedelta(seconds=30))
        assert claimed is not None
        order.append(claimed.id)
    assert order == [interactive.id, default.id, bulk.id]


async def test_a_busy_worker_keeps_its_last_slot_for_the_interactive_lane(
    engine: AsyncEngine, job_settings: Settings, tmp_path: Path
) -> None:
    sample_jobs.GATES["bulk"] = gate = asyncio.Event()
    bulk = [
        await _enqueue(engine, "test.gated", {"gate": "bulk"}, lane=Lane.BULK) for _ in range(3)
    ]
    worker = Worker(job_settings, engine, concurrency=2)
    try:
        await worker.tick()
        assert set(worker.running) == {bulk[0].id}  # the second slot stays free
        urgent = await _enqueue(
            engine, "test.record", {"file": str(tmp_path / "n")}, lane=Lane.INTERACTIVE
        )
        await worker.tick()
        assert urgent.id in worker.running
        await asyncio.wait_for(worker.running[urgent.id], 10)
    finally:
        gate.set()
        await drain(worker)
    states = {j.id: j.status for j in await _jobs(engine, "test.gated")}
    assert set(states.values()) == {JobStatus.SUCCEEDED}


# -- cron schedules -----------------------------------------------------------------------------


async def test_a_cron_schedule_fires_each_local_slot_once_across_workers(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sched = Schedule(
        "test.cron",
        None,
        "test.record",
        {"file": str(tmp_path / "n")},
        cron="0 9 * * 1",
        timezone="Europe/Paris",
    )
    # Monday 2026-03-30 09:00 CEST = 07:00 UTC; a moment later the slot is the same.
    at = datetime(2026, 3, 30, 7, 0, 30, tzinfo=UTC)
    slot = queue.slot_of(sched, at)
    assert slot == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert queue.slot_of(sched, at + timedelta(days=6)) == slot
    assert queue.slot_of(sched, at + timedelta(days=7)) == slot + timedelta(days=7)
    fired = []
    for _ in range(3):
        async with make_sessionmaker(engine)() as db, db.begin():
            fired.append(await queue.fire_slot(db, sched, slot))
    assert sum(job is not None for job in fired) == 1
    async with make_sessionmaker(engine)() as db:
        slots = (await db.scalars(select(ScheduleSlot.slot_at))).all()
    assert slots == [slot]


def test_schedule_takes_every_or_a_valid_cron_never_both() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        registry.schedule("test.neither", job="test.record")
    with pytest.raises(ValueError, match="exactly one"):
        registry.schedule(
            "test.both", job="test.record", every=timedelta(hours=1), cron="0 * * * *"
        )
    with pytest.raises(ValueError, match="unknown time zone"):
        registry.schedule("test.zone", job="test.record", cron="0 9 * * 1", timezone="Mars/Base")
    assert "test.zone" not in registry.SCHEDULES


# -- one job per organization ---------------------------------------------------------------------


async def test_fan_out_per_org_queues_one_job_per_org_and_never_piles_them_up(
    engine: AsyncEngine, db: AsyncSession
) -> None:
    orgs = [await make_org(db, f"Org {i}") for i in range(3)]
    fan = periodic.FanOut("test.fan_out", "test.record", payload={"file": "/dev/null"})
    for _ in range(2):  # the second run finds every org's job still waiting
        async with make_sessionmaker(engine)() as s, s.begin():
            assert await periodic.enqueue_per_org(s, fan) == 3
    jobs = await _jobs(engine, "test.record")
    assert sorted(j.org_id for j in jobs if j.org_id) == sorted(o.id for o in orgs)
    assert {(j.lane, j.dedupe, j.key) for j in jobs} == {
        (Lane.BULK, True, f"test.record:{o.id}") for o in orgs
    }


async def test_the_sync_fan_out_reaches_only_orgs_with_accounts(
    engine: AsyncEngine, job_settings: Settings, db: AsyncSession, org: Org, other_org: Org
) -> None:
    await make_account(db, org)
    await make_org(db, "No accounts")
    await _enqueue(engine, "sync.fan_out", {})
    worker = Worker(job_settings, engine)
    await worker.tick()
    await asyncio.gather(*worker.running.values())
    per_org = await _jobs(engine, "sync.fan_out_org")
    assert [(j.org_id, j.lane) for j in per_org] == [(org.id, Lane.BULK)]


# -- per-row schedules --------------------------------------------------------------------------


class _TestBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = Base.type_annotation_map


# The real orgs table, so the mixin's foreign key resolves; only test_reminders is created.
Table("orgs", _TestBase.metadata, Column("id", Uuid, primary_key=True))


class Reminder(periodic.CronScheduled, _TestBase):
    """A row with a schedule of its own, as scheduled reports and digests will have."""

    __tablename__ = "test_reminders"
    note: Mapped[str] = mapped_column(String(50), default="")


REMINDERS = periodic.DueScanner("test.reminders_scan", Reminder, "test.remind", batch=100)


@pytest.fixture
async def reminders(engine: AsyncEngine) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: Reminder.__table__.create(c))  # type: ignore[attr-defined]
    yield
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: Reminder.__table__.drop(c))  # type: ignore[attr-defined]


async def _add_reminders(
    engine: AsyncEngine, org: Org, count: int, *, cron: str, zone: str, due: datetime | None
) -> list[uuid.UUID]:
    async with make_sessionmaker(engine)() as s:
        rows = [
            Reminder(org_id=org.id, cron=cron, timezone=zone, next_run_at=due) for _ in range(count)
        ]
        s.add_all(rows)
        await s.commit()
        return [r.id for r in rows]


@pytest.mark.usefixtures("reminders")
async def test_a_due_row_is_queued_once_and_moves_to_its_next_local_fire_time(
    engine: AsyncEngine, org: Org
) -> None:
    now = datetime(2026, 3, 27, 12, tzinfo=UTC)  # a Friday; Paris goes to summer time Sunday
    due = now - timedelta(minutes=3)
    (daily,) = await _add_reminders(engine, org, 1, cron="30 2 * * *", zone="Europe/Paris", due=due)
    await _add_reminders(engine, org, 1, cron="0 9 * * 1", zone="UTC", due=now + timedelta(hours=1))
    await _add_reminders(engine, org, 1, cron="0 9 * * 1", zone="UTC", due=None)  # paused
    async with make_sessionmaker(engine)() as s, s.begin():
        assert await periodic.scan_due(s, REMINDERS, now) == 1
    async with make_sessionmaker(engine)() as s, s.begin():
        assert await periodic.scan_due(s, REMINDERS, now) == 0  # moved on: not due again
    (job,) = await _jobs(engine, "test.remind")
    assert job.org_id == org.id
    assert job.payload == {"id": str(daily), "due_at": due.isoformat()}
    assert (job.key, job.dedupe) == (f"test.remind:{daily}", True)
    async with make_sessionmaker(engine)() as s:
        row = await s.get_one(Reminder, daily)
        assert row.next_run_at == datetime(2026, 3, 28, 1, 30, tzinfo=UTC)
        # and the night of the change, 02:30 does not exist: 03:30 CEST
        row.reschedule(row.next_run_at)
        assert row.next_run_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.mark.usefixtures("reminders")
async def test_two_scans_at_once_queue_each_due_row_once(
    db_url: str, engine: AsyncEngine, org: Org
) -> None:
    now = clock.now()
    ids = await _add_reminders(
        engine, org, 30, cron="*/5 * * * *", zone="America/New_York", due=now
    )
    engines = [engine, make_engine(db_url)]

    async def scan(eng: AsyncEngine) -> int:
        async with make_sessionmaker(eng)() as s, s.begin():
            return await periodic.scan_due(s, REMINDERS, now)

    try:
        counts = await asyncio.gather(scan(engines[0]), scan(engines[1]))
        counts += await asyncio.gather(scan(engines[0]), scan(engines[1]))
    finally:
        await engines[1].dispose()
    assert sum(counts) == 30
    jobs = await _jobs(engine, "test.remind")
    assert sorted(uuid.UUID(j.payload["id"]) for j in jobs) == sorted(ids)


@pytest.mark.usefixtures("reminders")
async def test_a_scan_that_hits_its_batch_queues_another_and_a_broken_row_is_paused(
    engine: AsyncEngine, org: Org
) -> None:
    small = periodic.DueScanner("test.reminders_scan_small", Reminder, "test.remind", batch=2)
    now = clock.now()
    early, late = now - timedelta(minutes=10), now - timedelta(minutes=1)
    await _add_reminders(engine, org, 3, cron="0 * * * *", zone="UTC", due=early)
    (broken,) = await _add_reminders(
        engine, org, 1, cron="0 * * * *", zone="Nowhere/Zone", due=late
    )
    registry.job(small.name)(sample_jobs.remind)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            assert await periodic.scan_due(s, small, now) == 2
        assert len(await _jobs(engine, small.name)) == 1  # more may be due: scan again
        with capture_logs() as logs:
            async with make_sessionmaker(engine)() as s, s.begin():
                await periodic.scan_due(s, small, now)
                await periodic.scan_due(s, small, now)
    finally:
        registry.JOBS.pop(small.name)
    assert len(await _jobs(engine, "test.remind")) == 3
    assert "scheduled_row_paused" in [e["event"] for e in logs]
    async with make_sessionmaker(engine)() as s:
        assert (await s.get_one(Reminder, broken)).next_run_at is None


@pytest.mark.usefixtures("reminders")
async def test_a_registered_due_scanner_runs_from_its_schedule_in_a_worker(
    engine: AsyncEngine, job_settings: Settings, org: Org
) -> None:
    scanner = periodic.due_scanner(
        "test.reminders_scheduled", model=Reminder, job="test.remind", every=timedelta(seconds=5)
    )
    try:
        assert registry.SCHEDULES["test.reminders_scheduled.every"].job == scanner.name
        await _add_reminders(engine, org, 2, cron="0 9 * * *", zone="Asia/Tokyo", due=clock.now())
        await drain(Worker(job_settings, engine))
    finally:
        registry.SCHEDULES.pop("test.reminders_scheduled.every")
        registry.JOBS.pop(scanner.name)
        periodic.SCANNERS.pop(scanner.name)
    runs = await _jobs(engine, "test.remind")
    assert [j.status for j in runs] == [JobStatus.SUCCEEDED] * 2


# -- transactions and the network ---------------------------------------------------------------


async def test_a_transaction_held_long_is_logged_with_the_jobs_name(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings(
        db_url,
        tmp_path,
        job_lease_seconds=2,
        job_poll_seconds=0.05,
        job_transaction_warn_seconds=0.2,
    )
    await _enqueue(engine, "test.holds_transaction", {"seconds": 1.5})
    with capture_logs() as logs:
        await drain(Worker(settings, engine))
    long = [e for e in logs if e["event"] == "job_transaction_long"]
    assert [e.get("still_open", False) for e in long] == [True, False]
    assert {e["name"] for e in long} == {"test.holds_transaction"}
    assert long[-1]["seconds"] >= 1.5


async def test_network_io_after_release_connection_holds_no_transaction(
    db_url: str, engine: AsyncEngine, tmp_path: Path, db: AsyncSession
) -> None:
    """While the handler waits on the "network", its transaction is over: another connection
    writes at once (on SQLite that is the write lock the embedded API needs), nothing is
    logged as long, and the handler's later write commits with its success."""
    settings = make_settings(
        db_url,
        tmp_path,
        job_lease_seconds=2,
        job_poll_seconds=0.05,
        job_transaction_warn_seconds=0.2,
    )
    sample_jobs.GATES["network"] = gate = asyncio.Event()
    job = await _enqueue(engine, "test.network_outside_transaction", {"gate": "network"})
    worker = Worker(settings, engine)
    with capture_logs() as logs:
        await worker.tick()
        await asyncio.sleep(0.6)  # the handler is waiting on its gate
        other = make_engine(db_url)
        try:
            async with make_sessionmaker(other)() as s:
                await asyncio.wait_for(_write_audit(s), 2)
        finally:
            await other.dispose()
        gate.set()
        await asyncio.wait_for(worker.running[job.id], 10)
    assert "job_transaction_long" not in [e["event"] for e in logs]
    (done,) = await _jobs(engine, "test.network_outside_transaction")
    assert done.status == JobStatus.SUCCEEDED
    actions = (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.created_at))).all()
    assert list(actions) == ["test.meanwhile", "test.after_network"]


async def _write_audit(s: AsyncSession) -> None:
    s.add(AuditEntry(action="test.meanwhile", details={}))
    await s.commit()


async def test_release_connection_after_a_write_is_refused(
    engine: AsyncEngine, job_settings: Settings, db: AsyncSession
) -> None:
    await _enqueue(engine, "test.release_after_write", {})
    await drain(Worker(job_settings, engine))
    (dead,) = await _jobs(engine, "test.release_after_write")
    assert dead.status == JobStatus.DEAD
    assert "release_connection() after this attempt wrote" in (dead.last_error or "")
    stmt = select(func.count()).select_from(AuditEntry)
    assert await db.scalar(stmt) == 0  # the write was rolled back with the failure
