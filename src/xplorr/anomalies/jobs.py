"""Anomaly detection jobs: ``anomalies.detect`` after every cost change (a sync, an import)
for the days it changed, and ``anomalies.detect_org`` daily for every organization's last
days (``anomalies.fan_out`` at 06:00 UTC), so a day whose data landed without a change event
(none today) or a detection that failed for good is judged anyway. Both are idempotent
(``service.detect``). New anomalies of the last days, and escalated ones, notify through the hub
(``service.notify_anomalies``)."""

from datetime import timedelta

import structlog

from xplorr.anomalies import service
from xplorr.core.events import subscribe
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job, schedule
from xplorr.core.tenancy import org_scope
from xplorr.costs import query
from xplorr.costs.events import CostDataChanged

log = structlog.get_logger("xplorr.anomalies")

DAILY_DAYS = 3  # the daily run judges the organization's last 3 complete days


@subscribe(CostDataChanged, "anomalies.detect")
async def detect_changed(ctx: JobContext, event: CostDataChanged) -> None:
    """Judge the days a cost change touched (and the organization's total on them)."""
    result = await service.detect(
        ctx.db,
        event.org_id,
        event.first_day,
        event.last_day,
        accounts=frozenset({event.cloud_account_id}),
    )
    await service.notify_anomalies(ctx.db, result.recent)


@job("anomalies.detect_org")
async def detect_org(ctx: JobContext, _payload: dict[str, object]) -> None:
    """Judge the organization's last complete days in every scope."""
    if ctx.org_id is None:
        raise PermanentJobError("anomalies.detect_org needs the job's organization.")
    throughs = await query.data_through_by_account(ctx.db, org_scope(ctx.org_id))
    if not throughs:
        return
    through = max(throughs.values())
    result = await service.detect(
        ctx.db, ctx.org_id, through - timedelta(days=DAILY_DAYS - 1), through
    )
    await service.notify_anomalies(ctx.db, result.recent)


fan_out_per_org("anomalies.fan_out", job="anomalies.detect_org")
schedule("anomalies.daily", job="anomalies.fan_out", cron="0 6 * * *")
