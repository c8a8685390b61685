"""Test-only: a worker process imports this (``XPLORR_JOB_MODULES``) to pause the first focus
sync after its import was written but before it commits, so a test can SIGKILL the worker
mid-sync. ``XPLORR_TEST_SYNC_PAUSE_FILE`` names the file that marks the pause (and, once it
exists, lets later syncs through)."""

import asyncio
import os
from pathlib import Path
from typing import Any

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import REGISTRY, SyncContext, connector_for
from xplorr.ingest.pipeline import ImportSummary

PAUSE_FILE = os.environ.get("XPLORR_TEST_SYNC_PAUSE_FILE")


def _first_pause(marker: Path, rows: int) -> bool:
    """Mark the pause; False when a sync already paused (later syncs go through)."""
    if marker.exists():
        return False
    marker.write_text(f"imported {rows} rows, not committed\n")
    return True


if PAUSE_FILE:
    _real = connector_for(Provider.FOCUS)

    async def _paused(
        ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
    ) -> ImportSummary:
        summary = await _real(ctx, account, credentials)
        assert PAUSE_FILE is not None
        if await asyncio.to_thread(_first_pause, Path(PAUSE_FILE), summary.rows_read):
            await asyncio.sleep(120)
        return summary

    REGISTRY[Provider.FOCUS] = _paused
