"""SSO maintenance: pending domain claims are looked up again every hour, so a claim is proven
soon after its TXT record appears, without its admin coming back to ask
(``POST /auth/sso/domains/verify`` does the same at once)."""

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from xplorr.core import clock
from xplorr.core.jobs import queue
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job, schedule
from xplorr.sso import service, verification
from xplorr.sso.models import SsoDomain

# A claim pending longer than this is left to its admin's explicit check: nobody is publishing
# its record, and looking it up every hour for ever would only load the resolvers.
RECHECK_WINDOW = timedelta(days=30)


@job("sso.recheck_domains")
async def recheck_domains(ctx: JobContext, _payload: dict[str, Any]) -> None:
    """One check per organization holding a claim pending since less than RECHECK_WINDOW."""
    since = clock.now() - RECHECK_WINDOW
    org_ids = (
        await ctx.db.scalars(
            select(SsoDomain.org_id)
            .where(SsoDomain.verified_at.is_(None), SsoDomain.created_at > since)
            .distinct()
        )
    ).all()
    for org_id in org_ids:
        await queue.enqueue(
            ctx.db, "sso.recheck_org_domains", {}, org_id=org_id, key=f"sso.domains:{org_id}"
        )


@job("sso.recheck_org_domains", max_attempts=1)
async def recheck_org_domains(ctx: JobContext, _payload: dict[str, Any]) -> None:
    """The job's organization's pending claims, checked as the verify endpoint checks them;
    only what changes a claim is audited (a failed check every hour would bury the log).
    DNS without an answer changes nothing and is not retried: the next hour's run asks again."""
    if ctx.org_id is None:
        raise PermanentJobError("sso.recheck_org_domains needs the organization of its job row")
    try:
        await service.verify_pending_claims(ctx.db, ctx.settings, ctx.org_id, audit_failures=False)
    except verification.DnsUnavailable as exc:
        raise PermanentJobError(f"SSO domain claims not checked: {exc}") from exc


HOURLY = schedule(
    "sso.recheck_domains.hourly",
    every=timedelta(hours=1),
    job="sso.recheck_domains",
    key="sso.recheck_domains",
)
