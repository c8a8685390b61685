"""Money of any size, on SQLite and PostgreSQL: a stored amount reads back exactly, sums beyond
64-bit nano-units are exact, every answer (/costs, trend, stats) is exact at 1e15 with its
currency's minor units, and the default currency is never the one with the largest number."""

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import principal
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.costs import query, services
from xplorr.costs.models import CostRecord, CostRollup
from xplorr.costs.query import CostQuery, Dim, Source
from xplorr.orgs.models import Org
from xplorr.users.models import User

D = Decimal


def exact(body: bytes) -> dict:
    """The JSON body with every number as the Decimal it spells (no float in between)."""
    return json.loads(body, parse_float=Decimal)


def month() -> tuple[date, date]:
    today = clock.now().date()
    return today.replace(day=1), today


async def test_an_amount_reads_back_exactly(db: AsyncSession, org: Org) -> None:
    """SQLAlchemy's Numeric is a float on SQLite: 1234567890123.123456 would come back as
    ...123535. Money keeps every digit."""
    account = await make_account(db, org)
    value = D("1234567890123.123456789")
    await add_costs(db, account, [{"usage_date": "2024-09-01", "billed_cost": value}])
    stored = await db.scalar(select(CostRecord.billed_cost))
    assert (stored, type(stored)) == (value, Decimal)
    assert await db.scalar(select(CostRollup.billed_cost)) == value


async def test_sums_beyond_64_bit_nano_units_are_exact(db: AsyncSession, org: Org) -> None:
    """1,000 lines just under 1e12 with every nano-unit set: 9.2e9 was the old ceiling."""
    account = await make_account(db, org)
    line = D("999999999999.999999999")
    credit = D("-0.000000007")
    rows = [{"usage_date": f"2024-09-{1 + i % 30:02d}", "billed_cost": line} for i in range(1000)]
    rows.append({"usage_date": "2024-09-02", "billed_cost": credit, "charge_category": "Credit"})
    await add_costs(db, account, rows)
    who = principal(org)
    q = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 30))
    expected = line * 1000 + credit
    assert await query.totals_by_currency(db, who, q) == {"USD": expected}
    total = await db.scalar(select(func.sum(CostRecord.billed_cost)))
    assert (total, type(total)) == (expected, Decimal)
    for dims in ((Dim.DATE,), (Dim.CHARGE_CATEGORY,), (Dim.SERVICE,)):
        grouped = CostQuery(start=q.start, end=q.end, group_by=dims)
        auto = await query.aggregate(db, who, grouped)
        assert auto == await query.aggregate(db, who, grouped, source=Source.RECORDS)
        assert sum(g.cost for g in auto) == expected


async def test_negative_sums_and_mixed_signs(db: AsyncSession, org: Org) -> None:
    """The exact SUM on SQLite carries nano-units across signs: -4.7 = -5 + 0.3 and friends."""
    account = await make_account(db, org)
    cases = {
        "Amazon Elastic Compute Cloud": ["-5", "0.3"],
        "Amazon Simple Storage Service": ["5", "-0.3"],
        "AmazonRDS": ["-0.5"],
        "Lambda": ["0.000000001", "-0.000000002"],
        "Zero": ["3.25", "-3.25"],
        "Carry": ["0.6", "0.7", "-2.000000001"],
    }
    await add_costs(
        db,
        account,
        [
            {"usage_date": "2024-09-01", "billed_cost": v, "service_name": service}
            for service, values in cases.items()
            for v in values
        ],
    )
    q = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 1), group_by=(Dim.SERVICE,))
    for source in (None, Source.RECORDS):
        got = {
            g.key[0]: g.cost for g in await query.aggregate(db, principal(org), q, source=source)
        }
        assert got == {
            services.canonical(service): sum(map(D, values)) for service, values in cases.items()
        }
    if db.get_bind().dialect.name == "sqlite":
        stored = await db.scalar(
            text(
                "SELECT billed_cost FROM cost_service_rollups "
                "WHERE service_name = 'Amazon Elastic Compute Cloud'"
            )
        )
        assert stored == "-4.700000000"  # canonical text, as the Money type writes it


