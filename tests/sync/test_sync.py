"""The sync job on a real worker pass: a focus account syncs its directory of exports (costs equal
the files' sums to the cent, per service and per day), syncing again changes nothing, bad data
and refused paths fail readably without touching the old data, transient errors retry, Azure/GCP
fail with a clear reason (AWS: tests/aws), and the schedule fans out one sync per account, once."""

import asyncio
import os
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import ClientFor, make_settings
from tests.factories.cloud_accounts import make_account
from tests.ingest.focus_rows import hourly, row, write_csv
from tests.ingest.hostile import BAD_FILES
from tests.mail import drain
from tests.sync.conftest import (
    FOCUS_10,
    SAMPLES,
    cents,
    copy_samples,
    file_sums,
    stored_sums,
)
from xplorr import connectors
from xplorr.cloud_accounts.models import AccountStatus, CloudAccount, Provider
from xplorr.core import clock
from xplorr.core.db import make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus, ScheduleSlot
from xplorr.core.jobs.registry import JOBS, SCHEDULES, JobContext
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.core.tenancy import org_scope
from xplorr.costs import query as costs
from xplorr.costs.models import CostImport, CostRecord
from xplorr.orgs.models import Org
from xplorr.sync import jobs as sync_jobs
from xplorr.sync.models import SyncRun, SyncState, SyncTrigger
from xplorr.users.models import User


async def _sync(client_for: ClientFor, admin: User, account: CloudAccount, worker: Worker) -> dict:
    """POST /sync/{id}, one worker pass, and the run as GET /sync/jobs shows it."""
    r = await client_for(admin).post(f"/sync/{account.id}")
    assert r.status_code == 202, r.text
    await drain(worker)
    runs = (await client_for(admin).get("/sync/jobs")).json()["data"]
    return next(run for run in runs if run["id"] == r.json()["id"])


async def _account(db: AsyncSession, account_id: uuid.UUID) -> CloudAccount:
    await db.rollback()
    return await db.get_one(CloudAccount, account_id, populate_existing=True)


async def _rows(db: AsyncSession, account: CloudAccount) -> int:
    await db.rollback()
    stmt = select(func.count()).select_from(CostRecord)
    return await db.scalar(stmt.where(CostRecord.cloud_account_id == account.id)) or 0


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


