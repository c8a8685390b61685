"""Owned commitments: collected after every cost change of an account (``commitments.collect``:
AWS accounts from the AWS APIs, demo accounts from their bill), and daily for every
organization (``commitments.fan_out`` at 06:30 UTC): each org's ``ri_sp_expiration``
notifications 30 days before an expiry, and one ``commitments.collect_account`` per account so
a commitment bought or retired between syncs is seen."""

import uuid

import structlog
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.commitments import collect, service
from xplorr.core.events import subscribe
from xplorr.core.jobs import queue
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job, schedule
from xplorr.costs.events import CostDataChanged

log = structlog.get_logger("xplorr.commitments")
COLLECTED = (Provider.AWS, Provider.DEMO)


class CollectPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cloud_account_id: uuid.UUID


async def _collect(ctx: JobContext, account_id: uuid.UUID) -> None:
    account = await ctx.db.scalar(
        select(CloudAccount).where(CloudAccount.id == account_id, CloudAccount.org_id == ctx.org_id)
    )
    if account is None or account.provider not in COLLECTED:
        return  # disconnected since, or a provider without a collector yet
    if account.provider is Provider.DEMO:
        done: collect.Recorded | None = await collect.collect_from_bill(ctx.db, account)
    else:
        done = await collect.collect_from_aws(ctx, account)
    if done is None:
        return
    for warning in done.warnings:
        log.warning("commitments_partial", account=str(account_id), warning=warning)
    log.info(
        "commitments_collected",
        account=str(account_id),
        added=done.added,
        updated=done.updated,
        removed=done.removed,
    )


@subscribe(CostDataChanged, "commitments.collect", max_attempts=1)
async def collect_changed(ctx: JobContext, event: CostDataChanged) -> None:
    """Idempotent: a collection replaces the account's commitments with what was read. One
    attempt: a failure is recorded on the job and the stored commitments stay as they were;
    the next sync and the daily run collect again, which is the retry that helps (commitments
    change rarely, and an endpoint without these APIs would fail every attempt alike)."""
    await _collect(ctx, event.cloud_account_id)


@job("commitments.collect_account")
async def collect_account(ctx: JobContext, payload: dict[str, object]) -> None:
    """Collect one account's commitments (queued by the daily run)."""
    p = CollectPayload.model_validate(payload)
    await _collect(ctx, p.cloud_account_id)


@job("commitments.refresh_org")
async def refresh_org(ctx: JobContext, _payload: dict[str, object]) -> None:
    """Announce the org's commitments expiring within 30 days, then queue one collection per
    account (each its own job: AWS is called without a transaction open, which a job that has
    written cannot do)."""
    if ctx.org_id is None:
        raise PermanentJobError("commitments.refresh_org needs the job's organization.")
    sent = await service.notify_expiring(ctx.db, ctx.org_id)
    accounts = (
        await ctx.db.scalars(
            select(CloudAccount.id).where(
                CloudAccount.org_id == ctx.org_id, CloudAccount.provider.in_(COLLECTED)
            )
        )
    ).all()
    for account_id in accounts:
        await queue.enqueue(
            ctx.db,
            "commitments.collect_account",
            {"cloud_account_id": str(account_id)},
            org_id=ctx.org_id,
        )
    log.info("commitments_refresh", org=str(ctx.org_id), expiring=sent, accounts=len(accounts))


fan_out_per_org("commitments.fan_out", job="commitments.refresh_org")
schedule("commitments.daily", job="commitments.fan_out", cron="30 6 * * *")
