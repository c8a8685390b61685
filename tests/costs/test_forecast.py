"""The end-of-period forecast: exact answers on hand-made series, and through the cost store on
both databases."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import principal
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs, mark_imported
from xplorr.core.tenancy import org_scope
from xplorr.costs.forecast import (
    Method,
    Period,
    TaxBasis,
    forecast,
    period_bounds,
    project,
    reference_month,
    tax_rate,
)
from xplorr.costs.query import CostQuery, DayCost
from xplorr.orgs.models import Org

D = Decimal


def series(start: date, costs: list[str]) -> list[DayCost]:
    return [DayCost(start + timedelta(days=i), D(c)) for i, c in enumerate(costs)]


def test_period_bounds() -> None:
    assert period_bounds(Period.MONTHLY, date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_bounds(Period.MONTHLY, date(2024, 12, 31)) == (
        date(2024, 12, 1),
        date(2024, 12, 31),
    )
    assert period_bounds(Period.QUARTERLY, date(2024, 5, 3)) == (
        date(2024, 4, 1),
        date(2024, 6, 30),
    )
    assert period_bounds(Period.QUARTERLY, date(2024, 11, 3)) == (
        date(2024, 10, 1),
        date(2024, 12, 31),
    )
    assert period_bounds(Period.YEARLY, date(2024, 5, 3)) == (date(2024, 1, 1), date(2024, 12, 31))


def test_weekday_seasonality_is_projected_exactly() -> None:
    # 4 weeks before March 2024 + 10 days of March: 10 on weekdays, 4 on weekends.
    start = date(2024, 2, 3)  # a Saturday
    days = [start + timedelta(days=i) for i in range(28 + 10)]
    history = [DayCost(d, D(4) if d.weekday() >= 5 else D(10)) for d in days]
    f = project(
        history,
        currency="USD",
        period_start=date(2024, 3, 1),
        period_end=date(2024, 3, 31),
        through=date(2024, 3, 10),
    )
    # Actual March 1-10: 2 weekdays + weekend + 5 weekdays + weekend = 7*10 + 3*4... count:
    # Mar 1 Fri, 2 Sat, 3 Sun, 4-8 Mon-Fri, 9 Sat, 10 Sun -> 6 weekdays, 4 weekend days.
    assert f.actual == D("76.000000000")
    # Remaining March 11-31: 15 weekdays, 6 weekend days -> 150 + 24.
    assert f.projected == D("174.000000000")
    assert f.forecast == D("250.000000000")
    assert (f.low, f.high) == (f.forecast, f.forecast)  # no deviation from the weekly profile
    assert f.method is Method.SEASONAL
    assert f.through == date(2024, 3, 10)


def test_run_rate_and_interval_with_little_history() -> None:
    # Three days of history: level 20, residuals -10, 0, 10 -> s^2 = 100.
    f = project(
        series(date(2024, 4, 1), ["10", "20", "30"]),
        currency="USD",
        period_start=date(2024, 4, 1),
        period_end=date(2024, 4, 5),
        through=date(2024, 4, 3),
    )
    assert f.method is Method.RUN_RATE
    assert (f.actual, f.projected, f.forecast) == (D(60), D(40), D(100))
    # m = 2 days left, k = 3 days of level: var = 2*100 + 4*100/3 = 333.33..
    half = D("1.2815515655446004") * (D(200) + D(400) / D(3)).sqrt()
    assert f.high == (D(100) + half).quantize(D("1e-9"))
    assert f.low == (D(100) - half).quantize(D("1e-9"))
    rounded = f.rounded()
    assert (rounded.forecast, rounded.high) == (D("100.00"), D("123.40"))


def test_one_off_charges_are_not_repeated_and_low_never_below_actual() -> None:
    every = series(date(2024, 4, 1), ["1005", "5", "5", "5", "5", "5", "5"])
    usage = series(date(2024, 4, 1), ["5", "5", "5", "5", "5", "5", "5"])
    f = project(
        every,
        recurring=usage,
        currency="EUR",
        period_start=date(2024, 4, 1),
        period_end=date(2024, 4, 30),
        through=date(2024, 4, 7),
    )
    assert (f.actual, f.projected, f.forecast) == (D(1035), D(115), D(1150))
    assert f.low == f.forecast == f.high


def test_tax_to_come_is_projected_at_the_reference_rate_and_never_twice() -> None:
    assert reference_month(date(2024, 3, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert reference_month(date(2024, 1, 1)) == (date(2023, 12, 1), date(2023, 12, 31))
    assert (tax_rate(D(31), D(310)), tax_rate(D(0), D(310)), tax_rate(D(5), D(0))) == (
        D("0.1"),
        0,
        0,
    )
    history = series(date(2024, 4, 1), ["10", "20", "30"])
    kwargs: dict[str, Any] = {
        "currency": "USD",
        "period_start": date(2024, 4, 1),
        "period_end": date(2024, 4, 5),
        "through": date(2024, 4, 3),
    }
    plain = project(history, **kwargs)
    # Tax posted at the month's end: 10 % of the month's usage (60 so far + 40 projected).
    at_end = project(history, taxes=TaxBasis(D("0.1"), usage=D(60), posted=D(0)), **kwargs)
    assert (at_end.actual, at_end.projected, at_end.forecast) == (D(60), D(50), D(110))
    # The range widens with the tax on the projection: 1.1 x the plain half-width.
    assert at_end.high - at_end.forecast == ((plain.high - plain.forecast) * D("1.1")).quantize(
        D("1e-9")
    )
    # Tax posted daily: the 6 on the days so far is in the history, so only the rest is added.
    daily = project(history, taxes=TaxBasis(D("0.1"), usage=D(54), posted=D(6)), **kwargs)
    assert (daily.projected, daily.forecast) == (D("43.4"), D("103.4"))
    # Already posted in full (or more): nothing more is added.
    posted = project(history, taxes=TaxBasis(D("0.1"), usage=D(60), posted=D(50)), **kwargs)
    assert posted.forecast == plain.forecast == D(100)


def test_complete_and_no_data() -> None:
    done = project(
        series(date(2024, 4, 29), ["3", "4"]),
        currency="USD",
        period_start=date(2024, 4, 1),
        period_end=date(2024, 4, 30),
        through=date(2024, 4, 30),
    )
    assert (done.method, done.forecast, done.low, done.high) == (Method.COMPLETE, 7, 7, 7)
    empty = project(
        [],
        currency="USD",
        period_start=date(2024, 4, 1),
        period_end=date(2024, 4, 30),
        through=None,
    )
    assert (empty.method, empty.forecast, empty.through) == (Method.NO_DATA, 0, None)
    with pytest.raises(ValueError, match="before"):
        project(
            [],
            currency="USD",
            period_start=date(2024, 4, 2),
            period_end=date(2024, 4, 1),
            through=None,
        )


async def test_forecast_reads_the_cost_store(db: AsyncSession, org: Org, other_org: Org) -> None:
    aws = await make_account(db, org)
    foreign = await make_account(db, other_org)
    rows = [
        {"usage_date": date(2024, 9, 1) + timedelta(days=i), "billed_cost": "10"} for i in range(10)
    ]
    rows += [{"usage_date": "2024-09-01", "billed_cost": "300", "charge_category": "Purchase"}]
    # August, the reference month: 100 of usage and 10 of tax (a 10 % rate).
    rows += [{"usage_date": "2024-08-31", "billed_cost": "100"}]
    rows += [{"usage_date": "2024-08-31", "billed_cost": "10", "charge_category": "Tax"}]
    rows += [{"usage_date": "2024-09-03", "billed_cost": "7", "currency": "EUR"}]
    await add_costs(db, aws, rows)
    await add_costs(db, foreign, [{"usage_date": "2024-09-02", "billed_cost": "999"}])
    await mark_imported(db, aws)
    await mark_imported(db, foreign)
    q = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 1))
    out = await forecast(db, org_scope(org.id), q, period=Period.MONTHLY, as_of=date(2024, 9, 20))
    usd = out["USD"]
    assert usd.through == date(2024, 9, 10)
    # 200 of usage to come, and 10 % tax on September's 300 of usage (100 so far + 200).
    assert (usd.actual, usd.projected, usd.forecast) == (D(400), D(230), D(630))
    eur = out["EUR"]
    assert (eur.actual, eur.forecast) == (D(7), D(7))  # its last 7 days hold no usage
    # A member granted nothing sees nothing.
    nobody = principal(org, account_ids=frozenset())
    assert await forecast(db, nobody, q, period=Period.MONTHLY, as_of=date(2024, 9, 20)) == {}
