"""The hourly purge of expired and revoked logins."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.users import make_user
from xplorr.auth.jobs import HOURLY, RETENTION, purge_sessions
from xplorr.auth.models import AuthSession
from xplorr.core import clock
from xplorr.core.jobs.registry import JobContext
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org


async def test_purge_removes_only_logins_past_retention(
    db: AsyncSession, org: Org, settings: Settings
) -> None:
    user = await make_user(db, org)
    now = clock.now()
    old = now - RETENTION - timedelta(hours=1)
    rows = {
        "live": AuthSession(org_id=org.id, user_id=user.id, expires_at=now + timedelta(days=1)),
        "expired_long_ago": AuthSession(org_id=org.id, user_id=user.id, expires_at=old),
        "revoked_long_ago": AuthSession(
            org_id=org.id, user_id=user.id, expires_at=now + timedelta(days=1), revoked_at=old
        ),
        "revoked_recently": AuthSession(
            org_id=org.id, user_id=user.id, expires_at=now + timedelta(days=1), revoked_at=now
        ),
    }
    db.add_all(rows.values())
    await db.commit()
    ids = {name: row.id for name, row in rows.items()}
    ctx = JobContext(db=db, job_id=ids["live"], attempt=1, org_id=None, settings=settings)
    await purge_sessions(ctx, {})
    await purge_sessions(ctx, {})  # idempotent
    await db.commit()
    left = set((await db.scalars(select(AuthSession.id))).all())
    assert ids["live"] in left
    assert ids["revoked_recently"] in left
    assert ids["expired_long_ago"] not in left
    assert ids["revoked_long_ago"] not in left
    assert HOURLY.every == timedelta(hours=1)
