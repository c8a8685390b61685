"""The weekly summary (product-notes.md section 25): every Monday, the previous Monday-Sunday,
emailed to each active user of the organization whose ``weekly_digest`` preference is on
(``users.service.notification_preferences``; on by default), built as that user (their own
grants), and posted to the org's chat (``reports.chat.post_weekly``, the whole organization).

``build_summary`` reads, per currency (amounts of two currencies are never added):

- the week's spend and its change against the week before, the top services and movers (the
  services whose spend changed most, with their percent), the month's forecast (the report
  model, ``reports.service.build_report``);
- each provider's spend against the week before (one more read of the cost store);
- the anomalies of the week: their count (every currency) and the spikes' cost above their
  baseline, each amount counted once although scopes nest (``anomalies.service.tally``);
- the recommendations applied during the week (marked applied by a person, or closed by a
  refresh that no longer finds the waste) against those open now, and the savings realised:
  the applied ones' monthly estimate when they closed (an estimate, not a measured saving);
- the budget scorecard as of the week's Sunday: each budget's usage, forecast for its period's
  end and standing (``budgets.service.visible_statuses``);
- the other areas' sections for the week that the summary does not draw itself (allocation);
- an **insight**: two sentences an LLM writes from exactly these figures, shown with the
  model's name, only when an LLM is configured (``XPLORR_LLM_BASE_URL``, ``XPLORR_LLM_MODEL``)
  and answered (``ai_recommendations.service.weekly_insight``). Otherwise there is none: no
  rule-written text stands in for it. Users with the same figures share one call per run.

One job per organization (``reports.weekly_summary``, fanned out by the Monday schedule,
``XPLORR_WEEKLY_SUMMARY_CRON``) sends to every user in one transaction; each send writes the
audit row ``weekly_summary.sent`` (the user as the resource, the week's Monday as its name),
which is also what keeps a second run of the same week from sending again."""

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.ai_recommendations import service as ai
from xplorr.ai_recommendations.service import WrittenInsight
from xplorr.anomalies import service as anomalies
from xplorr.core import audit, email, money
from xplorr.core.audit import AuditEntry
from xplorr.core.report_sections import Section
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Scope, org_scope, org_select
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Dim
from xplorr.recommendations import service as recommendations
from xplorr.reports import digests, service
from xplorr.reports.digests import BudgetLine
from xplorr.reports.formatting import amount, cell, percent
from xplorr.reports.model import Line, Mover
from xplorr.users import service as users_service
from xplorr.users.models import User, UserStatus
from xplorr.users.principals import principal_for_user

RESOURCE: Final = "weekly_summary"
RANK: Final = anomalies.SEVERITY_RANK
ZERO: Final = Decimal(0)
PERCENT: Final = Decimal("0.01")
TOP: Final = 5
# Sections the summary draws itself (anomaly excess, applied vs open, the scorecard).
OWN_SECTIONS: Final = frozenset({"budgets", "anomalies", "recommendations"})
# Insights already written in this run, by the figures they were written from.
InsightCache = dict[str, WrittenInsight | None]


