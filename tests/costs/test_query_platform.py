"""The cost query API the next areas build on: daily series per group, the last complete day
of the data (per account and for a set), month-to-date over complete days, and the commitment
dimension; exact answers on both databases."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import Dataset, principal
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.cloud_accounts.models import Provider
from xplorr.core.tenancy import org_scope
from xplorr.costs import query
from xplorr.costs.models import CostImport
from xplorr.costs.query import CostQuery, DayCost, Dim, MonthToDate, Source
from xplorr.orgs.models import Org

D = Decimal


def _days(start: date, *costs: str) -> list[DayCost]:
    return [DayCost(start.replace(day=start.day + i), D(c)) for i, c in enumerate(costs)]


async def _imported(
    db: AsyncSession, account_id, period: date, last: date, snapshot: datetime
) -> None:
    """As an import records it: the period's newest usage day and when its snapshot was taken."""
    await db.execute(
        update(CostImport)
        .where(CostImport.cloud_account_id == account_id, CostImport.billing_period == period)
        .values(last_date=last, snapshot_at=snapshot)
    )
    await db.commit()


@pytest.fixture
async def complete(db: AsyncSession, dataset: Dataset) -> Dataset:
    """AWS complete through 2024-09-30 (its October export was written on 10-01, mid-day),
    GCP through 2024-09-16."""
    sept, octo = date(2024, 9, 1), date(2024, 10, 1)
    await _imported(db, dataset.aws.id, sept, date(2024, 9, 30), datetime(2024, 10, 2, tzinfo=UTC))
    await _imported(
        db, dataset.aws.id, octo, date(2024, 10, 1), datetime(2024, 10, 1, 10, tzinfo=UTC)
    )
    await _imported(
        db, dataset.gcp.id, sept, date(2024, 9, 16), datetime(2024, 9, 20, 6, tzinfo=UTC)
    )
    await _imported(
        db, dataset.foreign.id, sept, date(2024, 9, 29), datetime(2024, 9, 30, tzinfo=UTC)
    )
    return dataset


class TestDailySeriesBy:
    async def test_per_service_per_account_every_day(
        self, db: AsyncSession, org: Org, dataset: Dataset
    ) -> None:
        q = CostQuery(
            start=date(2024, 9, 1), end=date(2024, 9, 3), group_by=(Dim.SERVICE, Dim.ACCOUNT)
        )
        series = await query.daily_series_by(db, principal(org), q)
        first = date(2024, 9, 1)
        assert series == {
            (("Amazon Elastic Compute Cloud", dataset.aws.id), "USD"): _days(
                first, "10.009", "0", "0"
            ),
            (("Amazon Simple Storage Service", dataset.aws.id), "USD"): _days(
                first, "0", "3.25", "0"
            ),
        }

    async def test_grants_limit_the_groups(
        self, db: AsyncSession, org: Org, dataset: Dataset
    ) -> None:
        q = CostQuery(start=date(2024, 9, 15), end=date(2024, 9, 16), group_by=(Dim.ACCOUNT,))
        only_aws = principal(org, account_ids=frozenset({dataset.aws.id}))
        assert await query.daily_series_by(db, only_aws, q) == {}
        everyone = await query.daily_series_by(db, principal(org), q)
        first = date(2024, 9, 15)
        assert everyone == {((dataset.gcp.id,), "USD"): _days(first, "20.125", "3")}

    async def test_a_date_dimension_is_refused(self, db: AsyncSession, org: Org) -> None:
        q = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 3), group_by=(Dim.MONTH,))
        with pytest.raises(ValueError, match="DATE/MONTH"):
            await query.daily_series_by(db, principal(org), q)


class TestDataThrough:
    async def test_per_account_and_for_a_set(
        self, db: AsyncSession, org: Org, complete: Dataset
    ) -> None:
        who = principal(org)
        assert await query.data_through_by_account(db, who) == {
            complete.aws.id: date(2024, 9, 30),  # 10-01 is partial: written that day
            complete.gcp.id: date(2024, 9, 16),
        }
        assert await query.data_through(db, who) == date(2024, 9, 16)
        assert await query.data_through(db, who, [complete.aws.id]) == date(2024, 9, 30)

    async def test_grants_and_other_orgs(
        self, db: AsyncSession, org: Org, complete: Dataset
    ) -> None:
        only_aws = principal(org, account_ids=frozenset({complete.aws.id}))
        assert await query.data_through_by_account(db, only_aws) == {
            complete.aws.id: date(2024, 9, 30)
        }
        assert await query.data_through(db, only_aws, [complete.gcp.id]) is None
        assert await query.data_through(db, principal(org), [complete.foreign.id]) is None
        assert await query.data_through(db, org_scope(org.id), []) is None

    async def test_no_data(self, db: AsyncSession, org: Org) -> None:
        assert await query.data_through(db, principal(org)) is None


class TestMonthToDate:
    async def test_only_complete_days_count(
        self, db: AsyncSession, org: Org, complete: Dataset
    ) -> None:
        who = principal(org)
        q = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 1))
        # GCP is complete through 09-16 only: the month so far stops there for the org.
        assert await query.month_to_date(db, who, q, date(2024, 9, 20)) == MonthToDate(
            date(2024, 9, 1), date(2024, 9, 16), {"USD": D("36.384")}
        )
        aws = CostQuery(
            start=date(2024, 9, 1), end=date(2024, 9, 1), account_ids=frozenset({complete.aws.id})
        )
        assert await query.month_to_date(db, who, aws, date(2024, 9, 20)) == MonthToDate(
            date(2024, 9, 1), date(2024, 9, 20), {"USD": D("13.259")}
        )
        assert await query.month_to_date(db, who, aws, date(2024, 9, 30)) == MonthToDate(
            date(2024, 9, 1), date(2024, 9, 30), {"USD": D("13.259"), "EUR": D("7.00")}
        )

    async def test_a_month_without_a_complete_day(
        self, db: AsyncSession, org: Org, complete: Dataset
    ) -> None:
        q = CostQuery(start=date(2024, 10, 1), end=date(2024, 10, 1))
        assert await query.month_to_date(db, principal(org), q, date(2024, 10, 5)) == MonthToDate(
            date(2024, 10, 1), None, {}
        )


