"""Sync jobs: ``sync.account`` runs one account's connector; ``sync.fan_out`` (every
``XPLORR_SYNC_INTERVAL_MINUTES``, a ``periodic.fan_out_per_org``) queues a ``sync.fan_out_org``
per organization with cloud accounts (one waiting per org at most), which queues one scheduled
sync per account of that organization (skipping accounts with one queued). Scheduled syncs run
in the bulk lane; a sync someone asked for in the interactive lane (``sync.service.LANES``).

``sync.account`` reads the run, the account and its credentials, then ends the attempt's
transaction (``JobContext.release_connection``) before the connector reads anything: the
connector fetches and stages the data with no transaction open (on SQLite no write lock is held
during a download, and the API keeps answering), then each billing period is replaced in a short
transaction of its own (``_period_target``), which also renews the job's lease (fenced: an
attempt whose job was taken over writes nothing) and records the period on the run's
``detail``. The run's outcome and the account's ``last_synced_at`` commit with the job's
success.

So a sync failing midway keeps the periods it already committed (each whole: a period is never
half-written), and the run says which (``detail.periods_imported``, and its ``error``). A
retry, or the re-run of a killed worker's sync, skips them as unchanged and replaces the rest,
each once. Errors a retry cannot fix (``ConnectorError``: bad credentials, a refused path, a
provider without a connector, bad data) raise ``PermanentJobError`` and the sync fails at once;
others (an ``OSError`` on a file share, a database hiccup, an interrupted worker) are retried
with backoff. ``record_failure``, the job's failure hook, writes the outcome on the run in the
transaction that records the failure: the reason after each attempt, ``failed`` and the
account's ``status=error`` once the job is dead. Runs outlive their jobs (jobs rows are purged
after 14 days).

A success emits ``SyncSucceeded`` (``sync.events``), also when every period was unchanged: the
inventory refresh follows every sync, not only those that changed cost data.

Outcomes notify through the hub in the transaction that records them: ``sync_complete`` with the
job's success (off by default in the preferences) and ``sync_failed`` once the job is dead (on
by default; also to the org's Slack/Teams webhooks), once per run.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import AccountStatus, CloudAccount
from xplorr.connectors import ConnectorError, SyncContext, connector_for
from xplorr.core import clock
from xplorr.core.crypto import CryptoError
from xplorr.core.db import make_sessionmaker
from xplorr.core.events import emit
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import (
    JobContext,
    Lane,
    LeaseExpiredError,
    PermanentJobError,
    job,
    schedule,
)
from xplorr.core.settings import Settings
from xplorr.core.tenancy import org_scope
from xplorr.costs import query as costs
from xplorr.notifications import notify
from xplorr.notifications.events import SyncComplete, SyncFailed
from xplorr.sync.events import SyncSucceeded
from xplorr.sync.models import SyncRun, SyncState, SyncTrigger
from xplorr.sync.service import IMPORT_LOCK, enqueue_sync, lock_account

if TYPE_CHECKING:  # pyarrow is imported with the first connector, not with this module
    from xplorr.ingest.pipeline import ImportSummary, Target

log = structlog.get_logger("xplorr.sync")

MAX_ATTEMPTS = 5


class SyncPayload(BaseModel):
    run_id: uuid.UUID
    account_id: uuid.UUID


async def _credentials(db: AsyncSession, settings: Settings, account: CloudAccount) -> Any:
    try:
        return await decrypt_credentials(db, settings, account)
    except CryptoError as exc:
        raise ConnectorError(
            "The account's stored credentials cannot be decrypted (was XPLORR_SECRET_KEY "
            "changed without listing the old key in XPLORR_PREVIOUS_SECRET_KEYS?); "
            "update the credentials."
        ) from exc


async def execute_run(
    db: AsyncSession,
    settings: Settings,
    run: SyncRun,
    account: CloudAccount,
    *,
    progress: Any = None,
) -> "ImportSummary":
    """Run the account's connector with every period in ``db``'s transaction and record a
    success on ``run`` and ``account``; the caller commits (``xplorr demo``). Raises
    ``ConnectorError`` for permanent failures (bad data included), anything else is transient.
    The ``sync.account`` job commits period by period instead (``sync_account``)."""
    from xplorr.ingest.pipeline import in_session

    started = clock.now()
    await lock_account(db, account.id, IMPORT_LOCK)
    connector = connector_for(account.provider)
    credentials = await _credentials(db, settings, account)
    summary = await connector(SyncContext(in_session(db), settings, progress), account, credentials)
    await record_success(db, run, account, summary, started)
    return summary


async def record_success(
    db: AsyncSession,
    run: SyncRun,
    account: CloudAccount,
    summary: "ImportSummary",
    started: datetime,
) -> None:
    now = clock.now()
    run.state = SyncState.SUCCEEDED
    run.started_at = run.started_at or started  # a retried run started with its first attempt
    run.finished_at = now
    run.rows = summary.rows_read
    run.error = None
    run.data_through = await costs.data_through(db, org_scope(account.org_id), [account.id])
    run.detail = summary_detail(summary, earlier=run.detail)
    account.status = AccountStatus.ACTIVE
    account.last_synced_at = now
    await emit(
        db,
        SyncSucceeded(
            org_id=account.org_id,
            cloud_account_id=account.id,
            periods_imported=len(summary.periods_imported),
        ),
    )
    await db.flush()


def _period_target(
    ctx: JobContext, run_id: uuid.UUID, account_id: uuid.UUID, org_id: uuid.UUID
) -> "Target":
    """Where a sync writes: one transaction per billing period (plus one that reads what the
    account already has), on the worker's engine. Each first renews the job's lease, fenced
    on this attempt (one whose job another worker took over raises and writes nothing), and
    takes the account's import lock; the period's transaction records it on the run."""
    from xplorr.ingest.pipeline import Target

    engine = ctx.db.bind
    if not isinstance(engine, AsyncEngine):
        raise TypeError("a sync job's session must be bound to an engine")
    sessions = make_sessionmaker(engine)
    lease = timedelta(seconds=ctx.settings.job_lease_seconds)

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with sessions() as db, db.begin():
            if not await queue.heartbeat(db, ctx.job_id, ctx.attempt, lease):
                raise LeaseExpiredError(
                    "another worker took this sync over; this attempt writes nothing more"
                )
            await lock_account(db, account_id, IMPORT_LOCK)
            yield db

    async def committed(db: AsyncSession, period: date) -> None:
        run = await db.scalar(select(SyncRun).where(SyncRun.id == run_id, SyncRun.org_id == org_id))
        if run is not None:
            run.detail = committed_detail(run.detail, period)

    return Target(transaction, committed, ctx.settings.data_dir / "staging")


def _period(value: date | str) -> str:
    return value.strftime("%Y-%m") if isinstance(value, date) else str(value)[:7]


def _empty_detail() -> dict[str, Any]:
    return {
        "periods_imported": [],
        "periods_skipped": [],
        "files": 0,
        "files_skipped": [],
        "rows_read": 0,
        "rows_stored": 0,
        "days": 0,
        "first_date": None,
        "last_date": None,
        "totals": {},
        "warnings": [],
        "api_calls": {},
    }


def committed_detail(detail: dict[str, Any] | None, period: date) -> dict[str, Any]:
    """The run's ``detail`` once ``period`` committed (a new dict: JSON columns track
    reassignment, not mutation)."""
    out = dict(detail) if detail else _empty_detail()
    out["periods_imported"] = sorted({*out.get("periods_imported", []), _period(period)})
    return out


def summary_detail(
    summary: "ImportSummary", earlier: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The run's ``detail`` (JSON): what was imported and skipped, exact totals as strings.
    Periods an earlier attempt of the run committed (``earlier``) count as imported: this
    attempt found them unchanged because the run itself wrote them."""
    totals: dict[str, Decimal] = dict(summary.totals)
    before = set((earlier or {}).get("periods_imported", []))
    imported = sorted({_period(p) for p in summary.periods_imported} | before)
    return {
        "periods_imported": imported,
        "periods_skipped": [
            {"period": _period(p), "reason": reason}
            for p, reason in sorted(summary.periods_skipped.items())
            if _period(p) not in imported
        ],
        "files": summary.files,
        "files_skipped": list(summary.files_skipped),
        "rows_read": summary.rows_read,
        "rows_stored": summary.rows_stored,
        "days": summary.days,
        "first_date": summary.first_date.isoformat() if summary.first_date else None,
        "last_date": summary.last_date.isoformat() if summary.last_date else None,
        "totals": {currency: str(amount) for currency, amount in sorted(totals.items())},
        # A partial sync: the sources or periods that could not be read, and why.
        "warnings": list(summary.warnings),
        # Billable provider calls (Cost Explorer: $0.01 each).
        "api_calls": dict(sorted(summary.api_calls.items())),
    }


