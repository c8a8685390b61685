"""Azure in Xplorr: its sync source (``connector``: Cost Management exports in Blob storage,
or the Query API), its inventory collector (``collector``: Resource Graph, Monitor, Advisor)
and its connection test (``probe``), registered with the connectors' registry
(``xplorr.connectors``); the Azure SDKs are imported when first called."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread

from xplorr.cloud_accounts.models import Provider
from xplorr.connectors import ConnectorError, ProbeResult, lazily, register_provider
from xplorr.core.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.core.settings import Settings
    from xplorr.core.tenancy import Principal


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
    sync=lazily("xplorr.connectors.azure.connector", "run"),
    collect_inventory=lazily("xplorr.connectors.azure.collector", "collect_from_azure"),
    test_connection=check_connection,
)
