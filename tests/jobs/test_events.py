"""Events (core.events) and the scopes jobs read with (core.tenancy), on both databases: emit
queues every subscriber in the caller's transaction; the ingest pipeline announces
``CostDataChanged`` whoever imports (a test subscriber reads the changed costs with
``org_scope``); closing an org announces ``OrgClosing`` to the purge; ``principal_for_user``
gives a user's grants as they are now."""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import make_settings
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from tests.factories.users import make_user
from tests.ingest.focus_rows import hourly, row, write_csv
from tests.mail import drain
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import events, tenancy
from xplorr.core.db import make_sessionmaker
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.jobs.registry import JobContext, Lane
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.costs import query as costs
from xplorr.costs.events import CostDataChanged
from xplorr.ingest.command import import_focus
from xplorr.ingest.pipeline import import_files
from xplorr.orgs.events import OrgClosing
from xplorr.orgs.models import Org
from xplorr.users import principals
from xplorr.users.models import User, UserStatus


@pytest.fixture
def job_settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, job_lease_seconds=2, job_poll_seconds=0.05)


async def _jobs(db: AsyncSession, name: str) -> list[Job]:
    await db.rollback()  # a fresh read
    return list((await db.scalars(select(Job).where(Job.name == name))).all())


# -- emit and subscribe ---------------------------------------------------------------------------


class Pinged(events.Event):
    name: ClassVar[str] = "tests.pinged"
    note: str


HEARD: list[tuple[str, uuid.UUID | None, Pinged]] = []


@pytest.fixture
def pinged() -> Iterator[list[tuple[str, uuid.UUID | None, Pinged]]]:
    """Two subscribers of ``Pinged`` for this test only."""
    HEARD.clear()
    for job_name in ("tests.first_listener", "tests.second_listener"):

        @events.subscribe(Pinged, job_name, lane=Lane.INTERACTIVE)
        async def listen(ctx: JobContext, event: Pinged, job_name: str = job_name) -> None:
            HEARD.append((job_name, ctx.org_id, event))

    yield HEARD
    for job_name in ("tests.first_listener", "tests.second_listener"):
        events.unsubscribe(Pinged, job_name)


async def test_emit_queues_each_subscriber_only_if_the_change_commits(
    pinged: list[Any], engine: AsyncEngine, job_settings: Settings, db: AsyncSession, org: Org
) -> None:
    maker = make_sessionmaker(engine)
    async with maker() as s:
        await events.emit(s, Pinged(org_id=org.id, note="rolled back"))
        await s.rollback()
    async with maker() as s:
        queued = await events.emit(s, Pinged(org_id=org.id, note="kept"))
        await s.commit()
    assert [(j.name, j.org_id, j.lane) for j in queued] == [
        ("tests.first_listener", org.id, Lane.INTERACTIVE),
        ("tests.second_listener", org.id, Lane.INTERACTIVE),
    ]
    assert queued[0].payload == {"org_id": str(org.id), "note": "kept"}
    await drain(Worker(job_settings, engine))
    assert sorted((name, org_id, e.note) for name, org_id, e in pinged) == [
        ("tests.first_listener", org.id, "kept"),
        ("tests.second_listener", org.id, "kept"),
    ]
    with pytest.raises(ValueError, match="already subscribes"):
        events.subscribe(Pinged, "tests.first_listener")(pinged_handler)


async def pinged_handler(_ctx: JobContext, _event: Pinged) -> None:
    raise AssertionError("never registered")


async def test_org_closing_reaches_the_purge_on_a_job_without_an_org(
    engine: AsyncEngine, org: Org
) -> None:
    assert "orgs.purge" in events.subscribers(OrgClosing)
    async with make_sessionmaker(engine)() as s:
        (purge,) = await events.emit(s, OrgClosing(org_id=org.id))
        await s.commit()
    assert (purge.name, purge.org_id, purge.payload) == (
        "orgs.purge",
        None,
        {"org_id": str(org.id)},
    )


# -- CostDataChanged from the ingest pipeline --------------------------------------------------

SEEN: list[tuple[uuid.UUID | None, CostDataChanged, dict[str, Decimal]]] = []


@pytest.fixture
def cost_changes() -> Iterator[list[tuple[uuid.UUID | None, CostDataChanged, dict[str, Decimal]]]]:
    """A subscriber of ``CostDataChanged``, as anomalies and budgets will be: it reads the
    changed days' costs as a system job (``org_scope``)."""
    SEEN.clear()

    @events.subscribe(CostDataChanged, "tests.cost_data_changed")
    async def on_change(ctx: JobContext, event: CostDataChanged) -> None:
        assert ctx.org_id is not None
        q = costs.CostQuery(start=event.first_day, end=event.last_day)
        totals = await costs.totals_by_currency(ctx.db, tenancy.org_scope(ctx.org_id), q)
        SEEN.append((ctx.org_id, event, totals))

    yield SEEN
    events.unsubscribe(CostDataChanged, "tests.cost_data_changed")


