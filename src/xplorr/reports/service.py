"""Reports: the one report model (``model.Report``), built through ``costs.query`` (and
``costs.forecast``) plus the sections other areas register (``core.report_sections``).

Built once per request or scheduled send, then rendered as JSON (``schemas``), PDF (``pdf``)
or Excel (``excel``). Every read is scoped to the caller (``who``: a request's principal, or a
scheduled report's owner as they are *now*, ``users.principals.principal_for_user``): a member
limited to some cloud accounts gets a report of those accounts only.

Queries (each through ``costs.query``, each from the cheapest table): the daily series of the
period and of the equally long period before it (totals, change, trend), the period's sums by
provider, by account and by region, by service for both periods (top movers), and the
forecast of the month holding the report's last day.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock, money
from xplorr.core.errors import NotFound
from xplorr.core.report_sections import ReportScope, build_sections
from xplorr.core.tenancy import Scope, get_in_org
from xplorr.costs import forecast as forecasting
from xplorr.costs import query
from xplorr.costs import service as costs_service
from xplorr.costs.query import CostGroup, CostQuery, Dim, Metric
from xplorr.orgs.models import Org
from xplorr.reports.model import CurrencyReport, Day, ForecastLine, Line, Mover, Report

ZERO: Final = Decimal(0)
PERCENT: Final = Decimal("0.01")
TOP_MOVERS: Final = 10
MAX_REPORT_DAYS: Final = 400  # 13 calendar months fit (at most 397 days)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    start: date
    end: date
    account_id: uuid.UUID | None = None
    metric: Metric = Metric.BILLED


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == ZERO:
        return None
    return (part * 100 / whole).quantize(PERCENT, rounding=ROUND_HALF_UP)


def _lines(groups: Iterable[CostGroup], currency: str, total: Decimal) -> tuple[Line, ...]:
    """One currency's groups of a one-dimension aggregate, largest first."""
    mine = sorted(
        (g for g in groups if g.currency == currency),
        key=lambda g: (-g.cost, g.names[0]),
    )
    return tuple(
        Line(
            key=None if g.key[0] is None else str(g.key[0]),
            name=g.names[0],
            cost=money.round_money(g.cost, currency),
            share=_percent(g.cost, total) or ZERO,
        )
        for g in mine
    )


def _movers(
    current: Mapping[str, Decimal], previous: Mapping[str, Decimal], currency: str
) -> tuple[Mover, ...]:
    """Services whose spend changed most (in absolute terms), largest change first."""
    names = set(current) | set(previous)
    changes = []
    for name in names:
        now, before = current.get(name, ZERO), previous.get(name, ZERO)
        if now != before:
            changes.append((now - before, name, now, before))
    changes.sort(key=lambda c: (-abs(c[0]), c[1]))
    r = money.round_money
    return tuple(
        Mover(
            name=name,
            current=r(now, currency),
            previous=r(before, currency),
            change=r(delta, currency),
            change_percent=_percent(delta, abs(before)),
        )
        for delta, name, now, before in changes[:TOP_MOVERS]
    )


def _by_name(groups: Iterable[CostGroup], currency: str) -> dict[str, Decimal]:
    return {g.names[0]: g.cost for g in groups if g.currency == currency}


async def check_account(db: AsyncSession, who: Scope, account_id: uuid.UUID | None) -> str | None:
    """The name of the report's cloud account; a foreign account, or one ``who`` was not
    granted, is not found (never forbidden)."""
    if account_id is None:
        return None
    account = await get_in_org(db, CloudAccount, account_id, who)
    if who.account_ids is not None and account_id not in who.account_ids:
        raise NotFound.of("CloudAccount", account_id)
    return account.name


async def org_name_of(db: AsyncSession, org_id: uuid.UUID) -> str:
    name = await db.scalar(select(Org.name).where(Org.id == org_id))
    return name or ""


