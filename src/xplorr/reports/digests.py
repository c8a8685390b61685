"""Daily digests (product-notes.md section 25): CRUD of the digest schedules, the digest's
content, and the send of one slot (the ``reports.send_digest`` job).

Content, per currency (never added together), for *yesterday* in the schedule's time zone:
yesterday's spend against the mean of the 7 days before it (percent and an arrow), the top 5
services of the month to date with their change against the same days of the previous month,
and the month's forecast (``costs.forecast``); then the sections other areas register
(``core.report_sections``: new anomalies, open recommendations) for yesterday; each budget's
usage as of yesterday (a bar of its spend against its amount) and its forecast for the
period's end against the amount (``budgets.service.visible_statuses``, drawn in place of the
budgets section's counts);
then, per recipient, the low-severity notifications held for their digest instead of sent one
by one (``notifications.batching``; section 11: "Low => batched into the daily digest").
All read through ``costs.query`` as the schedule's creator as they are now; a deactivated
creator's digests stop (as scheduled reports do, ``reports.scheduling``). Once per slot
(``last_slot_at``), through the email outbox, each send audited. Also the open recommendations
(``recommendations.service.open_recommendations``): per currency their count, potential
monthly savings and the largest ones.

A digest's destination is its email ``recipients`` or one chat channel of the org
(``channel_id``, a ``/channels`` row): a channel digest is posted as ``DailyDigest`` events
(one per currency) through the notification hub to that channel only, sent by the channel
router's sender (the Slack bot, Microsoft Graph). A deleted channel stops the digest
(``enabled`` false, ``last_error`` = ``CHANNEL_GONE``, audited). A channel that is the
destination of an enabled digest setting gets no other daily digest (``reports.chat``).
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.budgets import service as budgets
from xplorr.channels import routing
from xplorr.channels.models import ChannelConfig, ChatProvider
from xplorr.core import audit, clock, email, money
from xplorr.core.errors import ValidationFailed
from xplorr.core.jobs import cron as crontab
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.report_sections import ReportScope, Section, build_sections
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_scope, org_select
from xplorr.costs import forecast as forecasting
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Dim
from xplorr.notifications import batching, notify
from xplorr.notifications.events import (
    BudgetUsage,
    DailyDigest,
    RecommendationSaving,
    ServiceSpend,
    Severity,
)
from xplorr.notifications.hub import WebhookTarget
from xplorr.notifications.models import Channel
from xplorr.recommendations import service as recommendations
from xplorr.recommendations import totals as recommendation_totals
from xplorr.reports.formatting import amount, cell, percent, share
from xplorr.reports.models import DigestSetting
from xplorr.reports.scheduling import OWNER_GONE
from xplorr.reports.schemas import DigestSettingCreate, DigestSettingOut, DigestSettingUpdate
from xplorr.reports.service import org_name_of
from xplorr.settings import service as org_settings
from xplorr.users.principals import principal_for_user

ZERO: Final = Decimal(0)
PERCENT: Final = Decimal("0.01")
TOP_SERVICES: Final = 5
AVERAGE_DAYS: Final = 7
TOP_RECOMMENDATIONS: Final = 5
# The report section of the same name (``recommendations.report_sections``) says what the
# digest's own per-currency list says: the digest shows its list, not the section again.
RECOMMENDATIONS_SECTION: Final = "recommendations"
# Likewise the budgets section: the digest draws each budget's usage bar instead.
BUDGETS_SECTION: Final = "budgets"
OWN_SECTIONS: Final = frozenset({RECOMMENDATIONS_SECTION, BUDGETS_SECTION})
BAR_WIDTH: Final = 20  # characters of a text usage bar
EMAIL, CHANNEL = "email", "channel"
CHANNEL_GONE: Final = "The digest's channel was deleted: choose another channel to resume it."
_CHAT_CHANNEL: Final = {ChatProvider.SLACK: Channel.SLACK, ChatProvider.TEAMS: Channel.TEAMS}
_SEVERITIES: Final = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


@dataclass(frozen=True, slots=True)
class ServiceLine:
    name: str
    month_to_date: Decimal
    previous_month_same_days: Decimal
    change_percent: Decimal | None


@dataclass(frozen=True, slots=True)
class CurrencyDigest:
    currency: str
    yesterday: Decimal
    average_7_days: Decimal
    change_percent: Decimal | None
    arrow: str  # ↑ ↓ →
    top_services: tuple[ServiceLine, ...]
    forecast: Decimal | None  # end of the month holding yesterday


@dataclass(frozen=True, slots=True)
class RecommendationLine:
    title: str
    monthly_savings: Decimal


@dataclass(frozen=True, slots=True)
class OpenRecommendations:
    """The open recommendations of one currency: count, potential monthly savings (overlapping
    ones counted once: ``recommendations.totals``), largest."""

    currency: str
    count: int
    monthly_savings: Decimal
    largest: tuple[RecommendationLine, ...]


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One budget as the digests show it, in its own currency: spend against the amount (the
    usage bar) and the forecast for the period's end against the amount."""

    name: str
    currency: str
    period: str
    period_end: date
    amount: Decimal
    spent: Decimal
    percent_used: Decimal
    forecast: Decimal | None
    standing: str  # Over budget | Projected over | On track

    @property
    def forecast_percent(self) -> Decimal | None:
        if self.forecast is None:
            return None
        return _percent(self.forecast, self.amount)

    def usage(self) -> BudgetUsage:
        return BudgetUsage(
            name=self.name,
            amount=self.amount,
            spent=self.spent,
            percent_used=self.percent_used,
            forecast=self.forecast,
            period_end=self.period_end,
            standing=self.standing,
        )