async def _import(
    engine: AsyncEngine, account_id: uuid.UUID, path: Path, snapshot: datetime, fingerprint: str
) -> None:
    async with make_sessionmaker(engine)() as s:
        loaded = await s.get_one(CloudAccount, account_id)
        await import_files(
            s, loaded, [path], source=str(path), snapshot_at=snapshot, fingerprint=fingerprint
        )
        await s.commit()


async def test_an_import_announces_the_days_it_replaced(
    cost_changes: list[Any],
    engine: AsyncEngine,
    job_settings: Settings,
    db: AsyncSession,
    org: Org,
    tmp_path: Path,
) -> None:
    account = await make_account(db, org, provider=Provider.FOCUS)
    account_id, org_id = account.id, org.id
    first = write_csv(
        tmp_path / "a.csv", [*hourly("2024-09-03"), row(ChargePeriodStart="2024-09-10")]
    )
    await _import(engine, account_id, first, datetime(2024, 9, 11, tzinfo=UTC), "a")
    (job,) = await _jobs(db, "tests.cost_data_changed")
    assert job.org_id == org_id
    assert job.payload == {
        "org_id": str(org_id),
        "cloud_account_id": str(account_id),
        "first_day": "2024-09-03",
        "last_day": "2024-09-10",
    }
    # The same snapshot again changes nothing and announces nothing.
    await _import(engine, account_id, first, datetime(2024, 9, 11, tzinfo=UTC), "a")
    assert len(await _jobs(db, "tests.cost_data_changed")) == 1
    # A newer snapshot of the period holding only 09-05: 09-03 and 09-10 changed too (gone).
    second = write_csv(tmp_path / "b.csv", [row(ChargePeriodStart="2024-09-05", BilledCost="7")])
    await _import(engine, account_id, second, datetime(2024, 9, 12, tzinfo=UTC), "b")
    jobs = await _jobs(db, "tests.cost_data_changed")
    ranges = sorted((j.payload["first_day"], j.payload["last_day"]) for j in jobs)
    assert ranges == [("2024-09-03", "2024-09-10"), ("2024-09-03", "2024-09-10")]
    await drain(Worker(job_settings, engine))
    # The subscribers ran after both imports committed: they read what is there now.
    assert [(org_id, totals) for org_id, _e, totals in cost_changes] == [
        (org_id, {"USD": Decimal("7")}),
        (org_id, {"USD": Decimal("7")}),
    ]


async def test_xplorr_import_focus_announces_through_the_same_pipeline(
    cost_changes: list[Any], db_url: str, db: AsyncSession, org: Org, tmp_path: Path
) -> None:
    account = await make_account(db, org, provider=Provider.FOCUS)
    path = write_csv(tmp_path / "exports" / "x.csv", hourly("2024-09-03"))
    await import_focus(make_settings(db_url, tmp_path), account.id, path)
    (job,) = await _jobs(db, "tests.cost_data_changed")
    assert (job.payload["first_day"], job.payload["last_day"]) == ("2024-09-03", "2024-09-03")
    assert job.status == JobStatus.QUEUED


# -- scopes for work without a request ------------------------------------------------------------


async def test_principal_for_user_uses_the_role_and_grants_of_today(
    db: AsyncSession, org: Org, other_org: Org
) -> None:
    mine, theirs = await make_account(db, org), await make_account(db, org)
    for account, amount in ((mine, "10"), (theirs, "5")):
        await add_costs(db, account, [{"usage_date": "2024-09-01", "billed_cost": amount}])
    user = await make_user(db, org, role=Role.MEMBER)
    q = costs.CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 30))

    async def total_as_user() -> dict[str, Decimal] | None:
        await db.rollback()
        who = await principals.principal_for_user(db, user.id)
        return None if who is None else await costs.totals_by_currency(db, who, q)

    assert await total_as_user() == {"USD": Decimal("15")}  # no grants: every account
    await grant(db, user, mine)
    assert await total_as_user() == {"USD": Decimal("10")}
    await db.execute(update(User).where(User.id == user.id).values(role=Role.ADMIN))
    await db.commit()
    assert await total_as_user() == {"USD": Decimal("15")}  # admins see every account
    who = await principals.principal_for_user(db, user.id, org_id=other_org.id)
    assert who is None  # the job's org is not the user's
    await db.execute(update(User).where(User.id == user.id).values(status=UserStatus.DEACTIVATED))
    await db.commit()
    assert await total_as_user() is None
    assert await principals.principal_for_user(db, uuid.uuid4()) is None
    # A system job sees the whole organization.
    whole = await costs.totals_by_currency(db, tenancy.org_scope(org.id), q)
    assert whole == {"USD": Decimal("15")}
    assert await costs.totals_by_currency(db, tenancy.org_scope(other_org.id), q) == {}
