"""End-of-period spend forecasts (budgets, alert rules, digests, reports), in ``Decimal``.

**Method** (``project``), per currency, from a zero-filled daily series ending at the last
complete day of data (``through``):

1. ``actual`` = the exact sum of the period's days up to ``through``.
2. The *window*: leading days without any cost are left out (the data had not started: a zero
   there is not a day that cost nothing), then the most recent whole weeks of the series, up to
   :data:`WINDOW_DAYS` (28 days, four of each weekday), or every day there is when fewer than 7.
3. The *level*: the mean daily cost of the last :data:`LEVEL_DAYS` (7) days. A whole week, so the
   weekly pattern averages out of it.
4. *Weekday seasonality* (with at least :data:`SEASONAL_MIN_DAYS`, 14, in the window): each
   weekday's factor is its mean over the window divided by the window's mean (a whole number of
   weeks, so the seven factors average exactly 1); with less history, or a window whose mean is
   0, every factor is 1 (a plain run rate of the last week).
   Steps 2-4 read *usage* charges only (``ChargeCategory`` Usage): one-off charges (a monthly
   commitment fee on the 1st, taxes, credits) count in ``actual`` but are not repeated.
5. Each remaining day of the period is projected as ``level x factor(weekday)``.
6. *Taxes* (``Tax`` charges, which providers post per month, usually at its end): the *rate* is
   the reference month's Tax over its Usage charges (the calendar month before the one holding
   ``through``; 0 when it had no tax). The period's tax still to come is ``rate x (usage to
   date + projected usage) - tax already posted in the period`` (never below 0), so a tax posted
   daily is not counted twice. Credits and other one-off charges are not projected (they come
   when they come).
7. The forecast is ``actual`` plus the projected usage and tax.
8. *Day-to-day range* (``low``/``high``): the residuals of the window against its own seasonal
   profile give a daily standard deviation ``s``; the sum of ``m`` remaining days varies by
   ``m s^2`` (day to day) plus ``m^2 s^2 / 7`` (the level is a 7-day mean), and the range is the
   forecast ``+/- 1.2816 x sqrt(that)`` (scaled by ``1 + rate`` for the tax). That would be an
   80 % interval if day-to-day noise were the only uncertainty, but it is not: a resource
   started or stopped, a spike, a credit or a trend moves the total outside it, and in the
   backtest the month's total fell inside it far less than 80 % of the time (the README has the
   figure). So it is named for what it measures, not called an 80 % interval. The low end is
   never below ``actual`` while the projection is not negative (what is spent stays spent).

Everything is ``Decimal`` arithmetic (38 significant digits); answers keep the store's 9 decimal
places: round them to the currency's minor units when showing them (``core.money``). Currencies
are projected separately and never added together.

A backtest (``bench/forecast.py``) compares this method with a plain run rate (month to date /
days elapsed x days in month) on the demo data and the FOCUS samples, and counts how often the
month's total fell inside the day-to-day range; its figures are in the README.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Context, Decimal, localcontext
from enum import StrEnum
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import money
from xplorr.core.tenancy import Scope
from xplorr.costs import query
from xplorr.costs.query import CostQuery, DayCost, Dim

WINDOW_DAYS: Final = 28
LEVEL_DAYS: Final = 7
SEASONAL_MIN_DAYS: Final = 14
# The standard normal distribution's 90th percentile: the day-to-day range's half-width in
# sigmas (an 80 % interval if day-to-day noise were the only uncertainty; it is not).
Z80: Final = Decimal("1.2815515655446004")
ZERO: Final = Decimal(0)
USAGE: Final = "Usage"  # the charge category projected (one-off charges are not repeated)
TAX: Final = "Tax"  # the charge category projected as a rate of usage
_CONTEXT: Final = Context(prec=38)


class Period(StrEnum):
    """A budget's (or a rule's) period: calendar month, quarter or year."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


