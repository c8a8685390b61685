"""The aggregated figures insights are written over, read through the areas' public
functions as the caller (their grants apply): spend by service over the last 30 complete days
against the 30 before (``costs.query``), open anomalies (``anomalies.service``), coverage
(``commitments.service``) and open recommendations (``recommendations.service``).

Only aggregates leave this module: service names, regions, instance families, dates, amounts
and percentages. Never a cost row, an account name, a resource id, a tag, a user or a
credential: these figures are what an external LLM is shown.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.ai_recommendations.schemas import (
    AnomalyFigure,
    CoverageFigures,
    ExpiringFigure,
    Figures,
    GapFigure,
    RecommendationFigure,
    RecommendationFigures,
    ServiceFigure,
)
from xplorr.anomalies import service as anomalies
from xplorr.anomalies.models import AnomalyStatus
from xplorr.anomalies.schemas import AnomalyFilters
from xplorr.commitments import service as commitments
from xplorr.core import clock, money
from xplorr.core.pagination import PageParams
from xplorr.core.tenancy import Principal
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Dim
from xplorr.recommendations import service as recommendations
from xplorr.recommendations import totals as savings_totals

WINDOW_DAYS: Final = 30
TOP: Final = 8
MOVERS: Final = 5
ANOMALIES: Final = 5
OPEN_RECOMMENDATIONS: Final = 1000  # counted and summed; more is not a useful figure
TOP_RECOMMENDATIONS: Final = 5
ZERO: Final = Decimal(0)


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == ZERO:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


async def open_recommendations(
    db: AsyncSession, who: Principal, currency: str | None
) -> RecommendationFigures:
    """The open (not snoozed) recommendations the caller sees: their count, and the savings of
    those in ``currency`` per type, largest first (no title: titles name resources)."""
    rows = await recommendations.open_recommendations(db, who, limit=OPEN_RECOMMENDATIONS)
    by_type: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for r in rows:
        if r.currency == currency:
            by_type[(r.type, r.category)].append(r.estimated_monthly_savings)
    # Alternatives for the same spend (one resource's actions, an account's commitment
    # purchases) count once in the total; each type's own figure is its plain sum.
    total = savings_totals.monthly_savings(r for r in rows if r.currency == currency).get(
        str(currency), ZERO
    )
    top = sorted(by_type.items(), key=lambda kv: (-sum(kv[1], ZERO), kv[0]))[:TOP_RECOMMENDATIONS]
    return RecommendationFigures(
        available=True,
        open_count=len(rows),
        monthly_savings=total,
        top=[
            RecommendationFigure(
                type=kind,
                category=category,
                count=len(savings),
                estimated_monthly_savings=money.round_money(sum(savings, ZERO), str(currency)),
                currency=str(currency),
            )
            for (kind, category), savings in top
        ],
    )


async def collect(db: AsyncSession, who: Principal, today: date | None = None) -> Figures:
    """The caller's figures (see the module docstring)."""
    through = await query.data_through(db, who)
    end = through or today or clock.now().date()
    start = end - timedelta(days=WINDOW_DAYS - 1)
    prev_end = start - timedelta(days=1)
    prev_start = prev_end - timedelta(days=WINDOW_DAYS - 1)
    currency = money.default_currency(None, await query.currency_use(db, who))

    def per_service(groups: list[query.CostGroup]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for g in groups:
            if g.currency == currency:
                out[str(g.key[0])] += g.cost
        return out

    now = per_service(
        await query.aggregate(db, who, CostQuery(start=start, end=end, group_by=(Dim.SERVICE,)))
    )
    before = per_service(
        await query.aggregate(
            db, who, CostQuery(start=prev_start, end=prev_end, group_by=(Dim.SERVICE,))
        )
    )

    def r(amount: Decimal) -> Decimal:
        return money.round_money(amount, currency) if currency else ZERO

    def figure(name: str) -> ServiceFigure:
        cur, prev = now.get(name, ZERO), before.get(name, ZERO)
        return ServiceFigure(
            service=name,
            cost=r(cur),
            previous_cost=r(prev),
            change=r(cur - prev),
            change_percent=_pct(cur - prev, prev),
        )

    names = sorted(set(now) | set(before))
    top = sorted((n for n in now), key=lambda n: (-now[n], n))[:TOP]
    moved = sorted(names, key=lambda n: (-abs(now.get(n, ZERO) - before.get(n, ZERO)), n))[:MOVERS]
    total, previous = sum(now.values(), ZERO), sum(before.values(), ZERO)

    found = await anomalies.list_anomalies(
        db, who, AnomalyFilters(status=AnomalyStatus.OPEN), PageParams(limit=ANOMALIES, offset=0)
    )
    analysis = await commitments.analysis(db, who, account_id=None, days=WINDOW_DAYS, today=today)
    coverage = CoverageFigures(
        coverage_percent=analysis.coverage_percent,
        utilization_percent=analysis.utilization_percent,
        on_demand=analysis.totals.on_demand,
        reserved=analysis.totals.reserved,
        savings_plan=analysis.totals.savings_plan,
        spot=analysis.totals.spot,
        top_gaps=[
            GapFigure(
                service=g.service,
                instance_family=g.instance_family or g.resource_type,
                region=g.region,
                average_daily_on_demand_cost=g.average_daily_on_demand_cost,
                consistency_score=g.consistency_score,
                estimated_monthly_savings=g.estimated_monthly_savings,
            )
            for g in analysis.coverage_gaps[:5]
        ],
        expiring_within_60_days=[
            ExpiringFigure(
                kind=c.kind,
                description=c.description,
                expires_on=c.expires_on,
                days_left=c.days_left,
            )
            for c in analysis.commitments
            if c.expires_on is not None and c.days_left is not None and 0 <= c.days_left <= 60
        ],
    )
    return Figures(
        period_start=start,
        period_end=end,
        currency=currency,
        total_cost=r(total),
        previous_total_cost=r(previous),
        change_percent=_pct(total - previous, previous),
        top_services=[figure(n) for n in top],
        movers=[figure(n) for n in moved if now.get(n, ZERO) != before.get(n, ZERO)],
        open_anomalies=found.total,
        anomalies=[
            AnomalyFigure(
                date=a.date,
                scope=str(a.scope),
                service=a.service,
                currency=a.currency,
                actual_cost=a.actual_cost,
                baseline_cost=a.baseline_cost,
                percent_above=a.percent_above,
                severity=str(a.severity),
            )
            for a in found.data
        ],
        recommendations=await open_recommendations(db, who, currency),
        coverage=coverage,
    )
