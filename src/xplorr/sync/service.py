"""Syncs: asking for them, and reading their state.

A sync is a ``SyncRun`` row (kept for good) plus a ``sync.account`` job (``sync.jobs``) with
``key=sync:<account id>``: the runner runs one job per key at a time, so two workers never sync
one account at once. Asking again while a run of the account is still queued returns that run
instead of piling up another.

The run row holds the outcome (written by the job in the transaction that finishes it, or by the
job's failure hook); while the job is in flight the live state comes from the job row: a claimed
job is ``running`` as soon as its claim commits, although the handler's own writes are not
visible before it finishes.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock
from xplorr.core.db import advisory_xact_lock
from xplorr.core.errors import NotFound
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.jobs.registry import Lane
from xplorr.core.pagination import Page, PageParams
from xplorr.core.tenancy import Principal, get_in_org, org_select
from xplorr.costs import query as costs
from xplorr.inventory import service as inventory
from xplorr.sync.models import SyncRun, SyncState, SyncTrigger
from xplorr.sync.schemas import SyncRunOut, SyncStatusOut, detail_out

JOB_NAME = "sync.account"
# Someone waits for a sync they asked for (or for a just-connected account's first data); a
# scheduled one may wait behind them.
LANES = {
    SyncTrigger.MANUAL: Lane.INTERACTIVE,
    SyncTrigger.CONNECT: Lane.INTERACTIVE,
    SyncTrigger.SCHEDULE: Lane.BULK,
}
# One import of an account at a time, whoever runs it: a sync, ``xplorr demo``, ``xplorr import
# focus``. Two concurrent replacements of one period could otherwise both insert.
IMPORT_LOCK = "sync-import"
LOST_JOB = "The sync job ended without recording a result; request a new sync."


def job_key(account_id: uuid.UUID) -> str:
    return f"sync:{account_id}"


async def lock_account(db: AsyncSession, account_id: uuid.UUID, purpose: str) -> None:
    """Serialise one kind of work (``purpose``) on one account until the transaction ends.
    Takes no row lock, so readers and other kinds of work on the account are not held up."""
    await advisory_xact_lock(db, f"{purpose}:{account_id}")


async def enqueue_sync(
    db: AsyncSession,
    account: CloudAccount,
    trigger: SyncTrigger,
    *,
    requested_by: uuid.UUID | None = None,
) -> tuple[SyncRun, bool]:
    """Queue a sync of ``account`` (already resolved in its org), or find the one queued.
    -> (run, created). Joins the caller's transaction; the job exists only if it commits.
    A queued one asked for again runs now, in the lane of the new request if it is sooner."""
    await lock_account(db, account.id, "sync-request")
    waiting = await db.scalar(
        select(SyncRun)
        .join(Job, Job.id == SyncRun.job_id)
        .where(
            SyncRun.org_id == account.org_id,
            SyncRun.cloud_account_id == account.id,
            SyncRun.state == SyncState.QUEUED,
            Job.status == JobStatus.QUEUED,
        )
        .order_by(SyncRun.created_at)
        .limit(1)
    )
    lane = LANES[trigger]
    if waiting is not None:
        # Waiting out a retry's backoff, or behind the scheduled ones: asked for again, it
        # runs now, in the sooner lane.
        now = clock.now()
        stmt = select(Job.run_at, Job.lane).where(Job.id == waiting.job_id)
        queued = (await db.execute(stmt)).first()
        values: dict[str, Any] = {}
        if queued is not None and queued.run_at > now:
            values["run_at"] = now
        if queued is not None and queued.lane > lane:
            values["lane"] = int(lane)
        if values:
            await db.execute(
                update(Job)
                .where(Job.id == waiting.job_id, Job.status == JobStatus.QUEUED)
                .values(**values, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return waiting, False
    run = SyncRun(
        id=uuid.uuid4(),
        org_id=account.org_id,
        cloud_account_id=account.id,
        trigger=trigger,
        state=SyncState.QUEUED,
        requested_by=requested_by,
    )
    db.add(run)
    await db.flush()
    job = await queue.enqueue(
        db,
        JOB_NAME,
        {"run_id": str(run.id), "account_id": str(account.id)},
        org_id=account.org_id,
        key=job_key(account.id),
        lane=lane,
    )
    run.job_id = job.id
    await db.flush()
    return run, True


async def request_sync(
    db: AsyncSession, who: Principal, account: CloudAccount, trigger: SyncTrigger
) -> SyncRun:
    """A sync asked for by a user (manual, or the first sync of a connected account)."""
    run, created = await enqueue_sync(db, account, trigger, requested_by=who.user_id)
    if trigger is SyncTrigger.MANUAL:
        await audit.record(
            db,
            "sync.requested",
            who=who,
            resource_type="cloud_account",
            resource_id=account.id,
            resource_name=account.name,
            details={"run_id": str(run.id), "already_queued": not created},
        )
    return run


async def sync_one(db: AsyncSession, who: Principal, account_id: uuid.UUID) -> SyncRunOut:
    """A manual sync of one account the caller may see (another org's id: 404)."""
    account = await get_in_org(db, CloudAccount, account_id, who)
    if who.account_ids is not None and account.id not in who.account_ids:
        raise NotFound.of("CloudAccount", account_id)
    run = await request_sync(db, who, account, SyncTrigger.MANUAL)
    return (await _runs_out(db, who, [run.id]))[0]


async def sync_all(db: AsyncSession, who: Principal) -> list[SyncRunOut]:
    """A manual sync of every account the caller may see."""
    accounts = (await db.scalars(_visible_accounts(who).order_by(CloudAccount.name))).all()
    ids = [(await request_sync(db, who, a, SyncTrigger.MANUAL)).id for a in accounts]
    return await _runs_out(db, who, ids)


def _visible_accounts(who: Principal) -> Select[CloudAccount]:
    stmt = org_select(CloudAccount, who)
    if who.account_ids is not None:
        stmt = stmt.where(CloudAccount.id.in_(who.account_ids))
    return stmt


def _visible_runs(who: Principal) -> Select[SyncRun]:
    stmt = org_select(SyncRun, who)
    if who.account_ids is not None:
        stmt = stmt.where(SyncRun.cloud_account_id.in_(who.account_ids))
    return stmt


def live_state(
    state: SyncState,
    error: str | None,
    started_at: datetime | None,
    job_status: JobStatus | None,
    job_started_at: datetime | None,
) -> tuple[SyncState, str | None, datetime | None]:
    """A run's state as clients see it: stored once finished; while in flight, the job's."""
    if state in (SyncState.SUCCEEDED, SyncState.FAILED):
        return state, error, started_at
    if job_status == JobStatus.RUNNING:
        return SyncState.RUNNING, error, job_started_at
    if job_status == JobStatus.QUEUED:
        return SyncState.QUEUED, error, started_at
    # The job finished, died or was purged without the run recording it (its failure hook
    # could not run): say so rather than show a run queued forever.
    return SyncState.FAILED, error or LOST_JOB, started_at


_RUN_COLUMNS = (
    CloudAccount.name,
    CloudAccount.provider,
    Job.status,
    Job.started_at,
)


def _run_out(run: SyncRun, name: str, provider: Any, status: Any, job_started: Any) -> SyncRunOut:
    state, error, started = live_state(run.state, run.error, run.started_at, status, job_started)
    return SyncRunOut(
        id=run.id,
        account_id=run.cloud_account_id,
        account_name=name,
        provider=provider,
        trigger=run.trigger,
        state=state,
        requested_at=run.created_at,
        started_at=started,
        finished_at=run.finished_at,
        rows=run.rows,
        error=error,
        data_through=run.data_through,
        detail=detail_out(run.detail),
    )


def _runs_select(who: Principal) -> Select[Any]:
    return (
        _visible_runs(who)
        .add_columns(*_RUN_COLUMNS)
        .join(CloudAccount, CloudAccount.id == SyncRun.cloud_account_id)
        .outerjoin(Job, Job.id == SyncRun.job_id)
    )


async def _runs_out(db: AsyncSession, who: Principal, ids: Sequence[uuid.UUID]) -> list[SyncRunOut]:
    if not ids:
        return []
    rows = (await db.execute(_runs_select(who).where(SyncRun.id.in_(list(ids))))).all()
    by_id = {row[0].id: _run_out(*row) for row in rows}
    return [by_id[i] for i in ids]


async def list_runs(
    db: AsyncSession,
    who: Principal,
    params: PageParams,
    *,
    account_id: uuid.UUID | None = None,
) -> Page[SyncRunOut]:
    """Sync runs of the visible accounts (or of one of them), newest first."""
    visible = _visible_runs(who)
    selected = _runs_select(who)
    if account_id is not None:
        visible = visible.where(SyncRun.cloud_account_id == account_id)
        selected = selected.where(SyncRun.cloud_account_id == account_id)
    count = select(func.count()).select_from(visible.with_only_columns(literal(1)).subquery())
    total = int(await db.scalar(count) or 0)
    stmt = (
        selected.order_by(SyncRun.created_at.desc(), SyncRun.id.desc())
        .limit(params.limit)
        .offset(params.offset)
    )
    rows = (await db.execute(stmt)).all()
    return Page(
        data=[_run_out(*row) for row in rows], total=total, page=params.page, limit=params.limit
    )


def _newest_runs(who: Principal, state: SyncState | None) -> Any:
    """(run id, account id) of each account's newest run (optionally: newest in ``state``)."""
    rank = func.row_number().over(
        partition_by=SyncRun.cloud_account_id,
        order_by=(SyncRun.created_at.desc(), SyncRun.id.desc()),
    )
    stmt = _visible_runs(who).with_only_columns(
        SyncRun.id.label("run_id"), SyncRun.cloud_account_id.label("account_id"), rank.label("rn")
    )
    if state is not None:
        stmt = stmt.where(SyncRun.state == state)
    return stmt.subquery()


async def status(db: AsyncSession, who: Principal) -> list[SyncStatusOut]:
    """Every visible account with its newest run, by account name; ``data_through`` from the
    cost query module (the data stored, whoever imported it)."""
    newest = _newest_runs(who, None)
    run = aliased(SyncRun)
    stmt = (
        _visible_accounts(who)
        .add_columns(run, Job.status, Job.started_at)
        .outerjoin(newest, and_(newest.c.account_id == CloudAccount.id, newest.c.rn == 1))
        .outerjoin(run, run.id == newest.c.run_id)
        .outerjoin(Job, Job.id == run.job_id)
        .order_by(CloudAccount.name, CloudAccount.id)
    )
    rows = (await db.execute(stmt)).all()
    through = await costs.data_through_by_account(db, who, [row[0].id for row in rows])
    refreshes = await inventory.refreshes(db, who)
    out = []
    for account, last, job_status, job_started in rows:
        refresh = refreshes.get(account.id)
        state = error = started = None
        if last is not None:
            state, error, started = live_state(
                last.state, last.error, last.started_at, job_status, job_started
            )
        out.append(
            SyncStatusOut(
                account_id=account.id,
                account_name=account.name,
                provider=account.provider,
                account_status=account.status,
                last_synced_at=account.last_synced_at,
                run_id=last.id if last else None,
                state=state,
                trigger=last.trigger if last else None,
                requested_at=last.created_at if last else None,
                started_at=started,
                finished_at=last.finished_at if last else None,
                rows=last.rows if last else None,
                error=error,
                data_through=through.get(account.id),
                warnings=list((last.detail or {}).get("warnings", [])) if last else [],
                inventory_refreshed_at=refresh.refreshed_at if refresh else None,
                inventory_warnings=list(refresh.warnings) if refresh else [],
            )
        )
    return out
