"""Demo accounts: generated FOCUS data (``connector``) and an inventory read from that bill
(``inventory.bill``), registered with the connectors' registry; no connection to test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import SyncContext, register_provider

if TYPE_CHECKING:
    from xplorr.core.jobs.registry import JobContext
    from xplorr.ingest.pipeline import ImportSummary
    from xplorr.inventory.bill import BillRefresh


async def sync(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    from xplorr.connectors.demo.connector import run

    return await run(ctx, account, credentials)


async def collect_inventory(ctx: JobContext, account: CloudAccount) -> BillRefresh:
    from xplorr.inventory.bill import collect

    return await collect(ctx, account)


register_provider(Provider.DEMO, label="Demo", sync=sync, collect_inventory=collect_inventory)
