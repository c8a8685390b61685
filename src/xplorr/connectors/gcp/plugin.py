"""Google Cloud in Xplorr: its sync source (``connector``: the BigQuery billing export), its
inventory collector (``collector``: Cloud Asset, or Compute, Storage and Cloud SQL listing;
Recommender) and its connection test (``probe``: the key and the BigQuery grants), registered
with the connectors' registry. Light on purpose: each imports Google's clients only when
called."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import ProbeResult, SyncContext, register_provider

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.connectors.gcp.collector import GcpRefresh
    from xplorr.core.jobs.registry import JobContext
    from xplorr.core.settings import Settings
    from xplorr.core.tenancy import Principal
    from xplorr.ingest.pipeline import ImportSummary


async def sync(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    from xplorr.connectors.gcp.connector import run_sync

    return await run_sync(ctx, account, credentials)


async def collect_inventory(ctx: JobContext, account: CloudAccount) -> GcpRefresh | None:
    from xplorr.connectors.gcp.collector import collect_from_gcp

    return await collect_from_gcp(ctx, account)


async def check_connection(
    _db: AsyncSession,
    settings: Settings,
    _who: Principal,
    account_id: str,
    credentials: dict[str, Any],
) -> ProbeResult:
    from xplorr.connectors.gcp.probe import probe

    return await anyio.to_thread.run_sync(probe, settings, account_id, credentials)


register_provider(
    Provider.GCP,
    label="GCP",
    sync=sync,
    collect_inventory=collect_inventory,
    test_connection=check_connection,
)
