"""FOCUS export files in a local directory (``connector``), registered with the connectors'
registry: a bill only (no inventory, no connection to test)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import SyncContext, register_provider

if TYPE_CHECKING:
    from xplorr.ingest.pipeline import ImportSummary


async def sync(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    from xplorr.connectors.focus.connector import run

    return await run(ctx, account, credentials)


register_provider(Provider.FOCUS, label="FOCUS", sync=sync)
