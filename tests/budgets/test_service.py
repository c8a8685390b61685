"""Budget spend, forecasts and alerts through the cost store, as of fixed days, on both
databases, with exact answers."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs, mark_imported
from xplorr.budgets import service
from xplorr.budgets.models import AlertKind
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.settings import Settings
from xplorr.core.tenancy import org_scope
from xplorr.costs.forecast import Method, Period
from xplorr.orgs.models import Org

D = Decimal
AS_OF = date(2024, 9, 20)  # data complete through 09-19


@contextmanager
def statements(db: AsyncSession) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Reads only: the transaction's planner settings (costs.query on PostgreSQL) read nothing.
        if statement != "BEGIN" and "set_config(" not in statement:
            seen.append(statement)

    engine = db.bind.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
async def accounts(db: AsyncSession, org: Org) -> tuple[CloudAccount, CloudAccount]:
    """A: AmazonEC2 10/day (tag env=prod) and AmazonS3 5/day, plus 7 EUR on 09-05; B: 20/day;
    both from 2024-08-01 through 2024-09-19."""
    a = await make_account(db, org, name="prod")
    b = await make_account(db, org, name="staging")
    rows_a: list[dict[str, object]] = []
    rows_b: list[dict[str, object]] = []
    day = date(2024, 8, 1)
    while day <= date(2024, 9, 19):
        rows_a.append({"usage_date": day, "billed_cost": "10", "tags": {"env": "prod"}})
        rows_a.append({"usage_date": day, "billed_cost": "5", "service_name": "AmazonS3"})
        rows_b.append({"usage_date": day, "billed_cost": "20"})
        day += timedelta(days=1)
    rows_a.append({"usage_date": "2024-09-05", "billed_cost": "7", "currency": "EUR"})
    await add_costs(db, a, rows_a)
    await add_costs(db, b, rows_b)
    await mark_imported(db, a)
    await mark_imported(db, b)
    return a, b


async def test_spend_forecast_and_other_currencies(
    db: AsyncSession, org: Org, accounts: tuple[CloudAccount, CloudAccount]
) -> None:
    a, _b = accounts
    org_wide = await make_budget(db, org, name="all", amount="1000")
    ec2 = await make_budget(db, org, name="ec2", amount="200", account=a, service="AmazonEC2")
    prod = await make_budget(
        db, org, name="prod", amount="500", period=Period.QUARTERLY, tag=("env", "prod")
    )
    eur = await make_budget(db, org, name="eur", amount="100", currency="EUR", account=a)
    gcp = await make_budget(db, org, name="gcp", amount="50", provider="gcp")
    with statements(db) as seen:
        found = await service.statuses(
            db, org_scope(org.id), [org_wide, ec2, prod, eur, gcp], AS_OF
        )
    # The last day per account, every spend, the untagged series and the env series, each
    # series with its account names (the env series reads the tag rollup, the other the daily
    # rollup: two name lookups): seven statements, whatever the number of budgets.
    assert len(seen) == 7
    s = {x.budget.name: x for x in found}

    assert (s["all"].period_start, s["all"].period_end, s["all"].through) == (
        date(2024, 9, 1),
        date(2024, 9, 30),
        date(2024, 9, 19),
    )
    assert (s["all"].spend, s["all"].other, s["all"].percent_used) == (
        D(665),
        {"EUR": D(7)},
        D("66.50"),
    )
    f = s["all"].forecast
    assert f is not None
    assert (f.actual, f.projected, f.forecast, f.low, f.high) == (665, 385, 1050, 1050, 1050)
    assert f.method is Method.SEASONAL
    assert s["all"].projected_overrun

    assert (s["ec2"].spend, s["ec2"].percent_used, s["ec2"].other) == (D(190), 95, {"EUR": 7})
    assert s["ec2"].forecast is not None
    assert s["ec2"].forecast.forecast == 300

    assert (s["prod"].period_start, s["prod"].period_end) == (date(2024, 7, 1), date(2024, 9, 30))
    assert (s["prod"].spend, s["prod"].percent_used) == (D(500), D(100))
    assert s["prod"].forecast is not None
    assert s["prod"].forecast.forecast == 610

    assert (s["eur"].spend, s["eur"].other) == (D(7), {"USD": D(285)})
    assert s["eur"].forecast is not None
    assert (s["eur"].forecast.forecast, s["eur"].projected_overrun) == (7, False)

    assert (s["gcp"].spend, s["gcp"].percent_used, s["gcp"].projected_overrun) == (0, 0, False)
    out = service.to_out(s["all"])
    assert (out.current_spend, out.forecast, out.note) == (
        D("665.00"),
        D("1050.00"),
        service.OTHER_CURRENCIES_NOTE,
    )
    assert [(c.currency, c.spend) for c in out.other_currencies] == [("EUR", D("7.00"))]


async def test_forecast_adds_the_tax_to_come(db: AsyncSession, org: Org) -> None:
    """Usage 10/day from 08-01, and August's tax of 31 on 08-31 (10 % of its usage)."""
    acct = await make_account(db, org)
    rows: list[dict[str, object]] = [
        {"usage_date": date(2024, 8, 1) + timedelta(days=i), "billed_cost": "10"} for i in range(50)
    ]
    rows.append({"usage_date": "2024-08-31", "billed_cost": "31", "charge_category": "Tax"})
    await add_costs(db, acct, rows)
    await mark_imported(db, acct)
    month = await make_budget(db, org, name="month", amount="1000", account=acct)
    quarter = await make_budget(db, org, name="quarter", period=Period.QUARTERLY, amount="1000")
    found = await service.statuses(db, org_scope(org.id), [month, quarter], AS_OF)
    s = {x.budget.name: x.forecast for x in found}
    # September: 190 spent, 110 of usage to come, and 10 % tax on 300 of usage.
    assert s["month"] is not None
    assert (s["month"].actual, s["month"].projected, s["month"].forecast) == (190, 140, 330)
    # The quarter: August's 31 is posted already; the tax to come is 10 % of 610 less 31.
    assert s["quarter"] is not None
    assert (s["quarter"].actual, s["quarter"].projected, s["quarter"].forecast) == (531, 140, 671)


