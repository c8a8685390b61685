"""Alert rules: CRUD for admins, and their evaluation.

A rule compares one metric, in the rule's currency only (amounts in other currencies are never
added in), over the org or one cloud account and optionally one service and one region, with
its threshold:

- ``daily_spend``: one day's cost, for the last complete day of data (and, after an import, each
  changed day of the last week up to it); fires at most once per day;
- ``monthly_spend``: the month to date of the last complete day; at most once per month;
- ``forecast``: the month's end-of-period forecast (``costs.forecast``); at most once per month.

A firing is an ``AlertTrigger`` row, unique per (rule, window start): two evaluations racing
(the hourly one and the one after a sync) insert it once, and only the one that inserted it
notifies (``alert_triggered``, to the rule's notifyEmails and its Slack/Teams webhooks; the hub's
event key guards the same occurrence again). Webhook URLs are checked by ``core.egress`` on
create and update (a 422 naming the field) and again when sent, and are stored sealed under the
org's data key; answers show them masked.
"""

import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import structlog
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.alerts.models import (
    SLACK_WEBHOOK,
    TEAMS_WEBHOOK,
    AlertMetric,
    AlertRule,
    AlertTrigger,
)
from xplorr.alerts.schemas import AlertRuleCreate, AlertRuleOut, AlertRuleUpdate, AlertTriggerOut
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, money
from xplorr.core.db import is_postgres
from xplorr.core.errors import Conflict, ValidationFailed
from xplorr.core.jobs import queue
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.secrets import SealedColumn
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_scope, org_select
from xplorr.costs import forecast as costs_forecast
from xplorr.costs import query as costs
from xplorr.notifications import EmailTarget, WebhookTarget, notify, webhooks
from xplorr.notifications.events import AlertTriggered
from xplorr.notifications.models import Channel

log = structlog.get_logger("xplorr.alerts")

EVALUATE_RULE_JOB = "alerts.evaluate_rule"
WEBHOOK_SOURCE = "alert_rule"
RECENT_TRIGGERS = 10
DAILY_LOOKBACK_DAYS = 7  # after an import, changed days older than this do not fire


# -- webhooks ------------------------------------------------------------------------------------

_WEBHOOKS: dict[Channel, tuple[str, SealedColumn, str]] = {
    # channel -> (body field, sealed column, hint attribute)
    Channel.SLACK: ("slackWebhookUrl", SLACK_WEBHOOK, "slack_webhook_hint"),
    Channel.TEAMS: ("teamsWebhookUrl", TEAMS_WEBHOOK, "teams_webhook_hint"),
}


async def _set_webhook(
    db: AsyncSession, settings: Settings, rule: AlertRule, channel: Channel, url: str | None
) -> None:
    field, column, hint = _WEBHOOKS[channel]
    await webhooks.store(db, settings, rule, channel, url, field=field, column=column, hint=hint)


async def webhook_url(
    db: AsyncSession, settings: Settings, org_id: uuid.UUID, rule_id: uuid.UUID, channel: Channel
) -> str | None:
    """The hub's resolver (``WebhookTarget(source="alert_rule")``): the rule's URL for
    ``channel`` now, or None once the rule or that webhook is gone."""
    rule = await db.scalar(org_select(AlertRule, org_scope(org_id)).where(AlertRule.id == rule_id))
    if rule is None or channel not in _WEBHOOKS:
        return None
    return await webhooks.read(db, settings, rule, _WEBHOOKS[channel][1])


# -- answers -------------------------------------------------------------------------------------


async def _triggers(
    db: AsyncSession, org_id: uuid.UUID, rule_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[AlertTrigger]]:
    found: dict[uuid.UUID, list[AlertTrigger]] = defaultdict(list)
    if not rule_ids:
        return found
    rows = await db.scalars(
        org_select(AlertTrigger, org_scope(org_id))
        .where(AlertTrigger.rule_id.in_(rule_ids))
        .order_by(AlertTrigger.rule_id, AlertTrigger.triggered_at.desc())
    )
    for row in rows:
        if len(found[row.rule_id]) < RECENT_TRIGGERS:
            found[row.rule_id].append(row)
    return found