def period_bounds(period: Period, day: date) -> tuple[date, date]:
    """The first and last day of the calendar ``period`` holding ``day``."""
    if period is Period.MONTHLY:
        start = day.replace(day=1)
        months = 1
    elif period is Period.QUARTERLY:
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        months = 3
    else:
        start = date(day.year, 1, 1)
        months = 12
    month = start.month - 1 + months
    following = date(start.year + month // 12, month % 12 + 1, 1)
    return start, following - timedelta(days=1)


class Method(StrEnum):
    SEASONAL = "weekday_seasonal"  # level of the last 7 days x weekday factors (>= 14 days)
    RUN_RATE = "run_rate"  # level of the last days, no weekday factors (< 14 days of history)
    COMPLETE = "complete"  # no day left to project: the forecast is the actual
    NO_DATA = "no_data"  # no day of history: nothing is projected


@dataclass(frozen=True, slots=True)
class Forecast:
    """One currency's end-of-period forecast. ``through``: the last day of actual data in the
    period (None: none yet). ``forecast = actual + projected`` (usage and tax);
    ``low``/``high``: the day-to-day range (not a calibrated interval: the module docstring
    says why)."""

    currency: str
    period_start: date
    period_end: date
    through: date | None
    actual: Decimal
    projected: Decimal
    forecast: Decimal
    low: Decimal
    high: Decimal
    method: Method

    def rounded(self) -> "Forecast":
        """Amounts rounded to the currency's minor units (for answers)."""
        r = money.round_money
        c = self.currency
        return replace(
            self,
            actual=r(self.actual, c),
            projected=r(self.projected, c),
            forecast=r(self.forecast, c),
            low=r(self.low, c),
            high=r(self.high, c),
        )


@dataclass(frozen=True, slots=True)
class TaxBasis:
    """What projects a period's tax (one currency): ``rate``, the reference month's Tax over its
    Usage charges (:func:`tax_rate`), and the period's ``usage`` and ``posted`` tax through
    ``through``."""

    rate: Decimal
    usage: Decimal
    posted: Decimal


def reference_month(through: date) -> tuple[date, date]:
    """The calendar month whose tax rate projects a period seen up to ``through``: the one
    before the month holding ``through`` (the last whose tax has been posted)."""
    return period_bounds(Period.MONTHLY, through.replace(day=1) - timedelta(days=1))


def tax_rate(tax: Decimal, usage: Decimal) -> Decimal:
    """Tax per unit of usage (0 without tax, or without positive usage to relate it to)."""
    if tax <= ZERO or usage <= ZERO:
        return ZERO
    with localcontext(_CONTEXT):
        return tax / usage


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO) / len(values)


def _factors(window: Sequence[DayCost]) -> dict[int, Decimal]:
    """Weekday (0 = Monday) -> mean of that weekday / mean of the window (1 without seasonality:
    too short a window, or a window whose mean is 0)."""
    ones = dict.fromkeys(range(7), Decimal(1))
    if len(window) < SEASONAL_MIN_DAYS:
        return ones
    overall = _mean([d.cost for d in window])
    if overall == ZERO:
        return ones
    by_day: dict[int, list[Decimal]] = {}
    for d in window:
        by_day.setdefault(d.day.weekday(), []).append(d.cost)
    return {wd: _mean(costs) / overall for wd, costs in by_day.items()}


