"""Sync jobs: ``sync.account`` runs one account's connector; ``sync.fan_out`` (every
``XPLORR_SYNC_INTERVAL_MINUTES``, a ``periodic.fan_out_per_org``) queues a ``sync.fan_out_org``
per organization with cloud accounts (one waiting per org at most), which queues one scheduled
sync per account of that organization (skipping accounts with one queued). Scheduled syncs run
in the bulk lane; a sync someone asked for in the interactive lane (``sync.service.LANES``).

``sync.account`` runs inside the attempt's transaction: the connector's imports, the run's
outcome and the account's ``last_synced_at`` commit together with the job's success, or not at
all. Errors a retry cannot fix (``ConnectorError``: bad credentials, a refused path, a provider
without a connector, bad data) raise ``PermanentJobError`` and the sync fails
at once; others (an ``OSError`` on a file share, a database hiccup, an interrupted worker) are
retried with backoff. Either way the failed attempt's writes roll back (the account's data stays
as it was) and ``record_failure``, the job's failure hook, writes the outcome on the run in the
transaction that records the failure: the reason after each attempt, ``failed`` and the
account's ``status=error`` once the job is dead. Runs outlive their jobs (jobs rows are purged
after 14 days).
"""

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import AccountStatus, CloudAccount
from xplorr.connectors import ConnectorError, SyncContext, connector_for
from xplorr.core import clock
from xplorr.core.crypto import CryptoError
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
from xplorr.costs.models import CostImport
from xplorr.sync.models import SyncRun, SyncState, SyncTrigger
from xplorr.sync.service import IMPORT_LOCK, enqueue_sync, lock_account

if TYPE_CHECKING:  # pyarrow is imported with the first connector, not with this module
    from xplorr.ingest.pipeline import ImportSummary

log = structlog.get_logger("xplorr.sync")

MAX_ATTEMPTS = 5


class SyncPayload(BaseModel):
    run_id: uuid.UUID
    account_id: uuid.UUID


async def execute_run(
    db: AsyncSession,
    settings: Settings,
    run: SyncRun,
    account: CloudAccount,
    *,
    progress: Any = None,
) -> "ImportSummary":
    """Run the account's connector in ``db``'s transaction and record a success on ``run``
    and ``account``. The caller commits (the job runner, or ``xplorr demo``). Raises
    ``ConnectorError`` for permanent failures (bad data included), anything else is transient."""
    started = clock.now()
    await lock_account(db, account.id, IMPORT_LOCK)
    connector = connector_for(account.provider)
    try:
        credentials = await decrypt_credentials(db, settings, account)
    except CryptoError as exc:
        raise ConnectorError(
            "The account's stored credentials cannot be decrypted (was XPLORR_SECRET_KEY "
            "changed without listing the old key in XPLORR_PREVIOUS_SECRET_KEYS?); "
            "update the credentials."
        ) from exc
    summary = await connector(SyncContext(db, settings, progress), account, credentials)
    now = clock.now()
    run.state = SyncState.SUCCEEDED
    run.started_at = run.started_at or started  # a retried run started with its first attempt
    run.finished_at = now
    run.rows = summary.rows_read
    run.error = None
    run.data_through = await data_through(db, account)
    run.detail = summary_detail(summary)
    account.status = AccountStatus.ACTIVE
    account.last_synced_at = now
    await db.flush()
    return summary


def _period(value: date | str) -> str:
    return value.strftime("%Y-%m") if isinstance(value, date) else str(value)[:7]


def summary_detail(summary: "ImportSummary") -> dict[str, Any]:
    """The run's ``detail`` (JSON): what was imported and skipped, exact totals as strings."""
    totals: dict[str, Decimal] = dict(summary.totals)
    return {
        "periods_imported": sorted(_period(p) for p in summary.periods_imported),
        "periods_skipped": [
            {"period": _period(p), "reason": reason}
            for p, reason in sorted(summary.periods_skipped.items())
        ],
        "files": summary.files,
        "files_skipped": list(summary.files_skipped),
        "rows_read": summary.rows_read,
        "rows_stored": summary.rows_stored,
        "days": summary.days,
        "first_date": summary.first_date.isoformat() if summary.first_date else None,
        "last_date": summary.last_date.isoformat() if summary.last_date else None,
        "totals": {currency: str(amount) for currency, amount in sorted(totals.items())},
    }


async def data_through(db: AsyncSession, account: CloudAccount) -> date | None:
    """The last complete day of the account's data: the newest day imported, unless the
    snapshot holding it was taken that same day or earlier (an export written mid-day holds
    a partial day), then the day before the snapshot."""
    newest = await db.scalar(
        select(CostImport)
        .where(
            CostImport.org_id == account.org_id,
            CostImport.cloud_account_id == account.id,
            CostImport.last_date.is_not(None),
        )
        .order_by(CostImport.last_date.desc())
        .limit(1)
    )
    if newest is None or newest.last_date is None:
        return None
    snapshot_day: date = newest.snapshot_at.date()
    if newest.last_date >= snapshot_day:
        return snapshot_day - timedelta(days=1)
    return newest.last_date


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
    if not final:
        run.state = SyncState.QUEUED
        run.error = f"Attempt {ctx.attempt} failed, retrying: {reason}"
        return
    run.state = SyncState.FAILED
    run.error = reason
    run.finished_at = clock.now()
    if account is not None:
        account.status = AccountStatus.ERROR
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
    if run.started_at is None:
        run.started_at = await _attempt_started(ctx)
    try:
        summary = await execute_run(ctx.db, ctx.settings, run, account)
    except ConnectorError as exc:
        raise PermanentJobError(str(exc)) from exc
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
