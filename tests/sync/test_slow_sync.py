"""The API answers while a sync reads: a connector's reads hold no transaction, so on SQLite a
login (which writes) does not wait behind a slow download. The sync here is real (the worker
runner on its own engine, as embedded, the ingest pipeline, the store); only its read is slowed,
by a test connector whose batches wait on a gate the test opens."""

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.users import DEFAULT_PASSWORD
from tests.sync.conftest import FOCUS_10, cents, file_sums, stored_sums
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import SyncContext, connector_for, plugin_for
from xplorr.core import clock
from xplorr.core.db import make_engine
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.ingest.focus import read_raw
from xplorr.ingest.pipeline import ImportSummary, import_batches
from xplorr.sync.models import SyncRun, SyncState
from xplorr.users.models import User

SLICE = 100


@dataclass
class Throttle:
    """The read's progress, seen from the test: ``reading`` once the first slice is out,
    ``finished`` once the last one is; every slice after the first waits for ``gate``."""

    gate: threading.Event = field(default_factory=threading.Event)
    reading: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def throttled() -> Iterator[Throttle]:
    """The focus connector replaced, for this test, by one reading the account's sample file
    in slices of ``SLICE`` rows through the gate."""
    real = connector_for(Provider.FOCUS)
    throttle = Throttle()

    def slices(path: Path) -> Iterator[pa.RecordBatch]:
        for batch in read_raw(path, name=FOCUS_10):
            for offset in range(0, batch.num_rows, SLICE):
                yield batch.slice(offset, SLICE)
                throttle.reading.set()
                if not throttle.gate.wait(timeout=60):
                    raise TimeoutError("the test never opened the gate")
        throttle.finished.set()

    async def slow(
        ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
    ) -> ImportSummary:
        path = Path(credentials["path"]) / FOCUS_10
        return await import_batches(
            ctx.target,
            account,
            slices(path),
            source=str(path),
            snapshot_at=clock.now(),
            fingerprint=uuid.uuid4().hex,
        )

    plugin = plugin_for(Provider.FOCUS)
    assert plugin is not None
    plugin.sync = slow
    try:
        yield throttle
    finally:
        throttle.gate.set()
        plugin.sync = real


async def _until(event: threading.Event, within: float) -> None:
    deadline = time.monotonic() + within
    while not event.is_set():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_login_during_a_slow_sync_answers_in_under_a_second(
    client_for: ClientFor,
    anon: Any,
    admin: User,
    focus_account: CloudAccount,
    db: AsyncSession,
    settings: Settings,
    db_url: str,
    exports: Path,
    throttled: Throttle,
) -> None:
    engine = make_engine(db_url)  # the worker's own engine, as the embedded worker has
    worker = Worker(settings.model_copy(update={"job_poll_seconds": 0.05}), engine)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        sync = (await client_for(admin).post(f"/sync/{focus_account.id}")).json()
        await _until(throttled.reading, 30)

        began = time.monotonic()
        login = await anon.post(
            "/auth/login", json={"email": admin.email, "password": DEFAULT_PASSWORD}
        )
        elapsed = time.monotonic() - began
        assert login.status_code == 200, login.json()
        assert elapsed < 1.0
        assert not throttled.finished.is_set()  # the sync was still reading meanwhile
        status = (await client_for(admin).get("/sync/status")).json()["data"][0]
        assert status["state"] == "running"

        throttled.gate.set()
        await _until(throttled.finished, 30)
        deadline = time.monotonic() + 30
        while True:
            await db.rollback()
            run = await db.get_one(SyncRun, uuid.UUID(sync["id"]), populate_existing=True)
            if run.state in (SyncState.SUCCEEDED, SyncState.FAILED):
                break
            assert time.monotonic() < deadline, "the sync did not finish"
            await asyncio.sleep(0.05)
    finally:
        throttled.gate.set()
        stop.set()
        await running
        await engine.dispose()
    assert (run.state, run.error) == (SyncState.SUCCEEDED, None)
    expected = file_sums(exports / "acme" / FOCUS_10)
    assert cents(await stored_sums(db, focus_account)) == cents(expected)