async def test_answers_are_exact_at_1e15(
    db: AsyncSession, org: Org, admin: User, client_for: ClientFor
) -> None:
    """1,000 lines summing to 999,999,999,999,999.99 USD this month: /costs, its trend and the
    organization's stats all answer with every digit (a float would write ...999.9 or 1e15)."""
    account = await make_account(db, org)
    first, today = month()
    rows = [{"usage_date": today, "billed_cost": "1000000000000"} for _ in range(999)]
    rows.append({"usage_date": first, "billed_cost": "999999999999.99"})
    await add_costs(db, account, rows)
    client = client_for(admin)
    expected = D("999999999999999.99")
    params = {"startDate": first.isoformat(), "endDate": today.isoformat()}

    r = await client.get("/costs", params=params)
    assert r.status_code == 200, r.text
    body = exact(r.content)
    assert (body["totalCost"], body["currency"]) == (expected, "USD")
    assert body["data"][0]["cost"] == expected
    assert b"999999999999999.99" in r.content

    trend = exact((await client.get("/costs/trend", params=params)).content)
    assert trend["totalCost"] == expected
    assert sum(d["cost"] for d in trend["data"]) == expected

    stats = exact((await client.get("/organizations/stats")).content)
    assert (stats["month_to_date_spend"], stats["currency"]) == (expected, "USD")
    assert stats["month_to_date_spend_by_currency"] == [{"currency": "USD", "amount": expected}]


async def test_each_currency_rounds_to_its_minor_units(
    db: AsyncSession, org: Org, admin: User, client_for: ClientFor
) -> None:
    account = await make_account(db, org)
    rows = [
        {"usage_date": "2024-09-01", "billed_cost": "1234.5", "currency": "JPY"},
        {"usage_date": "2024-09-01", "billed_cost": "1.2345", "currency": "KWD"},
        {"usage_date": "2024-09-01", "billed_cost": "10.005", "currency": "USD"},
    ]
    await add_costs(db, account, rows)
    client = client_for(admin)
    sept = {"startDate": "2024-09-01", "endDate": "2024-09-30"}
    for currency, total in (("JPY", "1235"), ("KWD", "1.235"), ("USD", "10.01")):
        r = await client.get("/costs", params={**sept, "currency": currency})
        assert f'"totalCost":{total},'.encode() in r.content
        assert exact(r.content)["totalCost"] == D(total)
    body = exact((await client.get("/costs", params=sept)).content)
    assert body["currencies"] == [  # the answer's currency first, then alphabetical
        {"currency": "JPY", "totalCost": D("1235")},
        {"currency": "KWD", "totalCost": D("1.235")},
        {"currency": "USD", "totalCost": D("10.01")},
    ]


async def test_default_currency_is_the_one_most_accounts_bill_in(
    db: AsyncSession, org: Org, admin: User, client_for: ClientFor
) -> None:
    """A yen bill is always the largest number; two dollar accounts make the answer dollars,
    in every range, even one where only yen were spent."""
    first, today = month()
    tokyo = await make_account(db, org, provider=Provider.AWS, name="Tokyo")
    for name in ("US 1", "US 2"):
        us = await make_account(db, org, provider=Provider.AWS, name=name)
        await add_costs(db, us, [{"usage_date": first, "billed_cost": "10"}])
    await add_costs(db, tokyo, [{"usage_date": today, "billed_cost": "5000000", "currency": "JPY"}])
    client = client_for(admin)
    params = {"startDate": first.isoformat(), "endDate": today.isoformat()}
    body = exact((await client.get("/costs", params=params)).content)
    assert (body["currency"], body["totalCost"]) == ("USD", D("20.00"))
    assert [c["currency"] for c in body["currencies"]] == ["USD", "JPY"]
    only_yen = {"startDate": today.isoformat(), "endDate": today.isoformat()}
    if today != first:
        trend = exact((await client.get("/costs/trend", params=only_yen)).content)
        assert (trend["currency"], trend["totalCost"]) == ("USD", D("0.00"))
    yen = exact((await client.get("/costs", params={**params, "currency": "jpy"})).content)
    assert (yen["currency"], yen["totalCost"]) == ("JPY", D("5000000"))
    stats = exact((await client.get("/organizations/stats")).content)
    assert (stats["currency"], stats["month_to_date_spend"]) == ("USD", D("20.00"))
    assert stats["month_to_date_spend_by_currency"] == [
        {"currency": "JPY", "amount": D("5000000")},
        {"currency": "USD", "amount": D("20.00")},
    ]
