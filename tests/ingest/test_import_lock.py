"""``xplorr import focus`` takes the account's import lock, the one a sync takes: an import
started while a sync of the account holds it waits for the sync's transaction to end."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import PG_URL, make_settings
from tests.ingest.focus_rows import hourly, write_csv
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.ingest.command import import_focus
from xplorr.sync.service import IMPORT_LOCK, lock_account

pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="PostgreSQL advisory lock (SQLite runs one writer at a time anyway)"
)


async def test_an_import_waits_for_the_sync_holding_the_account(
    db_url: str, account: CloudAccount, db: AsyncSession, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "x.csv", hourly("2024-09-03"))
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as sync_tx:
            await lock_account(sync_tx, account.id, IMPORT_LOCK)  # what a sync holds
            importing = asyncio.create_task(
                import_focus(make_settings(db_url, tmp_path), account.id, path)
            )
            await asyncio.sleep(1.0)
            assert not importing.done()
            await sync_tx.commit()
        summary = await asyncio.wait_for(importing, 30)
    finally:
        await engine.dispose()
    assert summary.rows_read == 24