def week_before(today: date) -> tuple[date, date]:
    """The Monday-Sunday before the week holding ``today``."""
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=6)


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == ZERO:
        return None
    return (part * 100 / abs(whole)).quantize(PERCENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ProviderDelta:
    name: str
    cost: Decimal
    previous: Decimal  # the week before
    change_percent: Decimal | None  # None: nothing was spent the week before


@dataclass(frozen=True, slots=True)
class CurrencyWeek:
    currency: str
    total: Decimal
    previous_total: Decimal
    change_percent: Decimal | None
    providers: tuple[ProviderDelta, ...]
    top_services: tuple[Line, ...]
    movers: tuple[Mover, ...]
    forecast: Decimal | None  # the month holding the week's Sunday
    anomaly_excess: Decimal | None  # None: no spike in this currency
    applied: int
    savings_realized: Decimal | None  # monthly; None: nothing applied in this currency
    open: int
    potential_savings: Decimal | None  # monthly; None: nothing open in this currency
    budgets: tuple[BudgetLine, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    org_name: str
    start: date
    end: date
    currencies: tuple[CurrencyWeek, ...]  # the org's main currency first
    anomalies: int
    anomalies_by_severity: dict[str, int]
    sections: tuple[Section, ...]  # other areas' sections the summary does not draw itself
    insight: WrittenInsight | None

    def figures(self) -> dict[str, Any]:
        """What the LLM is shown (exact amounts as strings): these figures and nothing else."""
        return {
            "week": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "anomalies": {"count": self.anomalies, "by_severity": self.anomalies_by_severity},
            "currencies": [
                {
                    "currency": c.currency,
                    "spend": c.total,
                    "spend_week_before": c.previous_total,
                    "change_percent": c.change_percent,
                    "providers": [
                        {"provider": p.name, "spend": p.cost, "week_before": p.previous}
                        for p in c.providers
                    ],
                    "top_movers": [
                        {"service": m.name, "spend": m.current, "week_before": m.previous}
                        for m in c.movers
                    ],
                    "month_forecast": c.forecast,
                    "anomaly_cost_above_baseline": c.anomaly_excess,
                    "recommendations_applied": c.applied,
                    "monthly_savings_realised": c.savings_realized,
                    "recommendations_open": c.open,
                    "monthly_savings_open": c.potential_savings,
                    "budgets": [
                        {
                            "name": b.name,
                            "amount": b.amount,
                            "spent": b.spent,
                            "percent_used": b.percent_used,
                            "forecast": b.forecast,
                            "standing": b.standing,
                        }
                        for b in c.budgets
                    ],
                }
                for c in self.currencies
            ],
        }


def _providers(
    now: tuple[Line, ...], before: dict[str, Decimal], currency: str
) -> tuple[ProviderDelta, ...]:
    """This week's providers, largest first, then those spent on only the week before."""
    r = money.round_money
    costs = [(line.name, line.cost) for line in now]
    shown = {name for name, _ in costs}
    costs += [(name, ZERO) for name, cost in sorted(before.items()) if name not in shown and cost]
    out = []
    for name, cost in costs:
        previous = r(before.get(name, ZERO), currency)
        out.append(
            ProviderDelta(
                name=name,
                cost=r(cost, currency),
                previous=previous,
                change_percent=_percent(cost - previous, previous),
            )
        )
    return tuple(out)


async def build_summary(
    db: AsyncSession,
    settings: Settings,
    who: Scope,
    start: date,
    end: date,
    *,
    insights: InsightCache | None = None,
) -> Summary:
    """The summary of ``start..end`` as ``who`` sees it (see the module docstring)."""
    report = await service.build_report(db, who, service.ReportRequest(start=start, end=end))
    before = await query.aggregate(
        db,
        who,
        CostQuery(report.previous_start, report.previous_end, group_by=(Dim.PROVIDER,)),
    )
    providers_before: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for g in before:
        providers_before[g.currency][g.names[0]] = g.cost
    tally = await anomalies.tally(db, who, start, end)
    applied: dict[str, list[Decimal]] = defaultdict(list)
    for rec in await recommendations.applied_between(db, who, start, end):
        realised = rec.realized_monthly_savings
        applied[rec.currency].append(
            rec.estimated_monthly_savings if realised is None else realised
        )
    still_open = {r.currency: r for r in await digests.open_recommendations(db, who)}
    lines = await digests.budget_lines(db, who, end)
    reports = {c.currency: c for c in report.currencies}
    extra = ({*tally.excess, *applied, *still_open, *(b.currency for b in lines)}) - set(reports)
    ordered = [c.currency for c in report.currencies] + sorted(extra)
    weeks = []
    r = money.round_money
    for cur in ordered:
        c = reports.get(cur)
        opened = still_open.get(cur)
        weeks.append(
            CurrencyWeek(
                currency=cur,
                total=c.total if c else r(ZERO, cur),
                previous_total=c.previous_total if c else r(ZERO, cur),
                change_percent=c.change_percent if c else None,
                providers=_providers(c.by_provider if c else (), providers_before[cur], cur),
                top_services=c.by_service[:TOP] if c else (),
                movers=c.top_movers[:TOP] if c else (),
                forecast=c.forecast.forecast if c and c.forecast else None,
                anomaly_excess=tally.excess.get(cur),
                applied=len(applied.get(cur, [])),
                savings_realized=r(sum(applied[cur], ZERO), cur) if cur in applied else None,
                open=0 if opened is None else opened.count,
                potential_savings=None if opened is None else opened.monthly_savings,
                budgets=tuple(b for b in lines if b.currency == cur),
            )
        )
    summary = Summary(
        org_name=report.org_name,
        start=start,
        end=end,
        currencies=tuple(weeks),
        anomalies=tally.count,
        anomalies_by_severity={  # the most severe first
            s.value: n for s, n in sorted(tally.by_severity.items(), key=lambda i: -RANK[i[0]])
        },
        sections=tuple(s for s in report.sections if s.key not in OWN_SECTIONS),
        insight=None,
    )
    if not weeks:
        return summary
    figures = json.loads(json.dumps(summary.figures(), default=str))
    cache = {} if insights is None else insights
    key = json.dumps(figures, sort_keys=True)
    if key not in cache:
        cache[key] = await ai.weekly_insight(settings, figures)
    return replace(summary, insight=cache[key])


def _context(summary: Summary, settings: Settings) -> dict[str, Any]:
    return {
        "org_name": summary.org_name,
        "start": summary.start.isoformat(),
        "end": summary.end.isoformat(),
        "anomalies": summary.anomalies,
        "severities": ", ".join(f"{n} {s}" for s, n in summary.anomalies_by_severity.items() if n),
        "currencies": [
            {
                "currency": c.currency,
                "total": amount(c.total, c.currency),
                "previous": amount(c.previous_total, c.currency),
                "change": percent(c.change_percent),
                "providers": [
                    {
                        "name": p.name,
                        "cost": amount(p.cost, c.currency),
                        "previous": amount(p.previous, c.currency),
                        "change": percent(p.change_percent),
                    }
                    for p in c.providers
                ],
                "movers": [
                    {
                        "name": m.name,
                        "change": amount(m.change, c.currency),
                        "percent": percent(m.change_percent),
                    }
                    for m in c.movers
                ],
                "forecast": None if c.forecast is None else amount(c.forecast, c.currency),
                "excess": None
                if c.anomaly_excess is None
                else amount(c.anomaly_excess, c.currency),
                "applied": c.applied,
                "realised": None
                if c.savings_realized is None
                else amount(c.savings_realized, c.currency),
                "open": c.open,
                "potential": None
                if c.potential_savings is None
                else amount(c.potential_savings, c.currency),
                "budgets": digests.budget_context(c.budgets),
            }
            for c in summary.currencies
        ],
        "sections": [
            {
                "title": s.title,
                "figures": [
                    {"label": f.label, "value": cell(f.value, f.kind, f.currency)}
                    for f in s.figures
                ],
            }
            for s in summary.sections
        ],
        "insight": None
        if summary.insight is None
        else {"text": summary.insight.text, "model": summary.insight.model},
        "link": email.link(settings, "/"),
    }


async def _sent_already(
    db: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, monday: date
) -> bool:
    found = await db.scalar(
        select(AuditEntry.id).where(
            AuditEntry.org_id == org_id,
            AuditEntry.action == "weekly_summary.sent",
            AuditEntry.resource_type == RESOURCE,
            AuditEntry.resource_id == str(user_id),
            AuditEntry.resource_name == monday.isoformat(),
        )
    )
    return found is not None


async def send_weekly(
    db: AsyncSession,
    settings: Settings,
    org_id: uuid.UUID,
    today: date,
    *,
    insights: InsightCache | None = None,
) -> int:
    """Send the summary of the week before ``today`` to the org's users who want it.
    -> the number of emails queued."""
    start, end = week_before(today)
    user_ids = (
        await db.scalars(
            org_select(User, org_scope(org_id))
            .where(User.status == UserStatus.ACTIVE)
            .with_only_columns(User.id)
            .order_by(User.created_at, User.id)
        )
    ).all()
    cache: InsightCache = {} if insights is None else insights
    sent = 0
    for user_id in user_ids:
        who = await principal_for_user(db, user_id, org_id=org_id)
        if who is None or await _sent_already(db, org_id, user_id, start):
            continue
        if not (await users_service.notification_preferences(db, who)).weekly_digest:
            continue
        summary = await build_summary(db, settings, who, start, end, insights=cache)
        await email.queue_email(
            db,
            to=who.email,
            template="weekly_summary",
            context=_context(summary, settings),
            org_id=org_id,
        )
        await audit.record(
            db,
            "weekly_summary.sent",
            who=who,
            resource_type=RESOURCE,
            resource_id=user_id,
            resource_name=start.isoformat(),
            details={
                "week_start": start.isoformat(),
                "week_end": end.isoformat(),
                "insight_model": None if summary.insight is None else summary.insight.model,
            },
        )
        sent += 1
    return sent