async def budget_lines(db: AsyncSession, who: Scope, as_of: date) -> tuple[BudgetLine, ...]:
    """The budgets ``who`` sees, by name, as of ``as_of`` (``budgets.service``)."""
    r = money.round_money
    return tuple(
        BudgetLine(
            name=s.budget.name,
            currency=s.budget.currency,
            period=s.budget.period.value,
            period_end=s.period_end,
            amount=r(s.budget.amount, s.budget.currency),
            spent=r(s.spend, s.budget.currency),
            percent_used=s.percent_used,
            forecast=None if s.forecast is None else r(s.forecast.forecast, s.budget.currency),
            standing=s.standing,
        )
        for s in await budgets.visible_statuses(db, who, as_of)
    )


def text_bar(percent_used: Decimal) -> str:
    """``[#####...............]``: the share used of ``BAR_WIDTH`` characters (full past 100 %)."""
    filled = min(BAR_WIDTH, max(0, int(percent_used * BAR_WIDTH / 100)))
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def budget_context(lines: Sequence[BudgetLine]) -> list[dict[str, Any]]:
    """The budgets as the email templates draw them (text bar, HTML bar width and colour)."""
    out = []
    for b in lines:
        used = b.percent_used
        colour = "#16a34a" if used < 80 else "#d97706" if used < 100 else "#dc2626"
        forecast_note = None
        if b.forecast is not None:
            gap = b.forecast - b.amount
            side = "over" if gap > 0 else "under"
            forecast_note = (
                f"forecast {amount(b.forecast, b.currency)} by {b.period_end.isoformat()}, "
                f"{share(b.forecast_percent or ZERO)} of the budget "
                f"({amount(abs(gap), b.currency)} {side})"
            )
        out.append(
            {
                "name": b.name,
                "currency": b.currency,
                "period": b.period,
                "amount": amount(b.amount, b.currency),
                "spent": amount(b.spent, b.currency),
                "used": share(used),
                "bar": text_bar(used),
                "width": min(100, max(0, int(used))),
                "colour": colour,
                "forecast": forecast_note,
                "standing": b.standing,
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    currencies: tuple[CurrencyDigest, ...]
    sections: tuple[Section, ...]
    recommendations: tuple[OpenRecommendations, ...] = ()
    budgets: tuple[BudgetLine, ...] = ()

    def recommendations_in(self, currency: str) -> OpenRecommendations | None:
        return next((r for r in self.recommendations if r.currency == currency), None)

    def budgets_in(self, currency: str) -> tuple[BudgetLine, ...]:
        return tuple(b for b in self.budgets if b.currency == currency)

    @property
    def budget_counts(self) -> dict[str, int]:
        """How many budgets are over, projected over and on track (the templates' keys)."""
        keys = {budgets.OVER: "over", budgets.PROJECTED: "projected", budgets.ON_TRACK: "on_track"}
        counts = dict.fromkeys(keys.values(), 0)
        for b in self.budgets:
            counts[keys[b.standing]] += 1
        return counts


async def open_recommendations(db: AsyncSession, who: Scope) -> tuple[OpenRecommendations, ...]:
    """The open (not snoozed) recommendations ``who`` sees, per currency (never added across)."""
    rows = await recommendations.open_recommendations(db, who, limit=None)
    together = recommendation_totals.monthly_savings(rows)  # overlapping ones counted once
    by: dict[str, list[RecommendationLine]] = defaultdict(list)
    for rec in rows:
        by[rec.currency].append(RecommendationLine(rec.title, rec.estimated_monthly_savings))
    out = []
    for cur in sorted(by):
        lines = sorted(by[cur], key=lambda line: -line.monthly_savings)
        out.append(
            OpenRecommendations(
                currency=cur,
                count=len(lines),
                monthly_savings=together[cur],
                largest=tuple(
                    RecommendationLine(x.title, money.round_money(x.monthly_savings, cur))
                    for x in lines[:TOP_RECOMMENDATIONS]
                ),
            )
        )
    return tuple(out)


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == ZERO:
        return None
    return (part * 100 / whole).quantize(PERCENT, rounding=ROUND_HALF_UP)


def _arrow(change: Decimal | None) -> str:
    if change is None or change == ZERO:
        return "→"
    return "↑" if change > ZERO else "↓"


def _same_days_last_month(day: date) -> tuple[date, date]:
    """The previous month's days 1..day.day (clipped to that month's length)."""
    last_of_previous = day.replace(day=1) - timedelta(days=1)
    return last_of_previous.replace(day=1), last_of_previous.replace(
        day=min(day.day, last_of_previous.day)
    )


async def build_digest(db: AsyncSession, who: Scope, day: date) -> Digest:
    """The digest of ``day`` (yesterday at send time) for ``who``."""
    window_start = day - timedelta(days=AVERAGE_DAYS)
    daily = await query.aggregate(db, who, CostQuery(window_start, day, group_by=(Dim.DATE,)))
    yesterday: dict[str, Decimal] = defaultdict(Decimal)
    before: dict[str, Decimal] = defaultdict(Decimal)
    for g in daily:
        if g.key[0] == day:
            yesterday[g.currency] += g.cost
        else:
            before[g.currency] += g.cost
    month_start = day.replace(day=1)
    prev_start, prev_end = _same_days_last_month(day)
    mtd = await query.aggregate(db, who, CostQuery(month_start, day, group_by=(Dim.SERVICE,)))
    prev = await query.aggregate(db, who, CostQuery(prev_start, prev_end, group_by=(Dim.SERVICE,)))
    prev_by = {(g.names[0], g.currency): g.cost for g in prev}
    forecasts = await forecasting.forecast(
        db, who, CostQuery(month_start, day), period=forecasting.Period.MONTHLY, as_of=day
    )
    lines = await budget_lines(db, who, day)
    # A budget's currency gets its block even without spend (zeros): its bar must show.
    currencies = sorted(
        set(yesterday) | set(before) | {g.currency for g in mtd} | {b.currency for b in lines}
    )
    out = []
    r = money.round_money
    for cur in currencies:
        average = before.get(cur, ZERO) / AVERAGE_DAYS
        change = _percent(yesterday.get(cur, ZERO) - average, abs(average))
        services = sorted((g for g in mtd if g.currency == cur), key=lambda g: -g.cost)
        top = tuple(
            ServiceLine(
                name=g.names[0],
                month_to_date=r(g.cost, cur),
                previous_month_same_days=r(prev_by.get((g.names[0], cur), ZERO), cur),
                change_percent=_percent(
                    g.cost - prev_by.get((g.names[0], cur), ZERO),
                    abs(prev_by.get((g.names[0], cur), ZERO)),
                ),
            )
            for g in services[:TOP_SERVICES]
        )
        fc = forecasts.get(cur)
        out.append(
            CurrencyDigest(
                currency=cur,
                yesterday=r(yesterday.get(cur, ZERO), cur),
                average_7_days=r(average, cur),
                change_percent=change,
                arrow=_arrow(change),
                top_services=top,
                forecast=None if fc is None else r(fc.forecast, cur),
            )
        )
    sections = await build_sections(db, ReportScope(who=who, start=day, end=day))
    return Digest(
        day=day,
        currencies=tuple(out),
        sections=tuple(sections),
        recommendations=await open_recommendations(db, who),
        budgets=lines,
    )


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


# --- CRUD ---------------------------------------------------------------------------------------


def _out(row: DigestSetting) -> DigestSettingOut:
    return DigestSettingOut.model_validate(row)


async def _channel_of(db: AsyncSession, who: Principal, channel_id: uuid.UUID) -> ChannelConfig:
    """The org's channel (404 for another org's or an unknown id, as every reference is)."""
    return await get_in_org(db, ChannelConfig, channel_id, who)


def _recipients(values: Sequence[object]) -> list[str]:
    return list(dict.fromkeys(str(v).strip().lower() for v in values))


def _apply_schedule(row: DigestSetting) -> None:
    row.cron = f"{row.minute} {row.hour} * * *"
    crontab.check(row.cron, row.timezone)
    if row.enabled:
        row.reschedule()
    else:
        row.next_run_at = None


async def list_digests(
    db: AsyncSession, who: Principal, params: PageParams
) -> Page[DigestSettingOut]:
    stmt = org_select(DigestSetting, who).order_by(DigestSetting.created_at, DigestSetting.id)
    return await paginate(db, stmt, params, _out)


async def create_digest(
    db: AsyncSession, who: Principal, data: DigestSettingCreate
) -> DigestSettingOut:
    org = await org_settings.get_org_settings(db, who.org_id)
    if data.channel_id is not None:
        await _channel_of(db, who, data.channel_id)
    row = DigestSetting(
        id=uuid.uuid4(),
        org_id=who.org_id,
        recipients=_recipients(data.recipients),
        destination=EMAIL if data.channel_id is None else CHANNEL,
        channel_config_id=data.channel_id,
        hour=org.digest_hour if data.hour is None else data.hour,
        minute=org.digest_minute if data.minute is None else data.minute,
        timezone=data.timezone or org.timezone,
        enabled=data.enabled,
        created_by=who.user_id,
    )
    _apply_schedule(row)
    db.add(row)
    await db.flush()
    await audit.record(
        db,
        "digest_setting.created",
        who=who,
        target=row,
        details={"recipients": row.recipients, "channel_id": _text(row.channel_config_id)},
    )
    return _out(row)


async def update_digest(
    db: AsyncSession, who: Principal, digest_id: uuid.UUID, data: DigestSettingUpdate
) -> DigestSettingOut:
    row = await get_in_org(db, DigestSetting, digest_id, who, for_update=True)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "recipients" in changes:
        if row.destination == CHANNEL:
            raise ValidationFailed.on("recipients", "This digest goes to a channel.")
        changes["recipients"] = _recipients(changes["recipients"])
    if "channel_id" in changes:
        if row.destination != CHANNEL:
            raise ValidationFailed.on("channel_id", "This digest goes to email recipients.")
        await _channel_of(db, who, changes["channel_id"])
        row.channel_config_id = changes.pop("channel_id")
        changes["channel_id"] = str(row.channel_config_id)
        if row.last_error == CHANNEL_GONE:
            row.last_error = None
    elif row.destination == CHANNEL and row.channel_config_id is None and changes.get("enabled"):
        raise ValidationFailed.on("enabled", "The digest's channel was deleted: set channel_id.")
    for key, value in changes.items():
        if key != "channel_id":
            setattr(row, key, value)
    owner = None
    if row.created_by is not None:
        owner = await principal_for_user(db, row.created_by, org_id=row.org_id)
    if owner is None:
        row.created_by = who.user_id
        changes["created_by"] = str(who.user_id)
    if row.enabled and row.last_error == OWNER_GONE:
        row.last_error = None
    if not row.enabled:
        await db.flush()
        await _release_held(db, who.org_id, row.recipients)
    _apply_schedule(row)
    row.updated_at = clock.now()
    await audit.record(db, "digest_setting.updated", who=who, target=row, details=changes)
    return _out(row)


async def delete_digest(db: AsyncSession, who: Principal, digest_id: uuid.UUID) -> None:
    row = await get_in_org(db, DigestSetting, digest_id, who, for_update=True)
    await audit.record(db, "digest_setting.deleted", who=who, target=row)
    await db.delete(row)
    await db.flush()
    await _release_held(db, who.org_id, row.recipients)


# --- sending ------------------------------------------------------------------------------------


def _context(digest: Digest, org_name: str, settings: Settings) -> dict[str, Any]:
    return {
        "day": digest.day.isoformat(),
        "org_name": org_name,
        "currencies": [
            {
                "currency": c.currency,
                "yesterday": amount(c.yesterday, c.currency),
                "average": amount(c.average_7_days, c.currency),
                "change": percent(c.change_percent),
                "arrow": c.arrow,
                "forecast": None if c.forecast is None else amount(c.forecast, c.currency),
                "services": [
                    {
                        "name": s.name,
                        "cost": amount(s.month_to_date, c.currency),
                        "change": percent(s.change_percent),
                    }
                    for s in c.top_services
                ],
            }
            for c in digest.currencies
        ],
        "sections": [
            {
                "title": s.title,
                "figures": [
                    {"label": f.label, "value": cell(f.value, f.kind, f.currency)}
                    for f in s.figures
                ],
            }
            for s in digest.sections
            if s.key not in OWN_SECTIONS
        ],
        "budgets": budget_context(digest.budgets),
        "budget_counts": digest.budget_counts,
        "recommendations": [
            {
                "currency": r.currency,
                "count": r.count,
                "savings": amount(r.monthly_savings, r.currency),
                "largest": [
                    {"title": x.title, "savings": amount(x.monthly_savings, r.currency)}
                    for x in r.largest
                ],
            }
            for r in digest.recommendations
        ],
        "link": email.link(settings, "/"),
    }


def anomaly_summary(sections: tuple[Section, ...]) -> tuple[int, Severity | None]:
    """The anomalies section's count and highest severity (0, None without the section)."""
    for section in sections:
        if section.key != "anomalies":
            continue
        figures = {f.label: f.value for f in section.figures}
        count = figures.get("Anomalies")
        worst = next(
            (
                s
                for s in _SEVERITIES
                if isinstance(v := figures.get(s.value.capitalize()), int) and v
            ),
            None,
        )
        return (count if isinstance(count, int) else 0), worst
    return 0, None


def chat_events(org_id: uuid.UUID, digest: Digest) -> list[DailyDigest]:
    """The digest as chat events, one per currency (never added together)."""
    count, worst = anomaly_summary(digest.sections)
    events = []
    for c in digest.currencies:
        recs = digest.recommendations_in(c.currency)
        events.append(
            DailyDigest(
                org_id=org_id,
                day=digest.day,
                currency=c.currency,
                yesterday=c.yesterday,
                average_7_days=c.average_7_days,
                change_percent=c.change_percent,
                top_services=tuple(
                    ServiceSpend(
                        service=s.name, amount=s.month_to_date, previous=s.previous_month_same_days
                    )
                    for s in c.top_services
                ),
                forecast=c.forecast,
                new_anomalies=count,
                highest_severity=worst,
                open_recommendations=0 if recs is None else recs.count,
                potential_savings=None if recs is None else recs.monthly_savings,
                top_recommendations=()
                if recs is None
                else tuple(
                    RecommendationSaving(title=x.title, monthly_savings=x.monthly_savings)
                    for x in recs.largest
                ),
                budgets=tuple(b.usage() for b in digest.budgets_in(c.currency)),
            )
        )
    return events


async def post_to_channel(
    db: AsyncSession, org_id: uuid.UUID, channel: ChannelConfig, digest: Digest
) -> list[str]:
    """Queue the digest for one channel through the hub (its sender: the channel's bot).
    The hub's event key (day, currency) per channel target keeps a retried or repeated post
    from going twice. -> the currencies posted."""
    target = WebhookTarget(_CHAT_CHANNEL[channel.provider], routing.SOURCE, channel.id, routed=True)
    for event in chat_events(org_id, digest):
        await notify(db, event, targets=[target])
    return [c.currency for c in digest.currencies]


async def channel_destinations(db: AsyncSession, org_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The channels an enabled digest setting of the org posts to (they get no other digest)."""
    rows = await db.scalars(
        org_select(DigestSetting, org_scope(org_id))
        .where(DigestSetting.enabled.is_(True), DigestSetting.channel_config_id.is_not(None))
        .with_only_columns(DigestSetting.channel_config_id)
    )
    return frozenset(r for r in rows.all() if r is not None)


async def send_digest_slot(
    db: AsyncSession, settings: Settings, org_id: uuid.UUID, digest_id: uuid.UUID, due_at: datetime
) -> bool:
    """Send the slot ``due_at`` of one digest schedule, once. -> whether mail was queued."""
    scope = org_scope(org_id)
    row = await get_or_none(db, scope, digest_id)
    if row is None or not row.enabled:
        return False
    if row.last_slot_at is not None and row.last_slot_at >= due_at:
        return False
    owner = None
    if row.created_by is not None:
        owner = await principal_for_user(db, row.created_by, org_id=org_id)
    if owner is None:
        row.enabled, row.next_run_at, row.last_error = False, None, OWNER_GONE
        await audit.record(
            db, "digest_setting.paused", org_id=org_id, target=row, details={"reason": OWNER_GONE}
        )
        await _release_held(db, org_id, row.recipients)
        return False
    day = due_at.astimezone(crontab.zone(row.timezone)).date() - timedelta(days=1)
    if row.destination == CHANNEL:
        return await _send_to_channel(db, org_id, row, owner, day, due_at)
    digest = await build_digest(db, owner, day)
    context = _context(digest, await org_name_of(db, org_id), settings)
    recipients = list(row.recipients)
    held = await batching.take_batched(db, org_id, recipients, due_at)
    for to in recipients:
        batched = [
            {"severity": b.severity or "", "title": b.title, "summary": b.summary}
            for b in held.get(to, [])
        ]
        await email.queue_email(
            db,
            to=to,
            template="daily_digest",
            context={**context, "batched": batched},
            org_id=org_id,
        )
    row.last_sent_at, row.last_slot_at, row.last_error = clock.now(), due_at, None
    await audit.record(
        db,
        "digest_setting.sent",
        who=owner,
        target=row,
        details={"day": day.isoformat(), "recipients": recipients, "slot": due_at.isoformat()},
    )
    return True


async def _send_to_channel(
    db: AsyncSession,
    org_id: uuid.UUID,
    row: DigestSetting,
    owner: Principal,
    day: date,
    due_at: datetime,
) -> bool:
    channel = None
    if row.channel_config_id is not None:
        channel = await db.scalar(
            org_select(ChannelConfig, org_scope(org_id)).where(
                ChannelConfig.id == row.channel_config_id
            )
        )
    if channel is None:
        # Retrying cannot bring the channel back: stop until an admin picks another one.
        row.enabled, row.next_run_at, row.last_error = False, None, CHANNEL_GONE
        await audit.record(
            db, "digest_setting.paused", org_id=org_id, target=row, details={"reason": CHANNEL_GONE}
        )
        return False
    digest = await build_digest(db, owner, day)
    currencies = await post_to_channel(db, org_id, channel, digest)
    row.last_sent_at, row.last_slot_at, row.last_error = clock.now(), due_at, None
    await audit.record(
        db,
        "digest_setting.sent",
        who=owner,
        target=row,
        details={
            "day": day.isoformat(),
            "channel": channel.audit_name,
            "currencies": currencies,
            "slot": due_at.isoformat(),
        },
    )
    return True


async def recipients_of(db: AsyncSession, org_id: uuid.UUID) -> frozenset[str]:
    """Every address an enabled daily digest of the org goes to."""
    rows = await db.scalars(
        org_select(DigestSetting, org_scope(org_id))
        .where(DigestSetting.enabled.is_(True))
        .with_only_columns(DigestSetting.recipients)
    )
    return frozenset(str(a).lower() for recipients in rows.all() for a in recipients)


async def _release_held(db: AsyncSession, org_id: uuid.UUID, addresses: Sequence[object]) -> None:
    """A digest stops: the low-severity notifications held for those of its recipients whom no
    other enabled digest reaches go out one by one after all."""
    remaining = await recipients_of(db, org_id)
    await batching.release_batched(
        db, org_id, [a for a in _recipients(addresses) if a not in remaining]
    )


async def get_or_none(db: AsyncSession, scope: Scope, digest_id: uuid.UUID) -> DigestSetting | None:
    row: DigestSetting | None = await db.scalar(
        org_select(DigestSetting, scope).where(DigestSetting.id == digest_id)
    )
    return row


async def record_failure(
    db: AsyncSession, org_id: uuid.UUID, digest_id: uuid.UUID, error: str
) -> None:
    row = await get_or_none(db, org_scope(org_id), digest_id)
    if row is not None:
        row.last_error = error[:2000]
