"""Unit economics: posting values (one, a list, a CSV), cost per unit against hand-computed
days, the trend of product notes section 17 with its own example, scopes and grants.

Costs (billed USD, account "prod", service AmazonEC2 unless said): 2024-01-10 8,000 (+ 500
S3 tagged team=x), 2024-01-11 12,000, 2024-01-12 15,000, 2024-01-13 999 (no value that day).
Account "other": 2024-01-10 100.
"""

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from tests.factories.unit_economics import add_metrics
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.orgs.models import Org
from xplorr.unit_economics.models import MetricType, UnitMetric
from xplorr.unit_economics.service import trend
from xplorr.users.models import User

JAN = {"startDate": "2024-01-01", "endDate": "2024-01-31", "metricName": "Active Customers"}


@pytest.fixture
async def costs(db: AsyncSession, org: Org) -> tuple[CloudAccount, CloudAccount]:
    prod = await make_account(db, org, name="prod")
    other = await make_account(db, org, name="other")
    await add_costs(
        db,
        prod,
        [
            {"usage_date": "2024-01-10", "billed_cost": "8000"},
            {
                "usage_date": "2024-01-10",
                "billed_cost": "500",
                "service_name": "AmazonS3",
                "tags": {"team": "x"},
            },
            {"usage_date": "2024-01-11", "billed_cost": "12000"},
            {"usage_date": "2024-01-12", "billed_cost": "15000"},
            {"usage_date": "2024-01-13", "billed_cost": "999"},
        ],
    )
    await add_costs(db, other, [{"usage_date": "2024-01-10", "billed_cost": "100"}])
    return prod, other


def days(body: dict) -> list[tuple]:
    return [(d["date"], d["cost"], d["units"], d["cost_per_unit"]) for d in body["data"]]


class TestCostPerUnit:
    async def test_the_docs_example(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, costs
    ) -> None:
        # Jan $8,000 / 200 = $40; Feb $12,000 / 350 = $34.29; Mar $15,000 / 360 = $41.67
        # (as three days). First half (day 1) 40 against second half (day 3) 41.67: +4.17 %,
        # within 5 %: stable. A day with 0 is left out, never divided by.
        await add_metrics(
            db, org, {"2024-01-10": 200, "2024-01-11": 350, "2024-01-12": 360, "2024-01-14": 0}
        )
        prod, _other = costs
        r = await client_for(viewer).get(
            "/unit-economics", params={**JAN, "service": "AmazonEC2", "accountId": str(prod.id)}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert days(body) == [
            ("2024-01-10", 8000.0, 200, 40.0),
            ("2024-01-11", 12000.0, 350, 34.285714),
            ("2024-01-12", 15000.0, 360, 41.666667),
        ]
        assert body["totals"] == {"cost": 35000.0, "units": 910, "cost_per_unit": 38.461538}
        assert body["trend"] == {
            "direction": "stable",
            "first_half_cost_per_unit": 40.0,
            "second_half_cost_per_unit": 41.666667,
            "change_percent": 4.17,
            "threshold_percent": 5,
        }
        assert (body["metric_type"], body["currency"]) == ("customers", "USD")

    async def test_scopes_and_grants(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User, admin: User, costs
    ) -> None:
        prod, other = costs
        await add_metrics(db, org, {"2024-01-10": 200})
        everything = (await client_for(admin).get("/unit-economics", params=JAN)).json()
        assert days(everything) == [("2024-01-10", 8600.0, 200, 43.0)]
        assert everything["trend"] is None
        tagged = (
            await client_for(admin).get("/unit-economics", params={**JAN, "tag": "team:x"})
        ).json()
        assert days(tagged) == [("2024-01-10", 500.0, 200, 2.5)]
        one = (
            await client_for(admin).get(
                "/unit-economics", params={**JAN, "accountId": str(other.id)}
            )
        ).json()
        assert days(one) == [("2024-01-10", 100.0, 200, 0.5)]
        await grant(db, member, other)
        mine = (await client_for(member).get("/unit-economics", params=JAN)).json()
        assert days(mine) == [("2024-01-10", 100.0, 200, 0.5)]
        r = await client_for(member).get(
            "/unit-economics", params={**JAN, "accountId": str(prod.id)}
        )
        assert r.status_code == 404

    async def test_unknown_metric_is_404_and_bad_queries_422(
        self, client_for: ClientFor, admin: User
    ) -> None:
        client = client_for(admin)
        r = await client.get("/unit-economics", params=JAN)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "UNIT_METRIC_NOT_FOUND")
        for params in (
            {"startDate": "2024-01-01"},
            {**JAN, "tag": "nocolon"},
            {**JAN, "endDate": "2023-01-01"},
        ):
            r = await client.get("/unit-economics", params=params)
            assert r.status_code == 422, params


class TestTrend:
    def test_directions(self) -> None:
        up = trend([(Decimal(100), Decimal(10))] * 2 + [(Decimal(100), Decimal(5))] * 2)
        assert up is not None
        assert (up.direction, up.change_percent) == ("increasing", Decimal("100.00"))
        down = trend([(Decimal(100), Decimal(5))] * 2 + [(Decimal(100), Decimal(10))] * 2)
        assert down is not None
        assert (down.direction, down.change_percent) == ("decreasing", Decimal("-50.00"))
        edge = trend([(Decimal(100), Decimal(1)), (Decimal(105), Decimal(1))])
        assert edge is not None
        assert (edge.direction, edge.change_percent) == ("stable", Decimal("5.00"))
        over = trend([(Decimal(100), Decimal(1)), (Decimal("105.01"), Decimal(1))])
        assert over is not None
        assert over.direction == "increasing"
        assert trend([(Decimal(1), Decimal(1))]) is None