def _out(rule: AlertRule, triggers: list[AlertTrigger]) -> AlertRuleOut:
    r = money.round_money
    return AlertRuleOut(
        id=rule.id,
        name=rule.name,
        metric=rule.metric,
        condition_op=rule.condition_op,
        threshold=r(rule.threshold, rule.currency),
        currency=rule.currency,
        notify_emails=list(rule.notify_emails),
        service_filter=rule.service_filter,
        region_filter=rule.region_filter,
        cloud_account_id=rule.cloud_account_id,
        slack_webhook_url=rule.slack_webhook_hint,
        teams_webhook_url=rule.teams_webhook_hint,
        enabled=rule.enabled,
        last_triggered_at=rule.last_triggered_at,
        last_evaluated_at=rule.last_evaluated_at,
        recent_triggers=[
            AlertTriggerOut(
                window_start=t.window_start,
                window_end=t.window_end,
                value=r(t.value, t.currency),
                threshold=r(t.threshold, t.currency),
                currency=t.currency,
                triggered_at=t.triggered_at,
            )
            for t in triggers
        ],
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


async def to_out(db: AsyncSession, rule: AlertRule) -> AlertRuleOut:
    return _out(rule, (await _triggers(db, rule.org_id, [rule.id]))[rule.id])


# -- CRUD ----------------------------------------------------------------------------------------


async def list_rules(db: AsyncSession, who: Principal, page: PageParams) -> Page[AlertRuleOut]:
    """The org's rules (a member limited to some accounts sees those accounts' rules)."""
    stmt = org_select(AlertRule, who).order_by(AlertRule.created_at, AlertRule.id)
    found = await paginate(db, stmt, page, lambda rule: rule)
    triggers = await _triggers(db, who.org_id, [rule.id for rule in found.data])
    return Page(
        data=[_out(rule, triggers[rule.id]) for rule in found.data],
        total=found.total,
        page=found.page,
        limit=found.limit,
    )


async def get_rule(db: AsyncSession, who: Principal, rule_id: uuid.UUID) -> AlertRuleOut:
    return await to_out(db, await get_in_org(db, AlertRule, rule_id, who))


async def _flush_named(db: AsyncSession, rule: AlertRule) -> None:
    try:
        async with db.begin_nested():
            db.add(rule)
            await db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"An alert rule named '{rule.name}' already exists.", code="ALERT_RULE_EXISTS"
        ) from exc


async def create_rule(
    db: AsyncSession, settings: Settings, who: Principal, data: AlertRuleCreate
) -> AlertRuleOut:
    """Admins create rules. Without notifyEmails and webhooks, the creator is emailed."""
    if data.cloud_account_id is not None:
        await get_in_org(db, CloudAccount, data.cloud_account_id, who)
    rule = AlertRule(
        id=uuid.uuid4(),
        org_id=who.org_id,
        name=data.name,
        metric=data.metric,
        condition_op=data.condition_op,
        threshold=data.threshold,
        currency=data.currency,
        notify_emails=list(data.notify_emails),
        service_filter=data.service_filter,
        region_filter=data.region_filter,
        cloud_account_id=data.cloud_account_id,
        enabled=data.enabled,
        created_by=who.user_id,
    )
    await _set_webhook(db, settings, rule, Channel.SLACK, data.slack_webhook_url)
    await _set_webhook(db, settings, rule, Channel.TEAMS, data.teams_webhook_url)
    if not rule.notify_emails and data.slack_webhook_url is None and data.teams_webhook_url is None:
        rule.notify_emails = [who.email]
    await _flush_named(db, rule)
    await audit.record(
        db,
        "alert_rule.created",
        who=who,
        target=rule,
        details={"metric": rule.metric.value, "cloud_account_id": rule.cloud_account_id},
    )
    await queue.enqueue(db, EVALUATE_RULE_JOB, {"rule_id": str(rule.id)}, org_id=who.org_id)
    return await to_out(db, rule)


