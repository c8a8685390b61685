"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.matrix import ADMINS, ANY, Access, Case, row_of
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.jobs.models import Job
from xplorr.orgs.models import Org
from xplorr.sync.models import SyncRun
from xplorr.users.models import User

ACCESS: dict[tuple[str, str], Access] = {
    # Sync: owners and admins trigger syncs (reference: admin); every role reads their state
    # (grants limit members and viewers to their accounts).
    ("POST", "/api/v1/sync/all"): ADMINS,
    ("POST", "/api/v1/sync/{account_id}"): ADMINS,
    ("GET", "/api/v1/sync/status"): ANY,
    ("GET", "/api/v1/sync/jobs"): ANY,
}


async def _account(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_account(db, org)).id


async def _account_and_syncs(db: AsyncSession, ident: uuid.UUID) -> dict[str, Any]:
    """The account row, and that no sync run or job was queued for it."""
    runs = select(func.count()).select_from(SyncRun).where(SyncRun.cloud_account_id == ident)
    jobs = select(func.count()).select_from(Job).where(Job.key == f"sync:{ident}")
    return {
        **(await row_of(CloudAccount, db, ident)),
        "sync_runs": await db.scalar(runs),
        "sync_jobs": await db.scalar(jobs),
    }


TENANCY = {
    "/api/v1/sync/{account_id}": Case(_account, _account_and_syncs),
}
