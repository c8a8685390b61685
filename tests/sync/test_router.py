"""The /sync HTTP contract: POST /sync/{account_id} and /sync/all (admin, 10/hour), GET
/sync/status and /sync/jobs (any role; grants apply)."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.users import make_user
from tests.mail import drain
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.audit import AuditEntry
from xplorr.core.db import make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.sync.models import SyncRun
from xplorr.users.models import User

RUN_FIELDS = {
    "id",
    "accountId",
    "accountName",
    "provider",
    "trigger",
    "state",
    "requestedAt",
    "startedAt",
    "finishedAt",
    "rows",
    "error",
    "dataThrough",
    "detail",
}


async def _runs(db: AsyncSession, account_id: uuid.UUID | None = None) -> list[SyncRun]:
    stmt = select(SyncRun).order_by(SyncRun.created_at)
    if account_id is not None:
        stmt = stmt.where(SyncRun.cloud_account_id == account_id)
    return list((await db.scalars(stmt)).all())


async def _jobs(db: AsyncSession) -> list[Job]:
    return list((await db.scalars(select(Job).where(Job.name == "sync.account"))).all())


class TestSyncAccount:
    async def test_admin_queues_a_run_and_its_job(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org, provider=Provider.FOCUS, name="Exports")
        r = await client_for(admin).post(f"/sync/{account.id}")
        assert r.status_code == 202, r.text
        body = r.json()
        assert set(body) == RUN_FIELDS
        assert body["accountId"] == str(account.id)
        assert body["accountName"] == "Exports"
        assert (body["provider"], body["trigger"], body["state"]) == ("focus", "manual", "queued")
        assert body["startedAt"] is None
        assert body["dataThrough"] is None
        await db.rollback()  # a fresh read
        [run] = await _runs(db)
        assert str(run.id) == body["id"]
        assert run.requested_by == admin.id
        [job] = await _jobs(db)
        assert run.job_id == job.id
        assert (job.key, job.org_id, job.status) == (f"sync:{account.id}", org.id, "queued")
        assert job.payload == {"run_id": str(run.id), "account_id": str(account.id)}
        entry = (
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "sync.requested"))
        ).one()
        assert (entry.actor_user_id, entry.resource_id) == (admin.id, str(account.id))
        assert entry.details["already_queued"] is False

    async def test_asking_again_while_queued_returns_the_same_run(
        self, client_for: ClientFor, owner: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org)
        client = client_for(owner)
        first = (await client.post(f"/sync/{account.id}")).json()
        second = await client.post(f"/sync/{account.id}")
        assert second.status_code == 202
        assert second.json()["id"] == first["id"]
        assert len(await _runs(db)) == 1
        assert len(await _jobs(db)) == 1

    async def test_a_retry_waiting_out_its_backoff_runs_now_when_asked(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org)
        await client_for(admin).post(f"/sync/{account.id}")
        [job] = await _jobs(db)
        job.run_at = job.run_at + timedelta(hours=1)
        await db.commit()
        await client_for(admin).post(f"/sync/{account.id}")
        [job] = await _jobs(db)
        assert job.run_at <= job.updated_at + timedelta(seconds=1)

    async def test_a_new_run_is_queued_behind_a_running_one(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession, engine: AsyncEngine
    ) -> None:
        account = await make_account(db, org)
        first = (await client_for(admin).post(f"/sync/{account.id}")).json()
        async with make_sessionmaker(engine)() as s, s.begin():
            assert await queue.claim(s, "w", timedelta(seconds=60)) is not None
        second = (await client_for(admin).post(f"/sync/{account.id}")).json()
        assert second["id"] != first["id"]
        assert second["state"] == "queued"
        jobs = await _jobs(db)
        assert sorted(j.status for j in jobs) == [JobStatus.QUEUED, JobStatus.RUNNING]
        assert {j.key for j in jobs} == {f"sync:{account.id}"}  # never two at once

    async def test_without_token_is_401(self, anon, org: Org, db: AsyncSession) -> None:
        account = await make_account(db, org)
        assert (await anon.post(f"/sync/{account.id}")).status_code == 401

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_members_and_viewers_get_403(
        self, client_for: ClientFor, org: Org, db: AsyncSession, role: Role
    ) -> None:
        user = await make_user(db, org, role=role)
        account = await make_account(db, org)
        r = await client_for(user).post(f"/sync/{account.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
        assert await _runs(db) == []

    async def test_another_orgs_account_is_404_and_untouched(
        self, client_for: ClientFor, other_admin: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org)
        r = await client_for(other_admin).post(f"/sync/{account.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")
        assert await _runs(db) == []
        assert await _jobs(db) == []
        unknown = await client_for(other_admin).post(f"/sync/{uuid.uuid4()}")
        assert unknown.json()["error"]["code"] == "CLOUD_ACCOUNT_NOT_FOUND"

    async def test_bad_id_is_422(self, client_for: ClientFor, admin: User) -> None:
        r = await client_for(admin).post("/sync/not-a-uuid")
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "account_id"

    async def test_ten_per_hour(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org)
        client = client_for(admin)
        for _ in range(10):
            assert (await client.post(f"/sync/{account.id}")).status_code == 202
        r = await client.post(f"/sync/{account.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (429, "RATE_LIMITED")
        assert int(r.headers["retry-after"]) > 60  # an hour's window


class TestSyncAll:
    async def test_one_run_per_account_of_the_org(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        other_org: Org,
        db: AsyncSession,
    ) -> None:
        mine = [await make_account(db, org, name=n) for n in ("b-second", "a-first")]
        foreign = await make_account(db, other_org)
        client = client_for(admin)
        r = await client.post("/sync/all")
        assert r.status_code == 202, r.text
        data = r.json()["data"]
        assert [d["accountName"] for d in data] == ["a-first", "b-second"]
        assert {d["accountId"] for d in data} == {str(a.id) for a in mine}
        again = (await client.post("/sync/all")).json()["data"]
        assert [d["id"] for d in again] == [d["id"] for d in data]  # still queued: same runs
        assert await _runs(db, foreign.id) == []
        assert len(await _runs(db)) == 2

    async def test_no_accounts_is_an_empty_list(self, client_for: ClientFor, owner: User) -> None:
        r = await client_for(owner).post("/sync/all")
        assert (r.status_code, r.json()) == (202, {"data": []})

    async def test_without_token_is_401(self, anon) -> None:
        assert (await anon.post("/sync/all")).status_code == 401

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_members_and_viewers_get_403(
        self, client_for: ClientFor, org: Org, db: AsyncSession, role: Role
    ) -> None:
        await make_account(db, org)
        r = await client_for(await make_user(db, org, role=role)).post("/sync/all")
        assert r.status_code == 403
        assert await _runs(db) == []

    async def test_ten_per_hour(self, client_for: ClientFor, admin: User) -> None:
        client = client_for(admin)
        for _ in range(10):
            assert (await client.post("/sync/all")).status_code == 202
        r = await client.post("/sync/all")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1


class TestStatus:
    async def test_every_visible_account_with_its_newest_run(
        self,
        client_for: ClientFor,
        admin: User,
        viewer: User,
        org: Org,
        other_org: Org,
        db: AsyncSession,
    ) -> None:
        synced = await make_account(db, org, provider=Provider.AWS, name="AWS prod")
        never = await make_account(db, org, name="Never synced")
        await make_account(db, other_org, name="Not ours")
        await client_for(admin).post(f"/sync/{synced.id}")
        r = await client_for(viewer).get("/sync/status")
        assert r.status_code == 200
        data = r.json()["data"]
        assert [d["accountName"] for d in data] == ["AWS prod", "Never synced"]
        first, second = data
        assert first["accountId"] == str(synced.id)
        assert (first["provider"], first["state"], first["trigger"]) == ("aws", "queued", "manual")
        assert first["accountStatus"] == "active"
        assert first["runId"] is not None
        assert second == {
            "accountId": str(never.id),
            "accountName": "Never synced",
            "provider": "focus",
            "accountStatus": "active",
            "lastSyncedAt": None,
            "runId": None,
            "state": None,
            "trigger": None,
            "requestedAt": None,
            "startedAt": None,
            "finishedAt": None,
            "rows": None,
            "error": None,
            "dataThrough": None,
            "warnings": [],
            "inventoryRefreshedAt": None,
            "inventoryWarnings": [],
        }

    async def test_running_as_soon_as_a_worker_claims_the_job(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession, engine: AsyncEngine
    ) -> None:
        account = await make_account(db, org)
        await client_for(admin).post(f"/sync/{account.id}")
        async with make_sessionmaker(engine)() as s, s.begin():
            claimed = await queue.claim(s, "worker-x", timedelta(seconds=60))
        assert claimed is not None
        [row] = (await client_for(admin).get("/sync/status")).json()["data"]
        assert row["state"] == "running"
        assert row["startedAt"] is not None
        [run] = (await client_for(admin).get("/sync/jobs")).json()["data"]
        assert (run["state"], run["startedAt"]) == ("running", row["startedAt"])

    async def test_member_with_a_grant_sees_only_that_account(
        self, client_for: ClientFor, member: User, org: Org, db: AsyncSession
    ) -> None:
        granted = await make_account(db, org, name="granted")
        await make_account(db, org, name="hidden")
        await grant(db, member, granted)
        data = (await client_for(member).get("/sync/status")).json()["data"]
        assert [d["accountName"] for d in data] == ["granted"]

    async def test_without_token_is_401(self, anon) -> None:
        assert (await anon.get("/sync/status")).status_code == 401


class TestJobs:
    async def test_runs_newest_first_paginated(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        engine: AsyncEngine,
        settings: Settings,
    ) -> None:
        missing = {"path": "/nonexistent/xplorr-exports"}
        accounts = [await make_account(db, org, credentials=missing) for _ in range(3)]
        client = client_for(admin)
        for account in accounts:
            await client.post(f"/sync/{account.id}")
        await drain(Worker(settings, engine))  # a missing export path: each run fails at once
        await client.post(f"/sync/{accounts[0].id}")  # and one more, still queued
        first = (await client.get("/sync/jobs", params={"limit": 2})).json()
        assert (first["total"], first["page"], first["limit"]) == (4, 1, 2)
        assert [d["state"] for d in first["data"]] == ["queued", "failed"]
        assert first["data"][0]["accountId"] == str(accounts[0].id)
        rest = (await client.get("/sync/jobs", params={"limit": 2, "offset": 2})).json()
        assert rest["page"] == 2
        paged = (await client.get("/sync/jobs", params={"limit": 2, "page": 2})).json()
        assert [d["id"] for d in rest["data"]] == [d["id"] for d in paged["data"]]
        every = [d["id"] for d in first["data"] + rest["data"]]
        assert len(set(every)) == 4
        assert [d["accountId"] for d in rest["data"]][::-1] == [str(a.id) for a in accounts[:2]]
        failed = rest["data"][0]
        assert failed["error"].startswith(
            "The export path '/nonexistent/xplorr-exports' is outside"
        )
        assert failed["finishedAt"] is not None

    async def test_grants_apply(
        self, client_for: ClientFor, admin: User, member: User, org: Org, db: AsyncSession
    ) -> None:
        granted = await make_account(db, org)
        hidden = await make_account(db, org)
        await grant(db, member, granted)
        await client_for(admin).post("/sync/all")
        listed = (await client_for(member).get("/sync/jobs")).json()
        assert listed["total"] == 1
        assert listed["data"][0]["accountId"] == str(granted.id)
        assert str(hidden.id) not in str(listed)

    async def test_one_accounts_history(
        self, client_for: ClientFor, admin: User, member: User, org: Org, db: AsyncSession
    ) -> None:
        granted = await make_account(db, org)
        hidden = await make_account(db, org)
        await grant(db, member, granted)
        await client_for(admin).post("/sync/all")
        mine = (await client_for(admin).get("/sync/jobs", params={"accountId": hidden.id})).json()
        assert (mine["total"], [d["accountId"] for d in mine["data"]]) == (1, [str(hidden.id)])
        # An account the caller cannot see has no history for them (not an error).
        theirs = await client_for(member).get("/sync/jobs", params={"accountId": hidden.id})
        assert (theirs.status_code, theirs.json()["total"]) == (200, 0)
        bad = await client_for(admin).get("/sync/jobs", params={"accountId": "nope"})
        assert bad.status_code == 422

    @pytest.mark.parametrize(
        "params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"page": 1, "offset": 0}]
    )
    async def test_bad_paging_is_422(self, client_for: ClientFor, viewer: User, params) -> None:
        r = await client_for(viewer).get("/sync/jobs", params=params)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_without_token_is_401(self, anon) -> None:
        assert (await anon.get("/sync/jobs")).status_code == 401

    async def test_runs_of_a_disconnected_account_go_with_it(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org)
        await client_for(admin).post(f"/sync/{account.id}")
        await db.rollback()
        await db.delete(await db.get_one(CloudAccount, account.id))
        await db.commit()
        assert (await client_for(admin).get("/sync/jobs")).json()["total"] == 0
        assert await db.scalar(select(func.count()).select_from(SyncRun)) == 0