async def _load(ctx: JobContext, p: SyncPayload) -> tuple[SyncRun | None, CloudAccount | None]:
    """The run and the account, by id AND the job row's org (never the payload's word)."""
    run = await ctx.db.scalar(
        select(SyncRun).where(
            SyncRun.id == p.run_id,
            SyncRun.org_id == ctx.org_id,
            SyncRun.cloud_account_id == p.account_id,
        )
    )
    account = await ctx.db.scalar(
        select(CloudAccount).where(
            CloudAccount.id == p.account_id, CloudAccount.org_id == ctx.org_id
        )
    )
    return run, account


def failure_reason(error: BaseException) -> str:
    """A sentence for the run's ``error`` (credentials masked, length capped)."""
    if isinstance(error, PermanentJobError | ConnectorError):
        text = str(error)
    elif isinstance(error, LeaseExpiredError):
        text = "The worker running this sync stopped (crashed or killed) before finishing."
    elif isinstance(error, OSError):
        text = f"Could not read the account's data: {error}"
    elif isinstance(error, DBAPIError):
        text = f"Database error during the sync: {type(error.orig).__name__}"
    else:
        text = f"Unexpected error during the sync: {type(error).__name__}: {error}"
    return queue.mask_secrets(text)


async def _attempt_started(ctx: JobContext) -> datetime | None:
    """When the worker claimed this attempt (the job row's ``started_at``, committed by the
    claim): the handler's own writes are rolled back with a failed attempt, that is not."""
    return await ctx.db.scalar(select(Job.started_at).where(Job.id == ctx.job_id))


