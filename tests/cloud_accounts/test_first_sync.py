"""Connecting a cloud account queues its first sync (trigger ``connect``) in the interactive
lane, in the connect request's transaction: a refused connect queues nothing."""

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.mail import run_jobs
from xplorr.core.jobs.models import Job
from xplorr.core.jobs.registry import Lane
from xplorr.core.settings import Settings
from xplorr.sync.models import SyncRun, SyncState, SyncTrigger
from xplorr.users.models import User


async def test_connecting_an_account_queues_its_first_sync(
    client_for: ClientFor, admin: User, db: AsyncSession, settings: Settings
) -> None:
    exports = settings.data_dir / "exports"
    exports.mkdir(parents=True)
    (exports / "focus.csv").write_text(
        (
            Path(__file__).parents[1]
            / "data"
            / "focus-samples"
            / "focus-1.0-finops-sample-1000.csv"
        ).read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    body = {
        "provider": "focus",
        "name": "Exports",
        "provider_account_id": "exports-1",
        "credentials": {"path": str(exports)},
    }
    r = await client_for(admin).post("/cloud-accounts", json=body)
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    await db.rollback()
    run = (await db.scalars(select(SyncRun))).one()
    assert (str(run.cloud_account_id), run.trigger, run.requested_by) == (
        account_id,
        SyncTrigger.CONNECT,
        admin.id,
    )
    job = await db.get_one(Job, run.job_id)
    assert (job.name, job.lane, job.key) == ("sync.account", Lane.INTERACTIVE, f"sync:{account_id}")

    # Refused (the same account again): nothing more is queued.
    again = await client_for(admin).post("/cloud-accounts", json=body)
    assert again.status_code == 409
    await db.rollback()
    assert await db.scalar(select(func.count()).select_from(Job)) == 1

    await run_jobs(settings)
    await db.rollback()
    done = await db.get_one(SyncRun, run.id)
    assert done.state == SyncState.SUCCEEDED
    assert done.rows == 1000
