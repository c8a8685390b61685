"""Test-only: a worker process imports this (``XPLORR_JOB_MODULES``) to pause the first focus
sync right after its first billing period committed, so a test can SIGKILL the worker mid-sync
(one period written, the others not yet). ``XPLORR_TEST_SYNC_PAUSE_FILE`` names the file that
marks the pause (and, once it exists, lets later syncs through)."""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import SyncContext, connector_for, plugin_for
from xplorr.ingest.pipeline import ImportSummary, Target

PAUSE_FILE = os.environ.get("XPLORR_TEST_SYNC_PAUSE_FILE")


def _first_pause(marker: Path, period: date) -> bool:
    """Mark the pause; False when a sync already paused (later syncs go through)."""
    if marker.exists():
        return False
    marker.write_text(f"committed {period:%Y-%m}, the other periods not yet\n")
    return True


def _pausing(target: Target, marker: Path) -> Target:
    """``target`` that sleeps (to be killed) after the first transaction that committed a
    period."""
    committed: list[date] = []
    on_period = target.on_period

    async def record(db: AsyncSession, period: date) -> None:
        if on_period is not None:
            await on_period(db, period)
        committed.append(period)

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with target.transaction() as db:
            yield db
        if committed and await asyncio.to_thread(_first_pause, marker, committed[0]):
            await asyncio.sleep(120)

    return Target(transaction, record)


if PAUSE_FILE:
    _real = connector_for(Provider.FOCUS)

    async def _paused(
        ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
    ) -> ImportSummary:
        assert PAUSE_FILE is not None
        paused = replace(ctx, target=_pausing(ctx.target, Path(PAUSE_FILE)))
        return await _real(paused, account, credentials)

    _plugin = plugin_for(Provider.FOCUS)
    assert _plugin is not None
    _plugin.sync = _paused
