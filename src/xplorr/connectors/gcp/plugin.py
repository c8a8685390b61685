"""Google Cloud in Xplorr: its sync source (``connector``: the BigQuery billing export), its
inventory collector (``collector``: Cloud Asset, or Compute, Storage and Cloud SQL listing;
Recommender) and its connection test (``probe``: the key and the BigQuery grants), registered
with the connectors' registry (``xplorr.connectors``); Google's clients are imported when
first called."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread

from xplorr.cloud_accounts.models import Provider
from xplorr.connectors import ProbeResult, lazily, register_provider

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.core.settings import Settings
    from xplorr.core.tenancy import Principal


async def check_connection(
    _db: AsyncSession,
    settings: Settings,
    _who: Principal,
    project_id: str,
    credentials: dict[str, Any],
) -> ProbeResult:
    from xplorr.connectors.gcp.probe import probe

    return await anyio.to_thread.run_sync(probe, settings, project_id, credentials)


register_provider(
    Provider.GCP,
    label="GCP",
    sync=lazily("xplorr.connectors.gcp.connector", "run_sync"),
    collect_inventory=lazily("xplorr.connectors.gcp.collector", "collect_from_gcp"),
    test_connection=check_connection,
)
