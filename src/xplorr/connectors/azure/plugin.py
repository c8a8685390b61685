"""Azure in Xplorr: its sync source (``connector``: Cost Management exports in Blob storage,
or the Query API), its inventory collector (``collector``: Resource Graph, Monitor, Advisor)
and its connection test (``probe``), registered with the connectors' registry. Light on
purpose: each imports the Azure SDKs only when called."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import ConnectorError, ProbeResult, SyncContext, register_provider
from xplorr.core.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.connectors.azure.collector import AzureRefresh
    from xplorr.core.jobs.registry import JobContext
    from xplorr.core.settings import Settings
    from xplorr.core.tenancy import Principal
    from xplorr.ingest.pipeline import ImportSummary


async def sync(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    from xplorr.connectors.azure.connector import run

    return await run(ctx, account, credentials)


async def collect_inventory(ctx: JobContext, account: CloudAccount) -> AzureRefresh | None:
    from xplorr.connectors.azure.collector import collect_from_azure

    return await collect_from_azure(ctx, account)


async def check_connection(
    _db: AsyncSession,
    settings: Settings,
    _who: Principal,
    _account_id: str,
    credentials: dict[str, Any],
) -> ProbeResult:
    """``probe``; a malformed ``exportSasUrl`` is a 422 on that field."""
    from xplorr.connectors.azure.exports import check_sas_url
    from xplorr.connectors.azure.probe import probe
    from xplorr.connectors.azure.session import open_session

    try:
        await check_sas_url(open_session(settings, credentials))
    except ConnectorError as exc:
        raise ValidationFailed.on("credentials.exportSasUrl", str(exc)) from None
    return await anyio.to_thread.run_sync(probe, settings, credentials)


register_provider(
    Provider.AZURE,
    label="Azure",
    sync=sync,
    collect_inventory=collect_inventory,
    test_connection=check_connection,
)