class TestFocusSync:
    async def test_costs_equal_the_files_sums_and_a_resync_changes_nothing(
        self,
        client_for: ClientFor,
        admin: User,
        focus_account: CloudAccount,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        sample = exports / "acme" / FOCUS_10
        run = await _sync(client_for, admin, focus_account, worker)
        assert run["state"] == "succeeded", run
        assert (run["rows"], run["error"]) == (1000, None)
        assert run["dataThrough"] == "2024-09-30"
        assert run["startedAt"] <= run["finishedAt"]
        detail = run["detail"]
        assert detail["periodsImported"] == ["2024-09", "2024-10"]  # a few rows billed in October
        assert detail["periodsSkipped"] == []
        assert detail["files"] == 1
        assert Decimal(detail["totals"]["USD"]) == file_sums(sample)[""]
        total = await stored_sums(db, focus_account)
        assert cents(total) == {"": Decimal("20.52")}  # the samples' README
        assert cents(total) == cents(file_sums(sample))
        by_service = await stored_sums(db, focus_account, "service_name")
        assert cents(by_service) == cents(file_sums(sample, "ServiceName"))
        by_day = await stored_sums(db, focus_account, "usage_date")
        expected_days: dict[date, Decimal] = {}
        for stamp, amount in file_sums(sample, "ChargePeriodStart").items():
            day = date.fromisoformat(stamp[:10])
            expected_days[day] = expected_days.get(day, Decimal(0)) + amount
        assert len(by_day) == 30
        assert cents(by_day) == cents(expected_days)
        account = await _account(db, focus_account.id)
        assert account.status == AccountStatus.ACTIVE
        assert account.last_synced_at is not None
        rows = await _rows(db, focus_account)

        again = await _sync(client_for, admin, focus_account, worker)
        assert again["state"] == "succeeded"
        assert again["detail"]["periodsImported"] == []
        assert again["detail"]["periodsSkipped"] == [
            {"period": "2024-09", "reason": "unchanged"},
            {"period": "2024-10", "reason": "unchanged"},
        ]
        assert again["dataThrough"] == "2024-09-30"
        assert await stored_sums(db, focus_account) == total
        assert await stored_sums(db, focus_account, "service_name") == by_service
        assert await _rows(db, focus_account) == rows

        status = (await client_for(admin).get("/sync/status")).json()["data"]
        assert [(s["state"], s["dataThrough"], s["runId"]) for s in status] == [
            ("succeeded", "2024-09-30", again["id"])
        ]

    async def test_a_directory_of_several_exports(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        names = sorted(p.name for p in SAMPLES.glob("*.csv"))
        folder = copy_samples(exports / "all", *names)
        account = await make_account(db, org, credentials={"path": str(folder)})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["rows"] == 4000
        assert run["detail"]["periodsImported"] == ["2024-09", "2024-10", "2026-05"]
        expected = sum((file_sums(folder / n)[""] for n in names), Decimal(0))
        assert cents(await stored_sums(db, account)) == {"": expected.quantize(Decimal("0.01"))}

    async def test_one_file_as_the_path(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        folder = copy_samples(exports / "single", FOCUS_10)
        account = await make_account(db, org, credentials={"path": str(folder / FOCUS_10)})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert cents(await stored_sums(db, account)) == {"": Decimal("20.52")}


class TestFailures:
    async def test_bad_data_fails_readably_and_keeps_the_old_data(
        self,
        client_for: ClientFor,
        admin: User,
        focus_account: CloudAccount,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        good = await _sync(client_for, admin, focus_account, worker)
        assert good["state"] == "succeeded"
        before = await stored_sums(db, focus_account)
        rows = await _rows(db, focus_account)
        lines = (SAMPLES / FOCUS_10).read_text().splitlines(keepends=True)
        lines[5] = lines[5].replace(",0.", ",zero-point-", 1)  # a BilledCost that is no number
        (exports / "acme" / "part-2.csv").write_text("".join(lines))

        bad = await _sync(client_for, admin, focus_account, worker)
        assert bad["state"] == "failed", bad
        assert "part-2.csv" in bad["error"]
        assert bad["finishedAt"] is not None
        assert bad["rows"] is None
        account = await _account(db, focus_account.id)
        assert account.status == AccountStatus.ERROR
        assert await stored_sums(db, focus_account) == before
        assert await _rows(db, focus_account) == rows
        jobs = (
            await db.scalars(select(Job).where(Job.name == "sync.account").order_by(Job.created_at))
        ).all()
        assert (jobs[-1].status, jobs[-1].attempts) == (JobStatus.DEAD, 1)  # not retried
        status = (await client_for(admin).get("/sync/status")).json()["data"][0]
        assert (status["state"], status["accountStatus"]) == ("failed", "error")
        assert status["error"] == bad["error"]
        assert status["dataThrough"] == "2024-09-30"  # the data still there

        (exports / "acme" / "part-2.csv").unlink()
        fixed = await _sync(client_for, admin, focus_account, worker)
        assert fixed["state"] == "succeeded"
        assert (await _account(db, focus_account.id)).status == AccountStatus.ACTIVE

    async def test_a_sync_failing_midway_keeps_the_periods_it_committed_and_says_which(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        # Two snapshots, imported newest first: October's is good (committed on its own),
        # then the older one, September's, holds a BilledCost that is no number.
        data = exports / "midway" / "data"
        write_csv(
            data / "2024-10-05T00:00:00Z" / "oct.csv",
            hourly(day="2024-10-02", BillingPeriodStart="2024-10-01T00:00:00Z", BilledCost="2"),
        )
        write_csv(
            data / "2024-09-05T00:00:00Z" / "sep.csv",
            [*hourly(day="2024-09-02", hours=3), row(BilledCost="two")],
        )
        account = await make_account(
            db,
            org,
            provider=Provider.FOCUS,
            name="Midway",
            credentials={"path": str(exports / "midway")},
        )
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "failed", run
        assert "sep.csv" in run["error"]
        assert run["error"].endswith("Billing periods imported before the failure (kept): 2024-10.")
        assert run["detail"]["periodsImported"] == ["2024-10"]
        by_period = await stored_sums(db, account, "billing_period")
        assert by_period == {date(2024, 10, 1): Decimal("48")}  # October whole, no September
        jobs = (
            await db.scalars(select(Job).where(Job.name == "sync.account").order_by(Job.created_at))
        ).all()
        assert (jobs[-1].status, jobs[-1].attempts) == (JobStatus.DEAD, 1)

        # Fixed, the next sync skips October (the same snapshot, whole) and adds September.
        write_csv(data / "2024-09-05T00:00:00Z" / "sep.csv", hourly(day="2024-09-02", hours=3))
        fixed = await _sync(client_for, admin, account, worker)
        assert fixed["state"] == "succeeded", fixed
        assert fixed["detail"]["periodsImported"] == ["2024-09"]
        assert fixed["detail"]["periodsSkipped"] == [{"period": "2024-10", "reason": "unchanged"}]
        by_period = await stored_sums(db, account, "billing_period")
        assert by_period == {date(2024, 9, 1): Decimal("4.5"), date(2024, 10, 1): Decimal("48")}

    @pytest.mark.parametrize(
        "kind",
        ["nul-in-text", "not-utf8-csv", "deep-tags", "struct-for-text", "column-named-twice"],
    )
    async def test_a_hostile_file_fails_at_once_naming_where(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
        kind: str,
    ) -> None:
        folder = exports / kind
        folder.mkdir()
        name, row, column, phrase = BAD_FILES[kind](folder)
        account = await make_account(db, org, credentials={"path": str(folder)})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "failed", run
        assert run["error"].startswith(f"{name}: "), run["error"]
        assert phrase in run["error"]
        if row is not None:
            assert f"data row {row} " in run["error"]
        assert column in run["error"]
        assert "Unexpected error" not in run["error"]
        assert run["startedAt"] is not None  # recorded although the attempt rolled back
        assert run["startedAt"] <= run["finishedAt"]
        jobs = (
            await db.scalars(select(Job).where(Job.name == "sync.account").order_by(Job.created_at))
        ).all()
        assert (jobs[-1].status, jobs[-1].attempts) == (JobStatus.DEAD, 1)  # not retried
        assert await _rows(db, account) == 0

    async def test_a_fifo_among_the_exports_is_skipped_with_a_warning(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        folder = copy_samples(exports / "with-fifo", FOCUS_10)
        os.mkfifo(folder / "stuck.csv")
        account = await make_account(db, org, credentials={"path": str(folder)})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["filesSkipped"] == ["stuck.csv: a FIFO, not a regular file; not read."]
        assert run["detail"]["files"] == 1

    async def test_an_empty_export_folder_succeeds_with_a_warning_the_api_shows(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        folder = exports / "not-yet-delivered"
        folder.mkdir()
        (folder / "README.txt").write_text("not an export")
        account = await make_account(db, org, credentials={"path": str(folder)})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["files"] == 0
        (warning,) = run["detail"]["warnings"]
        assert "No export files" in warning
        assert "nothing was imported" in warning
        status = (await client_for(admin).get("/sync/status")).json()["data"]
        (mine,) = [s for s in status if s["accountId"] == str(account.id)]
        assert mine["state"] == "succeeded"
        assert mine["warnings"] == [warning]
        # Once files arrive the next run carries no warning.
        copy_samples(folder, FOCUS_10)
        again = await _sync(client_for, admin, account, worker)
        assert again["state"] == "succeeded"
        assert again["detail"]["warnings"] == []
        status = (await client_for(admin).get("/sync/status")).json()["data"]
        assert next(s for s in status if s["accountId"] == str(account.id))["warnings"] == []

    async def test_a_path_outside_the_focus_roots_is_refused(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        tmp_path: Path,
    ) -> None:
        outside = copy_samples(tmp_path / "elsewhere", FOCUS_10)
        account = await make_account(db, org, credentials={"path": str(outside)})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert "outside the directories this server may read (XPLORR_FOCUS_ROOTS)" in run["error"]
        assert await _rows(db, account) == 0
        assert (await _account(db, account.id)).status == AccountStatus.ERROR

    @pytest.mark.parametrize("link", ["folder", "file", "dotdot"])
    async def test_symlinks_out_of_the_roots_are_refused(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
        tmp_path: Path,
        link: str,
    ) -> None:
        outside = copy_samples(tmp_path / "secret", FOCUS_10)
        if link == "folder":  # the account's path itself links out
            (exports / "innocent").symlink_to(outside, target_is_directory=True)
            path = exports / "innocent"
        elif link == "file":  # a file inside the folder links out
            path = copy_samples(exports / "mixed", FOCUS_10)
            (path / "more.csv").symlink_to(outside / FOCUS_10)
        else:
            path = exports / ".." / "secret"
        account = await make_account(db, org, credentials={"path": str(path)})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert "XPLORR_FOCUS_ROOTS" in run["error"]
        assert await _rows(db, account) == 0

    async def test_a_missing_path_fails_at_once(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
    ) -> None:
        account = await make_account(db, org, credentials={"path": str(exports / "nope")})
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert run["error"] == f"The export path {str(exports / 'nope')!r} does not exist."

    def test_every_cloud_provider_has_a_connector(self) -> None:
        # AWS, Azure and GCP each sync through their own connector (tests/aws, tests/azure,
        # tests/gcp); none falls back to "not available in this version". Each provider's
        # package registers what it brings (connectors/<name>/plugin.py), found without a list.
        found = connectors.plugins()
        assert set(found) == set(Provider)
        for provider in (Provider.AWS, Provider.AZURE, Provider.GCP):
            assert callable(connectors.connector_for(provider))
            assert found[provider].collect_inventory is not None
            assert found[provider].test_connection is not None
        assert found[Provider.DEMO].collect_inventory is not None  # the bill-derived inventory
        assert found[Provider.FOCUS].collect_inventory is None
        # What a plugin names lazily exists (imported here, as a worker would on first use)
        for plugin in found.values():
            for part in (plugin.sync, plugin.collect_inventory, plugin.test_connection):
                if isinstance(part, connectors.Lazily):
                    assert callable(part.resolve()), part
        with pytest.raises(ValueError, match="already registered"):
            connectors.register_provider(Provider.AWS, label="AWS again")
        with pytest.raises(ValueError, match="no module"):
            connectors.lazily("xplorr.connectors.oracle.connector", "run")
        with pytest.raises(connectors.ConnectorError) as refused:
            connectors.connector_for(cast("Provider", "oracle"))
        assert str(refused.value) == (
            "oracle billing sync is not available in this version; connect a FOCUS export "
            "(provider focus) instead."
        )

    async def test_credentials_that_do_not_decrypt_fail_without_leaking(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        worker: Worker,
        exports: Path,
        db_url: str,
        tmp_path: Path,
    ) -> None:
        other_key = make_settings(db_url, tmp_path, secret_key="another-secret-key-" + "x" * 40)
        folder = copy_samples(exports / "k", FOCUS_10)
        account = await make_account(db, org, credentials={"path": str(folder)}, settings=other_key)
        run = await _sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert "cannot be decrypted" in run["error"]
        assert str(folder) not in run["error"]

    async def test_a_transient_error_is_retried_then_succeeds(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        engine: AsyncEngine,
        exports: Path,
        db_url: str,
        tmp_path: Path,
    ) -> None:
        """A file that vanished under the walk (a flaky share): OSError, retried with backoff."""
        folder = copy_samples(exports / "share", FOCUS_10)
        (folder / "gone.csv").symlink_to(folder / "not-there-yet.csv")
        account = await make_account(db, org, credentials={"path": str(folder)})
        # Backoff 1..2 s: the retry is not yet due when this worker pass looks again.
        settings = make_settings(db_url, tmp_path, job_backoff_base_seconds=2.0)
        worker = Worker(settings, engine)
        first = await _sync(client_for, admin, account, worker)
        assert first["state"] == "queued", first
        assert first["error"].startswith("Attempt 1 failed, retrying: Could not read")
        assert first["startedAt"] is not None  # the first attempt's start, kept while queued
        assert (await _account(db, account.id)).status == AccountStatus.ACTIVE
        (folder / "gone.csv").unlink()
        jobs = (await db.scalars(select(Job))).all()
        assert [(j.status, j.attempts) for j in jobs] == [(JobStatus.QUEUED, 1)]
        await _wait_until_due(db, jobs[0].id)
        await drain(worker)
        done = (await client_for(admin).get("/sync/jobs")).json()["data"][0]
        assert (done["state"], done["error"]) == ("succeeded", None)
        assert done["startedAt"] == first["startedAt"]  # the run started with attempt 1
        assert cents(await stored_sums(db, account)) == {"": Decimal("20.52")}


async def _wait_until_due(db: AsyncSession, job_id: uuid.UUID) -> None:
    await db.rollback()
    job = await db.get_one(Job, job_id, populate_existing=True)
    await asyncio.sleep(max(0.0, (job.run_at - clock.now()).total_seconds()) + 0.05)


class TestSchedule:
    async def test_fan_out_queues_one_sync_per_account_once(
        self,
        org: Org,
        other_org: Org,
        admin: User,
        db: AsyncSession,
        engine: AsyncEngine,
        settings: Settings,
        focus_account: CloudAccount,
        client_for: ClientFor,
    ) -> None:
        # An account whose sync fails at once (an export path the server may not read).
        azure = await make_account(db, org, credentials={"path": "/nonexistent/xplorr-exports"})
        theirs = await make_account(db, other_org, provider=Provider.GCP)
        manual = (await client_for(admin).post(f"/sync/{focus_account.id}")).json()
        SCHEDULES[sync_jobs.SCHEDULE.name] = sync_jobs.SCHEDULE
        now = clock.now()
        for name in ("worker-a", "worker-b"):  # two workers see the same slot
            await Worker(settings, engine, worker_id=name).fire_schedules(now)
        maker = make_sessionmaker(engine)
        async with maker() as s:
            slots = (await s.scalars(select(ScheduleSlot))).all()
            fan_outs = (await s.scalars(select(Job).where(Job.name == "sync.fan_out"))).all()
        assert len(slots) == len(fan_outs) == 1
        slot = queue.slot_of(sync_jobs.SCHEDULE.resolve(settings), now)
        assert slots[0].slot_at == slot
        assert settings.sync_interval_minutes == 360
        assert slot.timestamp() % (360 * 60) == 0

        for _ in range(2):  # the fan-out twice (a re-run): nothing queued twice
            await _run_fan_out(maker, settings)
        async with maker() as s:
            runs = (await s.scalars(select(SyncRun).order_by(SyncRun.created_at))).all()
        by_account = {}
        for run in runs:
            by_account.setdefault(run.cloud_account_id, []).append(run.trigger)
        assert by_account == {
            focus_account.id: [SyncTrigger.MANUAL],  # already queued: left alone
            azure.id: [SyncTrigger.SCHEDULE],
            theirs.id: [SyncTrigger.SCHEDULE],
        }
        assert str(runs[0].id) == manual["id"]
        async with maker() as s:
            keys = (await s.scalars(select(Job.key).where(Job.name == "sync.account"))).all()
            orgs = (await s.scalars(select(Job.org_id).where(Job.name == "sync.account"))).all()
        assert sorted(keys) == sorted(f"sync:{i}" for i in by_account)
        assert sorted(orgs, key=str) == sorted([org.id, org.id, other_org.id], key=str)

        await drain(Worker(settings, engine))
        async with maker() as s:
            states = {r.cloud_account_id: r.state for r in (await s.scalars(select(SyncRun))).all()}
        assert states == {
            focus_account.id: SyncState.SUCCEEDED,
            azure.id: SyncState.FAILED,
            theirs.id: SyncState.FAILED,
        }

    async def test_the_interval_comes_from_the_settings(self, db_url: str, tmp_path: Path) -> None:
        settings = make_settings(db_url, tmp_path, sync_interval_minutes=15)
        assert sync_jobs.SCHEDULE.resolve(settings).every == timedelta(minutes=15)
        assert sync_jobs.SCHEDULE.resolve(Settings()).every == timedelta(minutes=360)


async def _run_fan_out(maker, settings: Settings) -> None:
    """The fan-out job, then each per-org job it queued, as handlers in their own transactions."""
    async with maker() as s:
        fan_out = await s.scalar(select(Job).where(Job.name == "sync.fan_out"))
    async with maker() as s, s.begin():
        handler = JOBS["sync.fan_out"].handler  # a periodic.fan_out_per_org
        await handler(JobContext(s, fan_out.id, 1, None, settings), {})
    async with maker() as s:
        per_org = (
            await s.scalars(
                select(Job).where(Job.name == "sync.fan_out_org", Job.status == JobStatus.QUEUED)
            )
        ).all()
    for job in per_org:
        async with maker() as s, s.begin():
            await sync_jobs.fan_out_org(JobContext(s, job.id, 1, job.org_id, settings), {})
            await s.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.SUCCEEDED))


class TestDataThrough:
    async def test_an_export_written_mid_day_is_complete_through_the_day_before(
        self, db: AsyncSession, org: Org, settings: Settings
    ) -> None:
        account = await make_account(db, org)
        today = clock.now()
        db.add(
            CostImport(
                org_id=org.id,
                cloud_account_id=account.id,
                billing_period=today.date().replace(day=1),
                source="x",
                snapshot_at=today,
                fingerprint="f",
                rows_read=1,
                rows_stored=1,
                first_date=today.date().replace(day=1),
                last_date=today.date(),
                totals={},
                imported_at=today,
            )
        )
        await db.commit()
        through = await costs.data_through(db, org_scope(account.org_id), [account.id])
        assert through == today.date() - timedelta(days=1)
