"""A worker process SIGKILLed in the middle of a sync (one billing period committed, the others
not yet): the account has that period's new data and the others' old data meanwhile, the run
says which period it committed, and once the lease expires another worker re-runs the sync,
which replaces the other periods; the data is then the new files' sums exactly, neither lost
nor doubled."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import TEST_SECRET, ClientFor
from tests.mail import drain
from tests.sync.conftest import FOCUS_10, SAMPLES, cents, file_sums, stored_sums
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.core.db import make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.sync import jobs as sync_jobs
from xplorr.sync.models import SyncRun, SyncState
from xplorr.users.models import User

REPO = Path(__file__).resolve().parents[2]
AWS_12 = "focus_sample_costandusage_aws_1000.csv"
WEEK_MINUTES = 7 * 24 * 60


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "xplorr", "worker"],
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
async def test_a_sync_killed_mid_import_is_rerun_and_counts_once(
    client_for: ClientFor,
    admin: User,
    focus_account: CloudAccount,
    db: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    exports: Path,
    db_url: str,
    tmp_path: Path,
) -> None:
    folder = exports / "acme"
    first = (await client_for(admin).post(f"/sync/{focus_account.id}")).json()
    await drain(Worker(settings, engine))
    old = await stored_sums(db, focus_account)
    assert cents(old) == {"": Decimal("20.52")}

    # New exports arrive (a second file: a new snapshot of the folder), and a sync starts.
    (folder / AWS_12).write_bytes((SAMPLES / AWS_12).read_bytes())
    expected = file_sums(folder / FOCUS_10)[""] + file_sums(folder / AWS_12)[""]
    second = (await client_for(admin).post(f"/sync/{focus_account.id}")).json()
    assert second["id"] != first["id"]

    # The workers below would fire the scheduled fan-out at start: its current slot is taken.
    maker = make_sessionmaker(engine)
    weekly = sync_jobs.SCHEDULE.resolve(Settings(sync_interval_minutes=WEEK_MINUTES))
    async with maker() as s, s.begin():
        s.add(ScheduleSlot(schedule=weekly.name, slot_at=queue.slot_of(weekly, clock.now())))

    pause = tmp_path / "paused"
    env = {
        **os.environ,
        "XPLORR_DATABASE_URL": db_url,
        "XPLORR_DATA_DIR": str(tmp_path),
        "XPLORR_SECRET_KEY": TEST_SECRET,
        "XPLORR_JOB_MODULES": "tests.sync.slow_connector",
        "XPLORR_TEST_SYNC_PAUSE_FILE": str(pause),
        "XPLORR_JOB_LEASE_SECONDS": "2",
        "XPLORR_JOB_POLL_SECONDS": "0.1",
        "XPLORR_SYNC_INTERVAL_MINUTES": str(WEEK_MINUTES),
        "XPLORR_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "workers.log"
    killed = _start_worker(env, log)
    again = None
    try:

        async def paused() -> bool:
            return pause.exists()

        await _wait_for(paused, 60, "the sync to have committed its first period")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        # 2024-09 committed again from the new snapshot (the same rows); 2024-10 and 2026-05
        # not written at all.
        assert await stored_sums(db, focus_account) == old
        killed_run = await db.get_one(SyncRun, uuid.UUID(second["id"]))
        assert killed_run.detail is not None
        assert killed_run.detail["periods_imported"] == ["2024-09"]

        again = _start_worker(env, log)

        async def finished() -> bool:
            await db.rollback()
            run = await db.get_one(SyncRun, uuid.UUID(second["id"]), populate_existing=True)
            return run.state in (SyncState.SUCCEEDED, SyncState.FAILED)

        await _wait_for(finished, 60, "the sync to be re-run")
    finally:
        for proc in (killed, again):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
    run = (await client_for(admin).get("/sync/jobs")).json()["data"][0]
    assert run["id"] == second["id"]
    assert (run["state"], run["error"]) == ("succeeded", None), log.read_text()
    assert run["detail"]["periodsImported"] == ["2024-09", "2024-10", "2026-05"]
    assert cents(await stored_sums(db, focus_account)) == {"": expected.quantize(Decimal("0.01"))}
    await db.rollback()
    stored = await db.get_one(SyncRun, uuid.UUID(second["id"]))
    job = await db.get_one(Job, stored.job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)  # re-run exactly once
    assert again is not None
    assert again.returncode == 0, log.read_text()