class TestRecording:
    async def test_one_value_then_replaced(
        self, db: AsyncSession, client_for: ClientFor, member: User
    ) -> None:
        client = client_for(member)
        body = {
            "name": "Active Customers",
            "metric_type": "customers",
            "value": 1247,
            "date": "2026-03-21",
        }
        r = await client.post("/unit-economics/metrics", json=body)
        assert r.status_code == 201, r.text
        assert r.json() == {**body, "created": True}
        r = await client.post("/unit-economics/metrics", json={**body, "value": 1300.5})
        assert r.status_code == 200, r.text
        assert (r.json()["value"], r.json()["created"]) == (1300.5, False)
        stored = (await db.scalars(select(UnitMetric))).all()
        assert [(m.name, m.value) for m in stored] == [("Active Customers", Decimal("1300.5"))]

    async def test_bulk_list(
        self, db: AsyncSession, client_for: ClientFor, org: Org, admin: User
    ) -> None:
        await add_metrics(db, org, {"2024-01-01": 5}, name="API calls")
        items = [
            {"name": "API calls", "metric_type": "api_calls", "value": v, "date": d}
            for d, v in (("2024-01-01", 10), ("2024-01-02", 20), ("2024-01-03", 30))
        ]
        r = await client_for(admin).post("/unit-economics/metrics", json=items)
        assert (r.status_code, r.json()) == (200, {"created": 2, "replaced": 1})
        values = (await db.scalars(select(UnitMetric.value).order_by(UnitMetric.date))).all()
        assert values == [Decimal(10), Decimal(20), Decimal(30)]

    async def test_csv_backfill(self, db: AsyncSession, client_for: ClientFor, admin: User) -> None:
        lines = ["name,metric_type,value,date"] + [
            f"Orders,transactions,{i},2025-{1 + i // 28:02}-{1 + i % 28:02}" for i in range(336)
        ]
        r = await client_for(admin).post(
            "/unit-economics/metrics/csv",
            content="\n".join(lines).encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert (r.status_code, r.json()) == (200, {"created": 336, "replaced": 0})
        count = len((await db.scalars(select(UnitMetric.id))).all())
        assert count == 336

    @pytest.mark.parametrize(
        ("csv_text", "field"),
        [
            ("name,value,date\nOrders,abc,2025-01-01\n", "line 2.value"),
            ("name,value,date\nOrders,1,2025-01-01\nOrders,1,2025-13-01\n", "line 3.date"),
            ("name,metric_type,value,date\nOrders,bogus,1,2025-01-01\n", "line 2.metric_type"),
            ("name,value\nOrders,1\n", "body"),
            ("name,value,date,extra\n", "body"),
            ("name,value,date\nOrders,-1,2025-01-01\n", "line 2.value"),
        ],
    )
    async def test_csv_errors_name_the_line(
        self, db: AsyncSession, client_for: ClientFor, admin: User, csv_text: str, field: str
    ) -> None:
        r = await client_for(admin).post(
            "/unit-economics/metrics/csv",
            content=csv_text.encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["field"] == field
        assert (await db.scalars(select(UnitMetric.id))).all() == []

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "x", "metric_type": "users", "value": 1, "date": "2024-01-01"},
            {"name": "x", "metric_type": "custom", "value": -1, "date": "2024-01-01"},
            {"name": "", "metric_type": "custom", "value": 1, "date": "2024-01-01"},
            {"name": "x", "metric_type": "custom", "value": 1, "date": "2024-02-30"},
            {"name": "x", "metric_type": "custom", "value": 1},
            # A number is not read as Unix time, nor a timestamp as its day.
            {"name": "x", "metric_type": "custom", "value": 1, "date": 0},
            {"name": "x", "metric_type": "custom", "value": 1, "date": "2024-01-01T00:00:00"},
        ],
    )
    async def test_bad_values_are_422(self, client_for: ClientFor, admin: User, body) -> None:
        r = await client_for(admin).post("/unit-economics/metrics", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")


async def test_metric_names_list_days_and_newest_kind(
    db: AsyncSession, client_for: ClientFor, org: Org, other_org: Org, viewer: User
) -> None:
    await add_metrics(db, org, {"2026-03-01": 10, "2026-03-03": 12})
    await add_metrics(
        db, org, {"2026-03-02": 5}, name="Orders", metric_type=MetricType.TRANSACTIONS
    )
    await add_metrics(db, other_org, {"2026-03-01": 1}, name="Foreign")
    r = await client_for(viewer).get("/unit-economics/metrics")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "data": [
            {
                "name": "Active Customers",
                "metric_type": "customers",
                "days": 2,
                "first_date": "2026-03-01",
                "last_date": "2026-03-03",
            },
            {
                "name": "Orders",
                "metric_type": "transactions",
                "days": 1,
                "first_date": "2026-03-02",
                "last_date": "2026-03-02",
            },
        ]
    }
