"""Inventory refresh: after every change of an account's cost data (each sync's import emits
``CostDataChanged``) and after every successful sync that changed none (``SyncSucceeded`` with
no period imported: an export not yet rewritten, a Cost Explorer month unchanged), its
inventory is collected again by the collector its provider's plugin registers
(``xplorr.connectors``: a cloud's API, or the bill for demo accounts). What a cloud collector
could not read (a denied call) is kept with the refresh (``InventoryRefresh``) and shown by
``GET /sync/status`` beside the account's newest sync."""

import uuid
from typing import Final

import structlog
from sqlalchemy import select

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import plugin_for
from xplorr.core import clock
from xplorr.core.events import emit, subscribe
from xplorr.core.jobs.models import Job
from xplorr.core.jobs.registry import JobContext
from xplorr.costs.events import CostDataChanged
from xplorr.inventory import service
from xplorr.inventory.events import InventoryRefreshed
from xplorr.sync.events import SyncSucceeded

log = structlog.get_logger("xplorr.inventory")
REFRESH_JOB: Final = "inventory.refresh"
AFTER_SYNC_JOB: Final = "inventory.refresh_after_sync"


@subscribe(CostDataChanged, REFRESH_JOB)
async def refresh(ctx: JobContext, event: CostDataChanged) -> None:
    """Idempotent: a refresh records one snapshot; the same snapshot twice changes only
    ``last_seen_at``."""
    await _refresh(ctx, event.cloud_account_id)


@subscribe(SyncSucceeded, AFTER_SYNC_JOB)
async def refresh_after_sync(ctx: JobContext, event: SyncSucceeded) -> None:
    """A sync that imported nothing still refreshes the inventory (resources change without
    the bill changing); one that imported periods was answered by their ``CostDataChanged``."""
    if event.periods_imported:
        return
    await _refresh(ctx, event.cloud_account_id)


async def _refresh(ctx: JobContext, account_id: uuid.UUID) -> None:
    account = await ctx.db.scalar(
        select(CloudAccount).where(CloudAccount.id == account_id, CloudAccount.org_id == ctx.org_id)
    )
    if account is None:  # disconnected since: its inventory went with it
        return
    # A sync emits one event per billing period imported: a snapshot started after this job
    # was queued has seen what it announces, so the others of the same sync cost nothing.
    queued = await ctx.db.scalar(select(Job.created_at).where(Job.id == ctx.job_id))
    last = await service.last_refreshed(ctx.db, account)
    if queued is not None and last is not None and last >= queued:
        log.info("inventory_refresh_skipped", account=str(account.id))
        return
    plugin = plugin_for(account.provider)
    collect = plugin.collect_inventory if plugin is not None else None
    if collect is None:  # a provider with a bill only (focus exports)
        await emit(ctx.db, InventoryRefreshed(org_id=account.org_id, cloud_account_id=account.id))
        return
    started = clock.now()
    refreshed = await collect(ctx, account)
    if refreshed is None:  # disconnected while the cloud answered
        return
    result = refreshed.result
    for warning in refreshed.warnings:
        log.warning("inventory_partial", account=str(account_id), warning=warning)
    await service.record_refresh(ctx.db, account, warnings=refreshed.warnings, at=started)
    await emit(ctx.db, InventoryRefreshed(org_id=account.org_id, cloud_account_id=account.id))
    log.info(
        "inventory_refreshed",
        account=str(account_id),
        added=result.added,
        updated=result.updated,
        gone=result.gone,
        purged=result.purged,
    )
