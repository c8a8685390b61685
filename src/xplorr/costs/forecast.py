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
5. Each remaining day of the period is projected as ``level x factor(weekday)``; the forecast is
   ``actual`` plus their sum.
6. *80 % interval*: the residuals of the window against its own seasonal profile give a daily
   standard deviation ``s``; the sum of ``m`` remaining days varies by ``m s^2`` (day to day) plus
   ``m^2 s^2 / 7`` (the level is a 7-day mean), and the interval is the forecast
   ``+/- 1.2816 x sqrt(that)`` (the normal distribution's 10th/90th percentiles). The low end is
   never below ``actual`` while the projection is not negative (what is spent stays spent).

Everything is ``Decimal`` arithmetic (38 significant digits); answers keep the store's 9 decimal
places: round them to the currency's minor units when showing them (``core.money``). Currencies
are projected separately and never added together.

A backtest (``bench/forecast.py``) compares this method with a plain run rate (month to date /
days elapsed x days in month) on the demo data and the FOCUS samples; its figures are in the
README.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Context, Decimal, localcontext
from enum import StrEnum
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import money
from xplorr.core.tenancy import Scope
from xplorr.costs import query
from xplorr.costs.query import CostQuery, DayCost, Dim

WINDOW_DAYS: Final = 28
LEVEL_DAYS: Final = 7
SEASONAL_MIN_DAYS: Final = 14
# The standard normal distribution's 90th percentile: the 80 % interval's half-width in sigmas.
Z80: Final = Decimal("1.2815515655446004")
ZERO: Final = Decimal(0)
USAGE: Final = "Usage"  # the charge category projected (one-off charges are not repeated)
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
    period (None: none yet). ``forecast = actual + projected``; ``low``/``high``: the 80 %
    interval."""

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
) -> Forecast:
    """The forecast of ``period_start..period_end`` from ``history`` (one currency's daily costs,
    zero-filled, consecutive, in order; days after ``through`` are ignored). The period's days
    up to ``through`` must be in it; up to 28 days of history before them sharpen the weekday
    factors and the interval (the module docstring has the method). ``recurring``: the same
    days' usage charges only, projected instead of ``history`` (one-off charges, such as a
    monthly commitment fee on the 1st, then count in the actual but are not repeated).
    ``actual``: the period's spend through ``through`` when the caller has it (a quarter's or
    a year's, from ``costs.query.totals_for_many``): ``history`` then needs only its last 28
    days."""
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
        half = Z80 * spread.sqrt()
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
) -> dict[str, Forecast]:
    """:func:`project` for each currency of ``series`` (``recurring``: each currency's usage
    charges, projected instead)."""
    return {
        currency: project(
            days,
            currency=currency,
            period_start=period_start,
            period_end=period_end,
            through=through,
            recurring=None if recurring is None else recurring.get(currency),
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
    ``as_of``): two queries (the data's last day, then one daily series per charge category).
    Usage charges are projected; every charge counts in the actual. Per currency; ``{}``
    without any cost in the history."""
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
    return project_all(
        *split_recurring(by_category), period_start=start, period_end=end, through=through
    )


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