def project(
    history: Sequence[DayCost],
    *,
    currency: str,
    period_start: date,
    period_end: date,
    through: date | None,
    recurring: Sequence[DayCost] | None = None,
    actual: Decimal | None = None,
    taxes: TaxBasis | None = None,
) -> Forecast:
    """The forecast of ``period_start..period_end`` from ``history`` (one currency's daily costs,
    zero-filled, consecutive, in order; days after ``through`` are ignored). The period's days
    up to ``through`` must be in it; up to 28 days of history before them sharpen the weekday
    factors and the interval (the module docstring has the method). ``recurring``: the same
    days' usage charges only, projected instead of ``history`` (one-off charges, such as a
    monthly commitment fee on the 1st, then count in the actual but are not repeated).
    ``actual``: the period's spend through ``through`` when the caller has it (a quarter's or
    a year's, from ``costs.query.totals_for_many``): ``history`` then needs only its last 28
    days. ``taxes``: what projects the tax still to come (none without it)."""
    if period_end < period_start:
        raise ValueError("period_end is before period_start")
    with localcontext(_CONTEXT):
        spent = sum(
            (d.cost for d in history if through is not None and period_start <= d.day <= through),
            ZERO,
        )
        if actual is None:
            actual = spent
        source = history if recurring is None else recurring
        known = [d for d in source if through is not None and d.day <= through]
        while known and known[0].cost == ZERO:  # before the data starts: not a zero-cost day
            known.pop(0)
        last = through if through is not None else period_start - timedelta(days=1)
        first_left = max(last + timedelta(days=1), period_start)
        remaining = [
            first_left + timedelta(days=i) for i in range((period_end - first_left).days + 1)
        ]
        through_in = min(last, period_end) if last >= period_start else None
        if not remaining or not known:
            method = Method.COMPLETE if not remaining else Method.NO_DATA
            a = money.quantize_store(actual)
            return Forecast(
                currency, period_start, period_end, through_in, a, ZERO, a, a, a, method
            )
        whole_weeks = (min(len(known), WINDOW_DAYS) // 7) * 7
        window = known[-whole_weeks:] if whole_weeks else known
        level_days = known[-LEVEL_DAYS:]
        level = _mean([d.cost for d in level_days])
        factors = _factors(window)
        projected = sum((level * factors[d.weekday()] for d in remaining), ZERO)
        scale = Decimal(1)
        if taxes is not None and taxes.rate > ZERO:
            due = taxes.rate * (taxes.usage + projected) - taxes.posted
            projected += max(due, ZERO)
            scale += taxes.rate
        forecast = actual + projected
        # Daily deviation from the window's own seasonal profile.
        base = _mean([d.cost for d in window])
        residuals = [d.cost - base * factors[d.day.weekday()] for d in window]
        variance = (
            sum((e * e for e in residuals), ZERO) / (len(residuals) - 1)
            if len(residuals) > 1
            else ZERO
        )
        m = Decimal(len(remaining))
        spread = m * variance + m * m * variance / Decimal(len(level_days))
        half = Z80 * spread.sqrt() * scale
        low = forecast - half
        if projected >= ZERO:
            low = max(low, actual)
        method = Method.SEASONAL if len(window) >= SEASONAL_MIN_DAYS else Method.RUN_RATE
        q = money.quantize_store
        return Forecast(
            currency,
            period_start,
            period_end,
            through_in,
            q(actual),
            q(projected),
            q(forecast),
            q(low),
            q(forecast + half),
            method,
        )


def project_all(
    series: Mapping[str, Sequence[DayCost]],
    recurring: Mapping[str, Sequence[DayCost]] | None = None,
    *,
    period_start: date,
    period_end: date,
    through: date | None,
    taxes: Mapping[str, TaxBasis] | None = None,
) -> dict[str, Forecast]:
    """:func:`project` for each currency of ``series`` (``recurring``: each currency's usage
    charges, projected instead; ``taxes``: each currency's tax basis)."""
    return {
        currency: project(
            days,
            currency=currency,
            period_start=period_start,
            period_end=period_end,
            through=through,
            recurring=None if recurring is None else recurring.get(currency),
            taxes=None if taxes is None else taxes.get(currency),
        )
        for currency, days in sorted(series.items())
    }


def history_start(period_start: date, through: date) -> date:
    """The first day of history :func:`project` uses for a period seen up to ``through``."""
    return min(period_start, through - timedelta(days=WINDOW_DAYS - 1))


async def forecast(
    db: AsyncSession,
    who: Scope,
    q: CostQuery,
    *,
    period: Period,
    as_of: date,
) -> dict[str, Forecast]:
    """The forecast of ``q``'s filters (its dates and group-by are ignored) for the ``period``
    holding ``as_of``, through the last complete day of the queried accounts' data (at most
    ``as_of``): three queries (the data's last day, one daily series per charge category, and
    the totals of :func:`tax_queries`). Usage charges are projected, and tax as a rate of them;
    every charge counts in the actual. Per currency; ``{}`` without any cost in the history."""
    start, end = period_bounds(period, as_of)
    complete = await query.data_through(db, who, q.account_ids)
    if complete is None:
        return {}
    through = min(complete, as_of, end)
    if through < start - timedelta(days=WINDOW_DAYS):
        return {}
    by_category = await query.daily_series_by(
        db,
        who,
        replace(
            q, start=history_start(start, through), end=through, group_by=(Dim.CHARGE_CATEGORY,)
        ),
    )
    totals = await query.totals_for_many(db, who, tax_queries(q, start, through))
    return project_all(
        *split_recurring(by_category),
        period_start=start,
        period_end=end,
        through=through,
        taxes=tax_bases(totals),
    )


TaxKey = Literal["reference_tax", "reference_usage", "tax", "usage"]


def tax_queries(q: CostQuery, period_start: date, through: date) -> dict[TaxKey, CostQuery]:
    """The totals a :class:`TaxBasis` is made of, under ``q``'s filters: the reference month's
    Tax and Usage charges (:func:`reference_month`), and the period's through ``through``."""
    ref_start, ref_end = reference_month(through)

    def only(category: str, start: date, end: date) -> CostQuery:
        wanted = frozenset({category})
        cats = wanted if q.charge_categories is None else q.charge_categories & wanted
        return replace(q, start=start, end=end, group_by=(), charge_categories=cats)

    out: dict[TaxKey, CostQuery] = {
        "reference_tax": only(TAX, ref_start, ref_end),
        "reference_usage": only(USAGE, ref_start, ref_end),
    }
    if through >= period_start:
        out["tax"] = only(TAX, period_start, through)
        out["usage"] = only(USAGE, period_start, through)
    return out


def tax_bases(totals: Mapping[TaxKey, Mapping[str, Decimal]]) -> dict[str, TaxBasis]:
    """:func:`tax_queries`' totals -> per currency whose reference month had tax, its basis."""
    out: dict[str, TaxBasis] = {}
    for currency, tax in totals.get("reference_tax", {}).items():
        rate = tax_rate(tax, totals.get("reference_usage", {}).get(currency, ZERO))
        if rate > ZERO:
            out[currency] = TaxBasis(
                rate,
                usage=totals.get("usage", {}).get(currency, ZERO),
                posted=totals.get("tax", {}).get(currency, ZERO),
            )
    return out


def split_recurring(
    by_category: Mapping[tuple[tuple[query.Key, ...], str], Sequence[DayCost]],
) -> tuple[dict[str, list[DayCost]], dict[str, list[DayCost]]]:
    """A :func:`query.daily_series_by` answer grouped by charge category (last in the key) ->
    per currency, the series of every charge and that of usage charges only."""
    every: dict[str, list[DayCost]] = {}
    usage: dict[str, list[DayCost]] = {}
    for (key, currency), days in by_category.items():
        _add_series(every, currency, days)
        if key[-1] == USAGE:
            _add_series(usage, currency, days)
    for currency, days in every.items():
        usage.setdefault(currency, [DayCost(d.day, ZERO) for d in days])
    return every, usage


def _add_series(out: dict[str, list[DayCost]], currency: str, days: Sequence[DayCost]) -> None:
    seen = out.get(currency)
    if seen is None:
        out[currency] = list(days)
    else:
        out[currency] = [DayCost(a.day, a.cost + b.cost) for a, b in zip(seen, days, strict=True)]