async def record_failure(
    ctx: JobContext, payload: dict[str, Any], error: BaseException, final: bool
) -> None:
    """``sync.account``'s failure hook, in the transaction recording the failed attempt."""
    run, account = await _load(ctx, SyncPayload.model_validate(payload))
    if run is None:
        return
    if run.started_at is None:  # the first attempt's start; later attempts keep it
        run.started_at = await _attempt_started(ctx) or clock.now()
    reason = failure_reason(error)
    kept = (run.detail or {}).get("periods_imported") or []
    if kept:
        reason += f" Billing periods imported before the failure (kept): {', '.join(kept)}."
    if not final:
        run.state = SyncState.QUEUED
        run.error = f"Attempt {ctx.attempt} failed, retrying: {reason}"
        return
    run.state = SyncState.FAILED
    run.error = reason
    run.finished_at = clock.now()
    if account is not None:
        account.status = AccountStatus.ERROR
        await notify(
            ctx.db,
            SyncFailed(
                org_id=account.org_id,
                cloud_account_id=account.id,
                run_id=run.id,
                account_name=account.name,
                provider=account.provider.value,
                error=reason,
                failed_at=run.finished_at,
            ),
        )
    log.warning("sync_failed", run=str(run.id), account=str(run.cloud_account_id), error=reason)


@job("sync.account", max_attempts=MAX_ATTEMPTS, on_failure=record_failure)
async def sync_account(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Idempotent: a re-run re-imports the same periods (replacing them) or skips them."""
    p = SyncPayload.model_validate(payload)
    run, account = await _load(ctx, p)
    if run is None or account is None:
        # The account was disconnected since (its runs went with it): nothing left to do.
        log.info("sync_account_gone", run=str(p.run_id), account=str(p.account_id))
        return
    started = run.started_at or await _attempt_started(ctx) or clock.now()
    try:
        connector = connector_for(account.provider)
        credentials = await _credentials(ctx.db, ctx.settings, account)
    except ConnectorError as exc:
        raise PermanentJobError(str(exc)) from exc
    # Detached, the account keeps what was read for the connector; then no transaction (and
    # on SQLite no lock) is held while the connector reads or downloads.
    ctx.db.expunge(account)
    await ctx.release_connection()
    target = _period_target(ctx, p.run_id, p.account_id, account.org_id)
    try:
        summary = await connector(SyncContext(target, ctx.settings), account, credentials)
    except ConnectorError as exc:
        raise PermanentJobError(str(exc)) from exc
    run, account = await _load(ctx, p)
    if run is None or account is None:
        log.info("sync_account_gone", run=str(p.run_id), account=str(p.account_id))
        return
    await record_success(ctx.db, run, account, summary, started)
    assert run.finished_at is not None
    await notify(
        ctx.db,
        SyncComplete(
            org_id=account.org_id,
            cloud_account_id=account.id,
            run_id=run.id,
            account_name=account.name,
            provider=account.provider.value,
            rows=summary.rows_read,
            data_through=run.data_through,
            finished_at=run.finished_at,
        ),
    )
    log.info(
        "sync_succeeded",
        run=str(run.id),
        account=str(account.id),
        rows=summary.rows_read,
        imported=len(summary.periods_imported),
        skipped=len(summary.periods_skipped),
    )


def orgs_with_accounts() -> Select[uuid.UUID]:
    return select(CloudAccount.org_id).distinct()


FAN_OUT = fan_out_per_org("sync.fan_out", job="sync.fan_out_org", orgs=orgs_with_accounts)


@job("sync.fan_out_org", lane=Lane.BULK)
async def fan_out_org(ctx: JobContext, _payload: dict[str, Any]) -> None:
    """A scheduled sync per account of the job's org, unless one is already queued."""
    accounts = (
        await ctx.db.scalars(
            select(CloudAccount).where(CloudAccount.org_id == ctx.org_id).order_by(CloudAccount.id)
        )
    ).all()
    created = 0
    for account in accounts:
        _run, new = await enqueue_sync(ctx.db, account, SyncTrigger.SCHEDULE)
        created += new
    log.info("sync_scheduled", org=str(ctx.org_id), accounts=len(accounts), queued=created)


def sync_interval(settings: Settings) -> timedelta:
    """``XPLORR_SYNC_INTERVAL_MINUTES`` of the worker firing the schedule."""
    return timedelta(minutes=settings.sync_interval_minutes)


SCHEDULE = schedule(
    "sync.schedule_all", every=sync_interval, job="sync.fan_out", key="sync.fan_out"
)
