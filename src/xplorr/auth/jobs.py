"""Auth jobs: the emails of the verification and password-reset flows (someone is waiting for
them: interactive lane), and expired logins deleted on a schedule (hourly)."""

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_

from xplorr.auth import lifecycle_service
from xplorr.auth.models import AuthSession
from xplorr.core import clock
from xplorr.core.jobs.registry import JobContext, Lane, job, schedule

job("auth.send_verification", lane=Lane.INTERACTIVE)(lifecycle_service.send_verification_job)
job("auth.send_password_reset", lane=Lane.INTERACTIVE)(lifecycle_service.send_password_reset_job)

RETENTION = timedelta(days=7)  # revoked/expired logins are kept a week for investigation


@job("auth.purge_sessions")
async def purge_sessions(ctx: JobContext, _payload: dict[str, Any]) -> None:
    """Delete logins that expired or were revoked more than RETENTION ago (their refresh
    tokens go with them). Idempotent: a re-run finds nothing left to delete."""
    cutoff = clock.now() - RETENTION
    await ctx.db.execute(
        delete(AuthSession).where(
            or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff)
        )
    )


HOURLY = schedule(
    "auth.purge_sessions.hourly",
    every=timedelta(hours=1),
    job="auth.purge_sessions",
    key="auth.purge_sessions",
)
