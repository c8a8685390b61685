"""Alert evaluation jobs: after every cost change (``CostDataChanged``), hourly per org, and
once when a rule is created or changed. Each is idempotent (a firing is unique per rule and
window); the hub's webhook resolver for rules is registered here."""

import uuid
from datetime import timedelta
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import Select, select

from xplorr.alerts import service
from xplorr.alerts.models import AlertRule
from xplorr.core.events import subscribe
from xplorr.core.jobs.periodic import fan_out_per_org
from xplorr.core.jobs.registry import JobContext, job, schedule
from xplorr.core.tenancy import org_scope, org_select
from xplorr.costs.events import CostDataChanged
from xplorr.notifications.hub import webhook_source

log = structlog.get_logger("xplorr.alerts")

webhook_source(service.WEBHOOK_SOURCE)(service.webhook_url)


class RulePayload(BaseModel):
    rule_id: uuid.UUID


@subscribe(CostDataChanged, "alerts.evaluate_changed")
async def evaluate_changed(ctx: JobContext, event: CostDataChanged) -> None:
    """The rules over the changed account (and org-wide ones), for the changed days."""
    assert ctx.org_id is not None
    fired = await service.evaluate_org(
        ctx.db,
        ctx.org_id,
        account_id=event.cloud_account_id,
        changed=(event.first_day, event.last_day),
    )
    log.info("alerts_evaluated", org=str(ctx.org_id), trigger="cost_change", fired=fired)


@job(service.EVALUATE_RULE_JOB)
async def evaluate_rule(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One rule, just created or changed."""
    assert ctx.org_id is not None
    p = RulePayload.model_validate(payload)
    rule = await ctx.db.scalar(
        org_select(AlertRule, org_scope(ctx.org_id))
        .where(AlertRule.id == p.rule_id)
        .with_for_update()
    )
    if rule is not None:
        await service.evaluate_rule(ctx.db, rule)


@job("alerts.evaluate_org")
async def evaluate_org(ctx: JobContext, _payload: dict[str, Any]) -> None:
    assert ctx.org_id is not None
    fired = await service.evaluate_org(ctx.db, ctx.org_id)
    log.info("alerts_evaluated", org=str(ctx.org_id), trigger="schedule", fired=fired)


def orgs_with_rules() -> Select[uuid.UUID]:
    return select(AlertRule.org_id).where(AlertRule.enabled.is_(True)).distinct()


FAN_OUT = fan_out_per_org("alerts.evaluate_all", job="alerts.evaluate_org", orgs=orgs_with_rules)
SCHEDULE = schedule(
    "alerts.schedule_all", every=timedelta(hours=1), job="alerts.evaluate_all", key="alerts.all"
)
