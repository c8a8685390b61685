"""Budget evaluation: ``budgets.evaluate`` after every cost change (the budgets that account's
costs count in), ``budgets.evaluate_org`` when a budget is created or changed and daily for
every organization (``budgets.fan_out`` at 06:15 UTC: a period turns over, a forecast moves
with the calendar). Idempotent: each alert fires once per budget, kind and period
(``service.evaluate``)."""

import structlog

from xplorr.budgets import service
from xplorr.core.events import subscribe
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job, schedule
from xplorr.costs.events import CostDataChanged

log = structlog.get_logger("xplorr.budgets")


@subscribe(CostDataChanged, "budgets.evaluate")
async def evaluate_changed(ctx: JobContext, event: CostDataChanged) -> None:
    """Evaluate the budgets an account's cost change counts in."""
    fired = await service.evaluate(ctx.db, event.org_id, account_id=event.cloud_account_id)
    await service.notify_fired(ctx.db, fired)


@job("budgets.evaluate_org")
async def evaluate_org(ctx: JobContext, _payload: dict[str, object]) -> None:
    """Evaluate every budget of the organization."""
    if ctx.org_id is None:
        raise PermanentJobError("budgets.evaluate_org needs the job's organization.")
    fired = await service.evaluate(ctx.db, ctx.org_id)
    await service.notify_fired(ctx.db, fired)


fan_out_per_org("budgets.fan_out", job="budgets.evaluate_org")
schedule("budgets.daily", job="budgets.fan_out", cron="15 6 * * *")