class TestCommitmentDimension:
    async def test_costs_per_commitment(self, db: AsyncSession, org: Org) -> None:
        account = await make_account(db, org, provider=Provider.AWS, name="Commitments")
        await add_costs(
            db,
            account,
            [
                {
                    "usage_date": "2024-09-05",
                    "billed_cost": "4.5",
                    "commitment_discount_id": "ri-1",
                },
                {
                    "usage_date": "2024-09-06",
                    "billed_cost": "0.25",
                    "commitment_discount_id": "ri-1",
                },
                {"usage_date": "2024-09-05", "billed_cost": "1.25"},
            ],
        )
        q = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 30), group_by=(Dim.COMMITMENT,))
        assert query.source_for(q) is Source.RECORDS
        groups = await query.aggregate(db, principal(org), q)
        assert {(g.key, g.currency): g.cost for g in groups} == {
            ((None,), "USD"): D("1.25"),
            (("ri-1",), "USD"): D("4.75"),
        }
        assert [g.names for g in groups] == [("(none)",), ("ri-1",)]


class TestQuantity:
    async def test_consumed_quantity_per_resource_sku_and_unit(
        self, db: AsyncSession, org: Org, other_org: Org
    ) -> None:
        account = await make_account(db, org, provider=Provider.AWS, name="Usage")
        rows = [
            ("2024-09-05", "i-1", "sku-1", "Hours", "1.5"),
            ("2024-09-06", "i-1", "sku-1", "Hours", "2.25"),
            ("2024-09-06", "i-1", "sku-2", "GB", "10"),
            ("2024-09-06", "vol-1", "sku-2", "GB", "0.125"),
        ]
        await add_costs(
            db,
            account,
            [
                {
                    "usage_date": day,
                    "billed_cost": "1",
                    "resource_id": resource,
                    "sku_id": sku,
                    "consumed_unit": unit,
                    "consumed_quantity": D(quantity),
                }
                for day, resource, sku, unit, quantity in rows
            ],
        )
        foreign = await make_account(db, other_org, provider=Provider.AWS, name="Other")
        await add_costs(
            db,
            foreign,
            [
                {
                    "usage_date": "2024-09-05",
                    "billed_cost": "1",
                    "resource_id": "i-1",
                    "sku_id": "sku-1",
                    "consumed_unit": "Hours",
                    "consumed_quantity": D(100),
                }
            ],
        )
        q = CostQuery(
            start=date(2024, 9, 1),
            end=date(2024, 9, 30),
            metric=query.Metric.QUANTITY,
            group_by=(Dim.RESOURCE, Dim.SKU, Dim.UNIT),
        )
        assert query.source_for(q) is Source.RECORDS
        groups = await query.aggregate(db, principal(org), q)
        assert {(g.key, g.currency): g.cost for g in groups} == {
            (("i-1", "sku-1", "Hours"), "USD"): D("3.75"),
            (("i-1", "sku-2", "GB"), "USD"): D("10"),
            (("vol-1", "sku-2", "GB"), "USD"): D("0.125"),
        }
        with pytest.raises(ValueError, match="cannot answer"):
            await query.aggregate(db, principal(org), q, source=Source.ROLLUP)


def _sept(**kw) -> CostQuery:
    return CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 30), **kw)


class TestManyTotals:
    async def test_many_queries_in_one(self, db: AsyncSession, org: Org, dataset: Dataset) -> None:
        queries = {
            "september": _sept(),
            "s3": _sept(services=frozenset({"Amazon Simple Storage Service"})),
            "us-west-2": _sept(regions=frozenset({"us-west-2"})),
            "prod": _sept(tags=(query.TagFilter(query.TagKey("env"), frozenset({"prod"})),)),
            "october": CostQuery(start=date(2024, 10, 1), end=date(2024, 10, 31)),
            "nothing": CostQuery(start=date(2023, 1, 1), end=date(2023, 1, 31)),
            "no account": _sept(account_ids=frozenset()),
        }
        who = principal(org)
        totals = await query.totals_for_many(db, who, queries)
        assert totals == {
            "september": {"USD": D("36.384"), "EUR": D("7.00")},
            "s3": {"USD": D("3.25")},
            "us-west-2": {"USD": D("3.25")},
            "prod": {"USD": D("10.009"), "EUR": D("7.00")},
            "october": {"USD": D("1.11")},
            "nothing": {},
            "no account": {},
        }
        for key, q in queries.items():  # the same answers as one query at a time
            assert totals[key] == await query.totals_by_currency(db, who, q)

    async def test_grants_apply_to_each(self, db: AsyncSession, org: Org, dataset: Dataset) -> None:
        only_gcp = principal(org, account_ids=frozenset({dataset.gcp.id}))
        totals = await query.totals_for_many(
            db, only_gcp, {1: _sept(), 2: _sept(account_ids=frozenset({dataset.aws.id}))}
        )
        assert totals == {1: {"USD": D("23.125")}, 2: {}}

    async def test_totals_per_account(self, db: AsyncSession, org: Org, dataset: Dataset) -> None:
        assert await query.totals_by_account(db, principal(org), _sept()) == {
            dataset.aws.id: {"USD": D("13.259"), "EUR": D("7.00")},
            dataset.gcp.id: {"USD": D("23.125")},
        }
