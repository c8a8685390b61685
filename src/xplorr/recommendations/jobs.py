"""Recommendation refreshes: after every inventory refresh of an account (which follows each
sync's cost import, ``inventory.refreshed``), and daily for every account of every
organization (``recommendations.fan_out`` at 06:30 UTC), so CPU windows and snapshot ages move
on without a sync. Both are idempotent (``service.refresh_account``). For AWS accounts, the
on-demand prices their inventory needs (``aws_prices.read_accounts``: the Pricing API) and
Cost Explorer's RI and Savings Plans purchase recommendations (``aws_purchase.read_accounts``)
are read first, with no transaction open; the prices are stored before the refresh."""

import uuid

import structlog
from sqlalchemy import select

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.events import subscribe
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job, schedule
from xplorr.inventory.events import InventoryRefreshed
from xplorr.recommendations import aws_prices, aws_purchase, service

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


async def _account(ctx: JobContext, account_id: uuid.UUID) -> CloudAccount | None:
    return await ctx.db.scalar(
        select(CloudAccount).where(CloudAccount.id == account_id, CloudAccount.org_id == ctx.org_id)
    )


@subscribe(InventoryRefreshed, "recommendations.refresh")
async def refresh(ctx: JobContext, event: InventoryRefreshed) -> None:
    account = await _account(ctx, event.cloud_account_id)
    if account is None:  # disconnected since: its recommendations went with it
        return
    # Each read may end the transaction while AWS answers: the account is read again after.
    priced = await aws_prices.read_accounts(ctx, [account])
    if priced and (account := await _account(ctx, event.cloud_account_id)) is None:
        return
    purchases = await aws_purchase.read_accounts(ctx, [account])
    if purchases and (account := await _account(ctx, event.cloud_account_id)) is None:
        return
    await aws_prices.record(ctx.db, account.org_id, priced)
    await _refresh(ctx, account, purchases.get(account.id))


@job("recommendations.refresh_org")
async def refresh_org(ctx: JobContext, _payload: dict[str, object]) -> None:
    if ctx.org_id is None:
        raise PermanentJobError("recommendations.refresh_org needs the job's organization.")
    listed = select(CloudAccount).where(CloudAccount.org_id == ctx.org_id).order_by(CloudAccount.id)
    accounts = (await ctx.db.scalars(listed)).all()
    # AWS is read for every account before the first write; each read may end the
    # transaction while AWS answers: the accounts are read again after it.
    priced = await aws_prices.read_accounts(ctx, accounts)
    if priced:
        accounts = (await ctx.db.scalars(listed)).all()
    purchases = await aws_purchase.read_accounts(ctx, accounts)
    if purchases:
        accounts = (await ctx.db.scalars(listed)).all()
    live = {a.id for a in accounts}
    await aws_prices.record(ctx.db, ctx.org_id, {k: v for k, v in priced.items() if k in live})
    for account in accounts:
        await _refresh(ctx, account, purchases.get(account.id))


fan_out_per_org("recommendations.fan_out", job="recommendations.refresh_org")
schedule("recommendations.daily", job="recommendations.fan_out", cron="30 6 * * *")