async def build_report(
    db: AsyncSession, who: Scope, req: ReportRequest, *, short: bool = False
) -> Report:
    """The report of ``req``'s days for ``who`` (see the module docstring). ``short``: the cost
    summary's form (totals, change, services, movers, forecast; no provider, account and region
    breakdowns, no other areas' sections)."""
    if req.end < req.start or (req.end - req.start).days + 1 > MAX_REPORT_DAYS:
        raise ValueError("a report covers 1 to 400 days")
    account_name = await check_account(db, who, req.account_id)
    accounts = frozenset({req.account_id}) if req.account_id else None
    days = (req.end - req.start).days + 1
    previous_start = req.start - timedelta(days=days)
    previous_end = req.start - timedelta(days=1)

    def q(start: date, end: date, *group_by: Dim) -> CostQuery:
        return CostQuery(
            start=start, end=end, metric=req.metric, group_by=group_by, account_ids=accounts
        )

    both = await query.aggregate(db, who, q(previous_start, req.end, Dim.DATE))
    current_totals: dict[str, Decimal] = defaultdict(Decimal)
    previous_totals: dict[str, Decimal] = defaultdict(Decimal)
    daily: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for g in both:
        day = g.key[0]
        assert isinstance(day, date)
        if day >= req.start:
            current_totals[g.currency] += g.cost
            daily[g.currency][day] = g.cost
        else:
            previous_totals[g.currency] += g.cost

    by_provider: list[CostGroup] = []
    by_account: list[CostGroup] = []
    by_region: list[CostGroup] = []
    if not short:
        by_provider = await query.aggregate(db, who, q(req.start, req.end, Dim.PROVIDER))
        by_account = await query.aggregate(db, who, q(req.start, req.end, Dim.ACCOUNT))
        by_region = await query.aggregate(db, who, q(req.start, req.end, Dim.REGION))
    by_service = await query.aggregate(db, who, q(req.start, req.end, Dim.SERVICE))
    before_service = await query.aggregate(db, who, q(previous_start, previous_end, Dim.SERVICE))
    forecasts: dict[str, forecasting.Forecast] = {}
    if req.metric is not Metric.QUANTITY:
        forecasts = await forecasting.forecast(
            db, who, q(req.start, req.end), period=forecasting.Period.MONTHLY, as_of=req.end
        )

    currencies = set(current_totals) | set(previous_totals)
    main = await costs_service.default_currency(db, who)
    ordered = sorted(currencies, key=lambda c: (c != main, c))
    all_days = [req.start + timedelta(days=i) for i in range(days)]
    reports = []
    for cur in ordered:
        total, before = current_totals.get(cur, ZERO), previous_totals.get(cur, ZERO)
        fc = forecasts.get(cur)
        forecast_line = None
        if fc is not None:
            rounded = fc.rounded()
            forecast_line = ForecastLine(
                period_start=rounded.period_start,
                period_end=rounded.period_end,
                through=rounded.through,
                actual=rounded.actual,
                forecast=rounded.forecast,
                low=rounded.low,
                high=rounded.high,
                method=str(rounded.method),
            )
        reports.append(
            CurrencyReport(
                currency=cur,
                total=money.round_money(total, cur),
                previous_total=money.round_money(before, cur),
                change=money.round_money(total - before, cur),
                change_percent=_percent(total - before, abs(before)),
                by_provider=_lines(by_provider, cur, total),
                by_account=_lines(by_account, cur, total),
                by_service=_lines(by_service, cur, total),
                by_region=_lines(by_region, cur, total),
                daily=tuple(
                    Day(d, money.round_money(daily[cur].get(d, ZERO), cur)) for d in all_days
                ),
                top_movers=_movers(_by_name(by_service, cur), _by_name(before_service, cur), cur),
                forecast=forecast_line,
            )
        )
    sections = (
        []
        if short
        else await build_sections(
            db, ReportScope(who=who, start=req.start, end=req.end, account_ids=accounts)
        )
    )
    return Report(
        org_name=await org_name_of(db, who.org_id),
        start=req.start,
        end=req.end,
        previous_start=previous_start,
        previous_end=previous_end,
        generated_at=clock.now(),
        account_id=req.account_id,
        account_name=account_name,
        metric=str(req.metric),
        currencies=tuple(reports),
        sections=tuple(sections),
    )