async def test_statements_do_not_grow_with_budgets(
    db: AsyncSession, org: Org, accounts: tuple[CloudAccount, CloudAccount]
) -> None:
    a, b = accounts
    few = [await make_budget(db, org, account=a)]
    many = few + [
        await make_budget(db, org, account=acct, amount=str(100 + i))
        for i, acct in enumerate([a, b] * 10)
    ]
    counts = []
    for budgets in (few, many):
        with statements(db) as seen:
            await service.statuses(db, org_scope(org.id), budgets, AS_OF)
        counts.append(len(seen))
    assert counts == [4, 4]


async def test_alerts_fire_once_per_kind_and_period(
    db: AsyncSession, org: Org, accounts: tuple[CloudAccount, CloudAccount], settings: Settings
) -> None:
    a, _b = accounts
    await make_budget(db, org, name="all", amount="1000")
    await make_budget(db, org, name="ec2", amount="200", account=a, service="AmazonEC2")
    await make_budget(db, org, name="quiet", amount="200", account=a, alert_at_80=False)
    fired = await service.evaluate(db, org.id, as_of=AS_OF)
    await db.commit()
    assert sorted((f.status.budget.name, f.kind) for f in fired) == [
        ("all", AlertKind.PROJECTED_OVERRUN),
        ("ec2", AlertKind.AT_80),
        ("ec2", AlertKind.PROJECTED_OVERRUN),
        ("quiet", AlertKind.AT_100),  # 285 of 200; its 80 % alert is off
        ("quiet", AlertKind.PROJECTED_OVERRUN),
    ]
    ec2_80 = next(f for f in fired if f.kind is AlertKind.AT_80)
    assert ec2_80.event_key == f"budget:{ec2_80.status.budget.id}:2024-09-01:80"
    assert await service.evaluate(db, org.id, as_of=AS_OF) == []
    assert await service.evaluate(db, org.id, account_id=a.id, as_of=AS_OF) == []
    assert await service.alert_count(db, org.id) == 5
    # October: no October data yet; the forecast from September's level (35/day x 31) still
    # overruns the organization's budget, a new period's alert.
    october = await service.evaluate(db, org.id, as_of=date(2024, 10, 5))
    assert [(f.status.budget.name, f.kind, f.status.period_start) for f in october] == [
        ("all", AlertKind.PROJECTED_OVERRUN, date(2024, 10, 1)),
        ("ec2", AlertKind.PROJECTED_OVERRUN, date(2024, 10, 1)),
        ("quiet", AlertKind.PROJECTED_OVERRUN, date(2024, 10, 1)),
    ]
    assert october[0].status.spend == 0
    assert october[0].status.forecast is not None
    assert october[0].status.forecast.forecast == 1085


async def test_a_dormant_account_does_not_freeze_org_wide_budgets(
    db: AsyncSession, org: Org, accounts: tuple[CloudAccount, CloudAccount]
) -> None:
    old = await make_account(db, org, name="retired")
    await add_costs(db, old, [{"usage_date": "2024-08-10", "billed_cost": "40"}])
    await mark_imported(db, old)
    late = await make_account(db, org, name="late")  # five days behind: it counts
    await add_costs(db, late, [{"usage_date": "2024-09-14", "billed_cost": "1"}])
    await mark_imported(db, late)
    org_wide = await make_budget(db, org, name="all", amount="1000")
    [s] = await service.statuses(db, org_scope(org.id), [org_wide], AS_OF)
    assert (s.through, s.spend) == (date(2024, 9, 14), D(35 * 14 + 1))
