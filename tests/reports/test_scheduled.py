"""``/scheduled-reports``: CRUD as the reference, the schedule in a time zone, and the sends:
one email per slot per recipient across a month (clock-driven scans, a real SMTP server), the
attachment's content, the owner's current grants, a deactivated owner's schedules stopping,
failures recorded ("Will retry: ..." while attempts remain) and audited sends."""

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset
from tests.factories.cloud_accounts import grant
from tests.factories.reports import make_scheduled
from tests.mail import Mailbox, run_jobs
from xplorr.cloud_accounts.models import AccountGrant
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import cron, periodic, queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.reports import jobs as report_jobs
from xplorr.reports import scheduling
from xplorr.reports.models import ScheduledReport
from xplorr.users.models import User, UserStatus

BODY = {
    "name": "Monthly CFO Report",
    "frequency": "monthly",
    "day_of_month": 1,
    "recipients": ["cfo@example.com", "finance@example.com"],
    "cloud_account_id": None,
    "format": "pdf",
    "is_active": True,
}


def attachment(msg: EmailMessage) -> tuple[str, bytes]:
    (part,) = list(msg.iter_attachments())
    data = part.get_content()
    assert isinstance(data, bytes)
    return str(part.get_filename()), data


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def excel_total(data: bytes) -> Decimal:
    """The first currency's total on the Summary sheet, as the digits Excel shows."""
    return Decimal(str(openpyxl.load_workbook(io.BytesIO(data))["Summary"].cell(7, 2).value))


async def _row(db: AsyncSession, ident: uuid.UUID) -> ScheduledReport:
    row = await db.get(ScheduledReport, ident, populate_existing=True)
    assert row is not None
    return row


