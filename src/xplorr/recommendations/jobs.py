"""Recommendation refreshes: after every inventory refresh of an account (which follows each
sync's cost import, ``inventory.refreshed``), and daily for every account of every
organization (``recommendations.fan_out`` at 06:30 UTC), so CPU windows and snapshot ages move
on without a sync. Both are idempotent (``service.refresh_account``). For AWS accounts, Cost
Explorer's RI and Savings Plans purchase recommendations are read first, with no transaction
open (``aws_purchase.read_accounts``)."""

import structlog
from sqlalchemy import select

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.events import subscribe
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job, schedule
from xplorr.inventory.events import InventoryRefreshed
from xplorr.recommendations import aws_purchase, service

log = structlog.get_logger("xplorr.recommendations")


async def _refresh(
    ctx: JobContext, account: CloudAccount, purchase: aws_purchase.PurchaseRead | None = None
) -> None:
    result = await service.refresh_account(ctx.db, account, purchase=purchase)
    log.info(
        "recommendations_refreshed",
        account=str(account.id),
        new=len(result.new),
        updated=result.updated,
        closed=result.closed,
        reopened=result.reopened,
    )


@subscribe(InventoryRefreshed, "recommendations.refresh")
async def refresh(ctx: JobContext, event: InventoryRefreshed) -> None:
    account = await ctx.db.scalar(
        select(CloudAccount).where(
            CloudAccount.id == event.cloud_account_id, CloudAccount.org_id == ctx.org_id
        )
    )
    if account is None:  # disconnected since: its recommendations went with it
        return
    purchases = await aws_purchase.read_accounts(ctx, [account])
    if purchases:  # the transaction ended while AWS answered: read the account again
        account = await ctx.db.scalar(
            select(CloudAccount).where(
                CloudAccount.id == event.cloud_account_id, CloudAccount.org_id == ctx.org_id
            )
        )
        if account is None:
            return
    await _refresh(ctx, account, purchases.get(account.id))


@job("recommendations.refresh_org")
async def refresh_org(ctx: JobContext, _payload: dict[str, object]) -> None:
    if ctx.org_id is None:
        raise PermanentJobError("recommendations.refresh_org needs the job's organization.")
    listed = select(CloudAccount).where(CloudAccount.org_id == ctx.org_id).order_by(CloudAccount.id)
    accounts = (await ctx.db.scalars(listed)).all()
    # Cost Explorer is read for every account before the first refresh writes.
    purchases = await aws_purchase.read_accounts(ctx, accounts)
    if purchases:  # the transaction ended while AWS answered: read the accounts again
        accounts = (await ctx.db.scalars(listed)).all()
    for account in accounts:
        await _refresh(ctx, account, purchases.get(account.id))


fan_out_per_org("recommendations.fan_out", job="recommendations.refresh_org")
schedule("recommendations.daily", job="recommendations.fan_out", cron="30 6 * * *")
