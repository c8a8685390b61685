"""Approval expiry: every day, each organization's requests pending for 14 days become
``expired`` (audited, notified)."""

from xplorr.approvals import service
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job, schedule


@job("approvals.expire_org")
async def expire_org(ctx: JobContext, _payload: dict[str, object]) -> None:
    if ctx.org_id is None:
        raise PermanentJobError("approvals.expire_org needs the job's organization.")
    await service.expire_pending(ctx.db, ctx.org_id)


fan_out_per_org("approvals.fan_out", job="approvals.expire_org")
schedule("approvals.daily", job="approvals.fan_out", cron="0 5 * * *")