class TestCrud:
    async def test_reference_body_creates_lists_updates_and_deletes(
        self, client_for: ClientFor, admin: User, viewer: User, db: AsyncSession
    ) -> None:
        c = client_for(admin)
        r = await c.post("/scheduled-reports", json=BODY)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["recipients"] == ["cfo@example.com", "finance@example.com"]
        assert (out["frequency"], out["day_of_month"], out["hour"], out["timezone"]) == (
            "monthly",
            1,
            8,
            "UTC",
        )
        assert out["created_by"] == str(admin.id)
        assert (out["last_sent_at"], out["last_error"]) == (None, None)
        next_run = datetime.fromisoformat(out["next_run_at"])
        assert (next_run.day, next_run.hour, next_run.minute) == (1, 8, 0)
        listed = (await client_for(viewer).get("/scheduled-reports")).json()
        assert listed["total"] == 1
        assert listed["data"][0]["id"] == out["id"]

        r = await c.patch(
            f"/scheduled-reports/{out['id']}",
            json={"frequency": "weekly", "day_of_week": 2, "hour": 9, "timezone": "Europe/Paris"},
        )
        assert r.status_code == 200, r.text
        changed = r.json()
        assert (changed["day_of_week"], changed["day_of_month"]) == (2, None)
        local = datetime.fromisoformat(changed["next_run_at"]).astimezone(cron.zone("Europe/Paris"))
        assert (local.weekday(), local.hour, local.minute) == (2, 9, 0)  # Wednesday 09:00 Paris

        r = await c.patch(f"/scheduled-reports/{out['id']}", json={"is_active": False})
        assert r.json()["next_run_at"] is None
        assert (await c.delete(f"/scheduled-reports/{out['id']}")).status_code == 204
        assert (await c.get(f"/scheduled-reports/{out['id']}")).status_code == 404
        actions = (
            await db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.resource_id == out["id"])
                .order_by(AuditEntry.created_at)
            )
        ).all()
        assert actions == [
            "scheduled_report.created",
            "scheduled_report.updated",
            "scheduled_report.updated",
            "scheduled_report.deleted",
        ]

    @pytest.mark.parametrize(
        "change",
        [
            {"frequency": "hourly"},
            {"day_of_month": 31},
            {"day_of_week": 7},
            {"timezone": "Mars/Olympus"},
            {"recipients": []},
            {"recipients": ["not-an-email"]},
            {"format": "doc"},
            {"hour": 24},
            {"org_id": str(uuid.uuid4())},
        ],
    )
    async def test_bad_bodies_are_422(
        self, client_for: ClientFor, admin: User, change: dict[str, object]
    ) -> None:
        r = await client_for(admin).post("/scheduled-reports", json={**BODY, **change})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_a_foreign_cloud_account_is_not_found(
        self, client_for: ClientFor, admin: User, data: Dataset
    ) -> None:
        r = await client_for(admin).post(
            "/scheduled-reports", json={**BODY, "cloud_account_id": str(data.foreign.id)}
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "CLOUD_ACCOUNT_NOT_FOUND"

    async def test_a_member_sees_only_schedules_of_granted_accounts(
        self,
        client_for: ClientFor,
        db: AsyncSession,
        org: Org,
        admin: User,
        member: User,
        data: Dataset,
    ) -> None:
        await make_scheduled(db, org, admin, name="Everything")
        mine = await make_scheduled(db, org, admin, name="GCP", cloud_account_id=data.gcp.id)
        await make_scheduled(db, org, admin, name="AWS", cloud_account_id=data.aws.id)
        await grant(db, member, data.gcp)
        listed = (await client_for(member).get("/scheduled-reports")).json()
        assert [r["id"] for r in listed["data"]] == [str(mine.id)]


class TestSends:
    @pytest.mark.slow
    async def test_a_month_of_scans_sends_one_email_per_slot_and_recipient(
        self,
        db: AsyncSession,
        org: Org,
        admin: User,
        data: Dataset,
        mailbox: Mailbox,
        settings: Settings,
    ) -> None:
        start = datetime(2024, 9, 1, tzinfo=UTC)
        admin_id, admin_email = admin.id, admin.email
        daily = await make_scheduled(
            db,
            org,
            admin,
            name="Daily",
            frequency="daily",
            day_of_month=None,
            format="excel",
            recipients=["ops@example.com"],
            next_run_at=None,
        )
        weekly = await make_scheduled(
            db,
            org,
            admin,
            name="Weekly",
            frequency="weekly",
            day_of_month=None,
            day_of_week=0,
            hour=9,
            timezone="Europe/Paris",
            recipients=["lead@example.com"],
            format="excel",
            next_run_at=None,
        )
        monthly = await make_scheduled(
            db,
            org,
            admin,
            name="Monthly CFO",
            recipients=["cfo@example.com", admin_email],
            next_run_at=None,
        )
        for row in (daily, weekly, monthly):
            first = cron.next_fire(row.cron, row.timezone, start - timedelta(seconds=1))
            await db.execute(
                update(ScheduledReport)
                .where(ScheduledReport.id == row.id)
                .values(next_run_at=first)
            )
        await db.commit()

        engine = make_engine(settings.db_url)
        sessions = make_sessionmaker(engine)
        scanner = periodic.SCANNERS[report_jobs.SCAN_JOB]
        try:
            at = start
            while at < datetime(2024, 10, 1, tzinfo=UTC):
                async with sessions() as s:
                    queued = await periodic.scan_due(s, scanner, at)
                    again = await periodic.scan_due(s, scanner, at)  # a second scan: nothing
                    await s.commit()
                assert again == 0
                if queued:
                    await run_jobs(settings)
                at += timedelta(hours=1)
        finally:
            await engine.dispose()

        # Daily at 08:00 UTC on Sept 1..30; Mondays 09:00 Paris (2, 9, 16, 23, 30); Sept 1.
        assert len(mailbox.to("ops@example.com")) == 30
        assert len(mailbox.to("lead@example.com")) == 5
        assert len(mailbox.to("cfo@example.com")) == 1
        assert len(mailbox.to(admin_email)) == 1
        assert len(mailbox.messages) == 30 + 5 + 2

        name, pdf = attachment(mailbox.last_to("cfo@example.com"))
        assert name == "monthly-cfo-2024-08-01-2024-08-31.pdf"
        assert "$100.00" in pdf_text(pdf)  # August: the 100 USD of 2024-08-31
        assert mailbox.last_to("cfo@example.com")["Subject"] == (
            "Monthly CFO: 2024-08-01 to 2024-08-31"
        )
        first_daily = mailbox.to("ops@example.com")
        names = [attachment(m)[0] for m in first_daily]
        assert names[0] == "daily-2024-08-31-2024-08-31.xlsx"
        assert names[-1] == "daily-2024-09-29-2024-09-29.xlsx"
        assert excel_total(attachment(first_daily[1])[1]) == Decimal("10.01")  # Sept 1
        # The Monday 2024-09-16 report covers the 9th to the 15th: 20.125 on the 15th.
        weekly_names = [attachment(m)[0] for m in mailbox.to("lead@example.com")]
        assert "weekly-2024-09-09-2024-09-15.xlsx" in weekly_names

        row = await _row(db, monthly.id)
        assert row.last_slot_at == datetime(2024, 9, 1, 8, tzinfo=UTC)
        assert row.last_sent_at is not None
        assert row.last_error is None
        assert row.next_run_at == datetime(2024, 10, 1, 8, tzinfo=UTC)
        sent = (
            await db.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "scheduled_report.sent",
                    AuditEntry.resource_id == str(monthly.id),
                )
            )
        ).all()
        assert len(sent) == 1
        assert sent[0].actor_user_id == admin_id
        assert sent[0].details["recipients"] == ["cfo@example.com", admin_email.lower()]
        assert sent[0].details["external_recipients"] == ["cfo@example.com"]

    async def test_a_slot_is_sent_once_even_when_its_job_runs_twice(
        self,
        db: AsyncSession,
        org: Org,
        admin: User,
        data: Dataset,
        mailbox: Mailbox,
        settings: Settings,
    ) -> None:
        row = await make_scheduled(db, org, admin, format="excel")
        due = datetime(2024, 10, 1, 8, tzinfo=UTC)
        for _ in range(2):
            await self._send(settings, org, row, due)
        assert len(mailbox.to("cfo@example.com")) == 1

    async def test_the_owner_current_grants_scope_each_send(
        self,
        db: AsyncSession,
        org: Org,
        admin: User,
        data: Dataset,
        mailbox: Mailbox,
        settings: Settings,
    ) -> None:
        row = await make_scheduled(db, org, admin, format="excel")
        due = datetime(2024, 10, 1, 8, tzinfo=UTC)  # September
        await self._send(settings, org, row, due)
        assert excel_total(attachment(mailbox.messages[-1])[1]) == Decimal("36.38")

        # The owner is now a member limited to both accounts, then loses the AWS one.
        user = await db.get(User, admin.id)
        assert user is not None
        user.role = Role.MEMBER
        await db.commit()
        await grant(db, admin, data.aws)
        await grant(db, admin, data.gcp)
        await self._forget_sent(db, row)
        await self._send(settings, org, row, due)
        assert excel_total(attachment(mailbox.messages[-1])[1]) == Decimal("36.38")
        await db.execute(
            delete(AccountGrant).where(
                AccountGrant.user_id == admin.id, AccountGrant.cloud_account_id == data.aws.id
            )
        )
        await db.commit()
        await self._forget_sent(db, row)
        await self._send(settings, org, row, due)
        assert excel_total(attachment(mailbox.messages[-1])[1]) == Decimal("23.13")
        assert len(mailbox.messages) == 3

    async def _forget_sent(self, db: AsyncSession, row: ScheduledReport) -> None:
        """Send the same slot (September) again: only the owner's access changed."""
        await db.execute(
            update(ScheduledReport).where(ScheduledReport.id == row.id).values(last_slot_at=None)
        )
        await db.commit()

    async def _send(
        self, settings: Settings, org: Org, row: ScheduledReport, due: datetime
    ) -> None:
        engine = make_engine(settings.db_url)
        try:
            async with make_sessionmaker(engine)() as s:
                await queue.enqueue(
                    s,
                    report_jobs.SEND_JOB,
                    {"id": str(row.id), "due_at": due.isoformat()},
                    org_id=org.id,
                )
                await s.commit()
        finally:
            await engine.dispose()
        await run_jobs(settings)

    async def test_a_deactivated_owner_stops_the_schedule_until_an_admin_takes_it_over(
        self,
        client_for: ClientFor,
        db: AsyncSession,
        org: Org,
        admin: User,
        owner: User,
        data: Dataset,
        mailbox: Mailbox,
        settings: Settings,
    ) -> None:
        row = await make_scheduled(db, org, admin, format="excel")
        taker, taker_id = client_for(owner), owner.id
        user = await db.get(User, admin.id)
        assert user is not None
        user.status = UserStatus.DEACTIVATED
        await db.commit()
        await self._send(settings, org, row, datetime(2024, 10, 1, 8, tzinfo=UTC))
        assert mailbox.messages == []
        stopped = await _row(db, row.id)
        assert (stopped.is_active, stopped.next_run_at) == (False, None)
        assert stopped.last_error == scheduling.OWNER_GONE
        paused = await db.scalar(
            select(AuditEntry).where(AuditEntry.action == "scheduled_report.paused")
        )
        assert paused is not None
        assert paused.resource_id == str(row.id)

        r = await taker.patch(f"/scheduled-reports/{row.id}", json={"is_active": True})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["created_by"] == str(taker_id)
        assert body["is_active"] is True
        assert body["next_run_at"] is not None
        assert body["last_error"] is None
        await self._send(settings, org, row, datetime(2024, 10, 1, 8, tzinfo=UTC))
        assert len(mailbox.to("cfo@example.com")) == 1

    async def test_a_send_that_cannot_succeed_records_its_error(
        self,
        db: AsyncSession,
        org: Org,
        admin: User,
        data: Dataset,
        mailbox: Mailbox,
        settings: Settings,
    ) -> None:
        row = await make_scheduled(db, org, admin, cloud_account_id=data.aws.id)
        user = await db.get(User, admin.id)
        assert user is not None
        user.role = Role.MEMBER
        await db.commit()
        await grant(db, admin, data.gcp)  # the owner no longer sees the report's account
        await self._send(settings, org, row, datetime(2024, 10, 1, 8, tzinfo=UTC))
        assert mailbox.messages == []
        failed = await _row(db, row.id)
        assert failed.last_error is not None
        assert "not visible" in failed.last_error
        assert failed.last_sent_at is None

    async def test_an_attempt_cut_short_says_will_retry_and_the_retry_sends(
        self,
        db: AsyncSession,
        org: Org,
        admin: User,
        data: Dataset,
        mailbox: Mailbox,
        settings: Settings,
    ) -> None:
        """A worker claims the send and dies (its lease runs out): the next worker's reaper
        records "Will retry: ..." on the schedule (``reports.jobs._on_failure``, not final),
        then the retry sends it and clears the error."""
        row = await make_scheduled(db, org, admin, format="excel")
        due = datetime(2024, 10, 1, 8, tzinfo=UTC)
        engine = make_engine(settings.db_url)
        maker = make_sessionmaker(engine)
        expire = (
            update(Job)
            .where(Job.name == report_jobs.SEND_JOB, Job.status == JobStatus.RUNNING)
            .values(lease_until=clock.now() - timedelta(days=1))
        )
        try:
            async with maker() as s, s.begin():
                await queue.enqueue(
                    s, report_jobs.SEND_JOB, {"id": str(row.id), "due_at": due.isoformat()},
                    org_id=org.id,
                )  # fmt: skip
            async with maker() as s, s.begin():  # a worker claims it, then dies
                assert await queue.claim(s, "dead-worker", timedelta(seconds=30)) is not None
                await s.execute(expire)
            # The next worker's tick reaps it (the failure hook runs, in the reaping
            # transaction); what the tick then starts is stopped at once (given back, or left to
            # its lease), so the schedule can be read between the two attempts.
            worker = Worker(settings, engine, concurrency=1)
            await worker.tick()
            for task in worker.running.values():
                task.cancel()
            await asyncio.gather(*worker.running.values(), return_exceptions=True)
            retrying = await _row(db, row.id)
            assert retrying.last_error is not None
            assert retrying.last_error.startswith("Will retry: ")
            assert "stopped (crashed or killed)" in retrying.last_error
            assert retrying.last_sent_at is None
            assert mailbox.messages == []
            await db.commit()
            async with maker() as s, s.begin():
                await s.execute(expire)
        finally:
            await engine.dispose()
        await run_jobs(settings)
        await db.commit()  # end this session's read: see what the workers wrote since
        sent = await _row(db, row.id)
        assert (sent.last_error, sent.last_slot_at) == (None, due)
        assert sent.last_sent_at is not None
        (msg,) = mailbox.to("cfo@example.com")
        assert attachment(msg)[0].endswith(".xlsx")
