"""Periodic work that grows with the tenants: one job per organization, and rows that each
keep a schedule of their own.

- ``fan_out_per_org(name, job=...)`` registers the job ``name``, which enqueues ``job`` once per
  organization (all of them, or those an ``orgs`` query returns), each job carrying its org and
  deduplicated per org: a fan-out that runs while yesterday's per-org job still waits adds none.
  A schedule then fires ``name`` (``registry.schedule``).
- ``CronScheduled`` is the mixin of a row that runs on its own cron expression in its own time
  zone (a scheduled report, a digest): ``next_run_at`` holds its next fire time (NULL: paused).
  ``due_scanner(name, model=..., job=...)`` registers one scanner job plus its schedule (every
  minute by default); each scan enqueues ``job`` for every due row and moves the row's
  ``next_run_at`` to its next fire time after now, in the same transaction, with a conditional
  update: two scans at once (two workers) enqueue each due run once. Runs missed while no
  worker ran collapse into one.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from croniter import CroniterBadDateError
from sqlalchemy import Select, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import clock
from xplorr.core.db import is_postgres, rowcount
from xplorr.core.jobs import cron as crontab
from xplorr.core.jobs import queue, registry
from xplorr.core.jobs.registry import JobContext, Lane, check_name
from xplorr.core.models import Base, OrgOwned

log = structlog.get_logger("xplorr.jobs")

OrgQuery = Callable[[], Select[uuid.UUID]]


# -- one job per organization ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FanOut:
    name: str
    job: str
    orgs: OrgQuery | None = None  # None: every organization
    payload: dict[str, Any] = field(default_factory=dict)
    lane: Lane = Lane.BULK


FAN_OUTS: dict[str, FanOut] = {}


def _every_org() -> Select[uuid.UUID]:
    # By table name: core does not import the orgs area (every tenant row points here).
    orgs = Base.metadata.tables["orgs"]
    return select(orgs.c.id)


async def enqueue_per_org(db: AsyncSession, fan: FanOut) -> int:
    """Enqueue ``fan.job`` once per organization, keyed ``<job>:<org id>`` and deduplicated.
    -> the number of organizations."""
    org_ids = sorted(set((await db.scalars((fan.orgs or _every_org)())).all()))
    for org_id in org_ids:
        await queue.enqueue(
            db,
            fan.job,
            fan.payload,
            org_id=org_id,
            key=f"{fan.job}:{org_id}",
            dedupe=True,
            lane=fan.lane,
        )
    return len(org_ids)


def fan_out_per_org(
    name: str,
    *,
    job: str,
    orgs: OrgQuery | None = None,
    payload: dict[str, Any] | None = None,
    lane: Lane = Lane.BULK,
) -> FanOut:
    """Register the job ``name``: one ``job`` per organization (``orgs``: a function returning
    a select of org ids, e.g. the orgs that have cloud accounts; default every org). Each
    per-org job runs with ``ctx.org_id`` set and in ``lane``."""
    check_name(name)
    check_name(job)
    fan = FanOut(name, job, orgs, dict(payload or {}), lane)
    if name in FAN_OUTS and FAN_OUTS[name] != fan:
        raise ValueError(f"fan-out {name!r} is already registered")
    FAN_OUTS[name] = fan

    async def run(ctx: JobContext, _payload: dict[str, Any]) -> None:
        count = await enqueue_per_org(ctx.db, fan)
        log.info("fan_out_per_org", fan_out=name, job=fan.job, orgs=count)

    registry.job(name, lane=Lane.BULK)(run)
    return fan


# -- rows with schedules of their own ----------------------------------------------------------


class CronScheduled(OrgOwned):
    """An organization's row that runs on its own schedule: ``cron`` read on the wall clock of
    ``timezone`` (``core.jobs.cron``); ``next_run_at`` is the next fire time, NULL while the
    row is paused. Set it with ``reschedule()`` whenever the expression, the zone or the
    paused state changes (validate user input with ``cron.check`` first)."""

    cron: Mapped[str] = mapped_column(String(crontab.MAX_EXPRESSION_LENGTH))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)

    def reschedule(self, after: datetime | None = None) -> None:
        """``next_run_at``: the first fire time after ``after`` (default now)."""
        self.next_run_at = crontab.next_fire(self.cron, self.timezone, after or clock.now())


@dataclass(frozen=True, slots=True)
class DueScanner:
    name: str
    model: type[CronScheduled]
    job: str
    batch: int = 500
    lane: Lane = Lane.DEFAULT


SCANNERS: dict[str, DueScanner] = {}


async def scan_due(db: AsyncSession, scanner: DueScanner, now: datetime | None = None) -> int:
    """Enqueue ``scanner.job`` for each row due at ``now`` (at most ``batch``), with payload
    ``{"id": <row id>, "due_at": <its fire time, ISO 8601>}``, the row's org and a dedupe key
    per row, and move each row to its next fire time; in the caller's transaction.
    -> the number of runs enqueued.

    Claiming a row is the conditional ``UPDATE ... WHERE next_run_at = <as read>``: a scan that
    lost the row to a concurrent one (which moved it) updates nothing and enqueues nothing. On
    PostgreSQL rows another scan holds are skipped, not waited for."""
    now = now or clock.now()
    model = scanner.model
    stmt = (
        select(model.id, model.org_id, model.cron, model.timezone, model.next_run_at)
        .where(model.next_run_at <= now)
        .order_by(model.next_run_at, model.id)
        .limit(scanner.batch)
    )
    if is_postgres(db):
        stmt = stmt.with_for_update(skip_locked=True)
    rows = (await db.execute(stmt)).all()
    enqueued = 0
    for row_id, org_id, expression, zone, due_at in rows:
        assert due_at is not None  # selected by next_run_at <= now
        try:
            following = crontab.next_fire(expression, zone, now)
        except (ValueError, CroniterBadDateError) as exc:
            # Stored before validation existed, or a zone the system no longer knows: pause
            # the row (not run it on a schedule nobody can read) rather than fail every scan.
            log.warning(
                "scheduled_row_paused", model=model.__name__, id=str(row_id), error=str(exc)
            )
            await db.execute(
                update(model)
                .where(model.id == row_id, model.next_run_at == due_at)
                .values(next_run_at=None)
                .execution_options(synchronize_session=False)
            )
            continue
        claimed = await db.execute(
            update(model)
            .where(model.id == row_id, model.next_run_at == due_at)
            .values(next_run_at=following)
            .execution_options(synchronize_session=False)
        )
        if rowcount(claimed) != 1:
            continue
        await queue.enqueue(
            db,
            scanner.job,
            {"id": str(row_id), "due_at": due_at.isoformat()},
            org_id=org_id,
            key=f"{scanner.job}:{row_id}",
            dedupe=True,
            lane=scanner.lane,
        )
        enqueued += 1
    if len(rows) == scanner.batch:
        # More may be due: scan again as soon as this scan is done (same key: not at once).
        await queue.enqueue(db, scanner.name, {}, key=scanner.name, dedupe=True)
    return enqueued


def due_scanner(
    name: str,
    *,
    model: type[CronScheduled],
    job: str,
    every: timedelta = timedelta(minutes=1),
    batch: int = 500,
    lane: Lane = Lane.DEFAULT,
) -> DueScanner:
    """Register the scanner job ``name`` and its schedule ``<name>.every`` (``every``: how
    late a run may start at worst)."""
    check_name(name)
    check_name(job)
    if batch < 1:
        raise ValueError("batch must be at least 1")
    scanner = DueScanner(name, model, job, batch, lane)
    if name in SCANNERS and SCANNERS[name] != scanner:
        raise ValueError(f"due scanner {name!r} is already registered")
    SCANNERS[name] = scanner

    async def run(ctx: JobContext, _payload: dict[str, Any]) -> None:
        count = await scan_due(ctx.db, scanner)
        if count:
            log.info("scheduled_rows_due", scanner=name, enqueued=count)

    registry.job(name, lane=Lane.DEFAULT)(run)
    registry.schedule(f"{name}.every", every=every, job=name, key=name)
    return scanner