async def update_rule(
    db: AsyncSession,
    settings: Settings,
    who: Principal,
    rule_id: uuid.UUID,
    data: AlertRuleUpdate,
) -> AlertRuleOut:
    rule = await get_in_org(db, AlertRule, rule_id, who, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "metric", "condition_op", "threshold", "currency", "enabled"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.on(
                AlertRuleUpdate.model_fields[required].alias or required, "is required"
            )
    if changes.get("cloud_account_id") is not None:
        await get_in_org(db, CloudAccount, changes["cloud_account_id"], who)
    for channel, key in (
        (Channel.SLACK, "slack_webhook_url"),
        (Channel.TEAMS, "teams_webhook_url"),
    ):
        if key in changes:
            await _set_webhook(db, settings, rule, channel, changes.pop(key))
    if "notify_emails" in changes and changes["notify_emails"] is None:
        changes["notify_emails"] = []
    for field, value in changes.items():
        setattr(rule, field, value)
    await _flush_named(db, rule)
    await audit.record(
        db,
        "alert_rule.updated",
        who=who,
        target=rule,
        details={"fields": sorted(data.model_dump(exclude_unset=True, by_alias=True))},
    )
    await queue.enqueue(db, EVALUATE_RULE_JOB, {"rule_id": str(rule.id)}, org_id=who.org_id)
    return await to_out(db, rule)


async def delete_rule(db: AsyncSession, who: Principal, rule_id: uuid.UUID) -> None:
    rule = await get_in_org(db, AlertRule, rule_id, who, for_update=True)
    await audit.record(db, "alert_rule.deleted", who=who, target=rule)
    await db.execute(delete(AlertTrigger).where(AlertTrigger.rule_id == rule.id))
    await db.delete(rule)
    await db.flush()


# -- evaluation ----------------------------------------------------------------------------------


def _query(rule: AlertRule, start: date, end: date) -> costs.CostQuery:
    return costs.CostQuery(
        start=start,
        end=end,
        account_ids=frozenset({rule.cloud_account_id}) if rule.cloud_account_id else None,
        services=frozenset({rule.service_filter}) if rule.service_filter else None,
        regions=frozenset({rule.region_filter}) if rule.region_filter else None,
        currency=rule.currency,
    )


async def _measure(
    db: AsyncSession, scope: Scope, rule: AlertRule, through: date, days: list[date]
) -> list[tuple[date, date, Decimal]]:
    """(window start, window end, value) of each window the rule looks at."""
    if rule.metric == AlertMetric.DAILY_SPEND:
        windows = []
        for day in days:
            totals = await costs.totals_by_currency(db, scope, _query(rule, day, day))
            windows.append((day, day, totals.get(rule.currency, money.ZERO)))
        return windows
    start, end = costs_forecast.period_bounds(costs_forecast.Period.MONTHLY, through)
    if rule.metric == AlertMetric.MONTHLY_SPEND:
        mtd = await costs.month_to_date(db, scope, _query(rule, start, through), through)
        if mtd.through is None:
            return []
        return [(start, end, mtd.totals.get(rule.currency, money.ZERO))]
    projected = await costs_forecast.forecast(
        db,
        scope,
        _query(rule, start, through),
        period=costs_forecast.Period.MONTHLY,
        as_of=through,
    )
    found = projected.get(rule.currency)
    if found is None:
        return []
    return [(start, end, found.forecast)]


async def _record_trigger(
    db: AsyncSession, rule: AlertRule, window: tuple[date, date, Decimal]
) -> bool:
    """Insert the firing unless this window already fired. -> whether this call inserted it."""
    start, end, value = window
    insert = pg_insert if is_postgres(db) else sqlite_insert
    now = clock.now()
    stmt = (
        insert(AlertTrigger)
        .values(
            id=uuid.uuid4(),
            org_id=rule.org_id,
            rule_id=rule.id,
            window_start=start,
            window_end=end,
            value=value,
            threshold=rule.threshold,
            currency=rule.currency,
            triggered_at=now,
        )
        .on_conflict_do_nothing(index_elements=["rule_id", "window_start"])
        .returning(AlertTrigger.id)
    )
    return (await db.execute(stmt)).scalar() is not None


def _targets(rule: AlertRule) -> list[EmailTarget | WebhookTarget]:
    found: list[EmailTarget | WebhookTarget] = [EmailTarget(e) for e in rule.notify_emails]
    for channel, (_field, column, _hint) in _WEBHOOKS.items():
        if getattr(rule, column.ciphertext) is not None:
            found.append(WebhookTarget(channel, WEBHOOK_SOURCE, rule.id))
    return found


async def evaluate_rule(
    db: AsyncSession, rule: AlertRule, *, changed: tuple[date, date] | None = None
) -> int:
    """Evaluate one rule now; ``changed``: the days an import replaced (daily rules then look at
    those of the last week of data too). -> the number of new firings."""
    scope = org_scope(rule.org_id)
    accounts = [rule.cloud_account_id] if rule.cloud_account_id else None
    through = await costs.data_through(db, scope, accounts)
    rule.last_evaluated_at = clock.now()
    if through is None or not rule.enabled:
        return 0
    days = [through]
    if changed is not None and rule.metric == AlertMetric.DAILY_SPEND:
        first = max(changed[0], through - timedelta(days=DAILY_LOOKBACK_DAYS - 1))
        last = min(changed[1], through)
        days = sorted(
            {through, *(first + timedelta(days=i) for i in range((last - first).days + 1))}
        )
    fired = 0
    for window in await _measure(db, scope, rule, through, days):
        if not rule.condition_op.holds(window[2], rule.threshold):
            continue
        if not await _record_trigger(db, rule, window):
            continue
        fired += 1
        rule.last_triggered_at = clock.now()
        await notify(
            db,
            AlertTriggered(
                org_id=rule.org_id,
                cloud_account_id=rule.cloud_account_id,
                rule_id=rule.id,
                rule_name=rule.name,
                metric=rule.metric.value,
                condition_op=rule.condition_op.value,
                threshold=rule.threshold,
                value=window[2],
                currency=rule.currency,
                window_start=window[0],
                window_end=window[1],
                service_filter=rule.service_filter,
                region_filter=rule.region_filter,
            ),
            targets=_targets(rule),
        )
        log.info("alert_triggered", rule=str(rule.id), window=window[0].isoformat())
    return fired


async def evaluate_org(
    db: AsyncSession,
    org_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    changed: tuple[date, date] | None = None,
) -> int:
    """Every enabled rule of the org (``account_id``: those over that account or org-wide),
    each under its row lock. -> new firings."""
    stmt = org_select(AlertRule, org_scope(org_id)).where(AlertRule.enabled.is_(True))
    if account_id is not None:
        stmt = stmt.where(
            (AlertRule.cloud_account_id == account_id) | AlertRule.cloud_account_id.is_(None)
        )
    rules = (await db.scalars(stmt.order_by(AlertRule.id).with_for_update())).all()
    fired = 0
    for rule in rules:
        fired += await evaluate_rule(db, rule, changed=changed)
    return fired
