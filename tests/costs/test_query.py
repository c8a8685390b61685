"""The cost query module: exact sums, tenancy and grants, currencies kept apart, the engine it
picks, and every engine giving the same answer as the raw rows."""

import itertools
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import SEPT, Dataset, principal
from xplorr.costs import query
from xplorr.costs.models import CostMonthlyRollup, CostMonthlyTagRollup
from xplorr.costs.query import (
    CostQuery,
    Dim,
    Metric,
    Source,
    TagFilter,
    TagKey,
    aggregate,
    daily_series,
    source_for,
    totals_by_currency,
)
from xplorr.orgs.models import Org

D = Decimal
START, END = SEPT


ENV = TagKey("env")
TEAM = TagKey("team")


def sept(**kw) -> CostQuery:
    return CostQuery(start=START, end=END, **kw)


def as_dict(groups) -> dict:
    return {(g.key, g.currency): g.cost for g in groups}


class TestSums:
    async def test_by_service_to_the_nanodollar(self, db: AsyncSession, org: Org, dataset):
        groups = await aggregate(db, principal(org), sept(group_by=(Dim.SERVICE,)))
        assert as_dict(groups) == {
            (("Amazon Elastic Compute Cloud",), "EUR"): D("7.00"),
            (("Amazon Elastic Compute Cloud",), "USD"): D("10.009"),
            (("Amazon Simple Storage Service",), "USD"): D("3.25"),
            (("BigQuery",), "USD"): D("3"),
            (("Compute Engine",), "USD"): D("20.125"),
        }
        assert all(isinstance(g.cost, Decimal) for g in groups)

    async def test_metrics(self, db: AsyncSession, org: Org, dataset):
        who = principal(org)
        q = sept(currency="USD")
        assert await totals_by_currency(db, who, q) == {"USD": D("36.384")}
        effective = await totals_by_currency(db, who, replace(q, metric=Metric.EFFECTIVE))
        assert effective == {"USD": D("34.379000001")}
        listed = await totals_by_currency(db, who, replace(q, metric=Metric.LIST))
        assert listed == {"USD": D("38.379")}

    async def test_currencies_are_never_added(self, db: AsyncSession, org: Org, dataset):
        totals = await totals_by_currency(db, principal(org), sept())
        assert totals == {"USD": D("36.384"), "EUR": D("7.00")}

    async def test_credit_is_negative(self, db: AsyncSession, org: Org, dataset):
        q = sept(
            group_by=(Dim.CHARGE_CATEGORY,), services=frozenset({"Amazon Simple Storage Service"})
        )
        assert as_dict(await aggregate(db, principal(org), q)) == {
            (("Credit",), "USD"): D("-2.25"),
            (("Usage",), "USD"): D("5.50"),
        }

    async def test_date_range_is_inclusive(self, db: AsyncSession, org: Org, dataset):
        who = principal(org)
        one = await totals_by_currency(db, who, CostQuery(start=END, end=END))
        assert one == {"EUR": D("7.00")}
        edges = CostQuery(start=date(2024, 8, 31), end=date(2024, 10, 1), currency="USD")
        assert await totals_by_currency(db, who, edges) == {"USD": D("137.494")}

    async def test_names(self, db: AsyncSession, org: Org, dataset: Dataset):
        who = principal(org)
        by_provider = await aggregate(db, who, sept(group_by=(Dim.PROVIDER,), currency="USD"))
        assert {g.key: g.names for g in by_provider} == {
            ("aws",): ("AWS",),
            ("gcp",): ("Google Cloud",),
        }
        by_account = await aggregate(db, who, sept(group_by=(Dim.ACCOUNT,), currency="USD"))
        assert {g.key: g.names for g in by_account} == {
            (dataset.aws.id,): ("Prod AWS",),
            (dataset.gcp.id,): ("Data GCP",),
        }
        region = await aggregate(
            db,
            who,
            CostQuery(start=date(2024, 10, 1), end=date(2024, 10, 1), group_by=(Dim.REGION,)),
        )
        assert [(g.key, g.names) for g in region] == [((None,), ("(none)",))]
        assert query.provider_label("oracle", "Oracle") == "Oracle"
        assert query.provider_label("azure", "Microsoft") == "Microsoft Azure"

    async def test_raw_row_dimensions_and_tag_filters(self, db: AsyncSession, org: Org, dataset):
        who = principal(org)
        prod = (TagFilter(ENV, frozenset({"prod"})),)
        q = sept(group_by=(Dim.RESOURCE, Dim.SKU), tags=prod)
        assert source_for(q) is Source.RECORDS
        assert as_dict(await aggregate(db, who, q)) == {
            ((None, None), "EUR"): D("7.00"),
            (("i-1", "sku-1"), "USD"): D("10.005"),
            (("i-2", "sku-1"), "USD"): D("0.004"),
        }
        untagged_s3 = sept(
            group_by=(Dim.CHARGE_CATEGORY,),
            services=frozenset({"Amazon Simple Storage Service"}),
            tags=(TagFilter(ENV, frozenset({None})),),
        )
        assert as_dict(await aggregate(db, who, untagged_s3)) == {(("Credit",), "USD"): D("-2.25")}
        by_team = sept(group_by=(TEAM, Dim.PROVIDER), currency="USD")
        assert as_dict(await aggregate(db, who, by_team)) == {
            ((None, "aws"), "USD"): D("3.254"),  # 0.004 + 5.50 - 2.25
            (("a", "aws"), "USD"): D("10.005"),
            (("b", "gcp"), "USD"): D("23.125"),
        }

    async def test_tag_group_with_untagged_bucket(self, db: AsyncSession, org: Org, dataset):
        q = sept(group_by=(TagKey("env"),))
        assert source_for(q) is Source.TAG_VALUE_ROLLUP
        groups = await aggregate(db, principal(org), q)
        assert as_dict(groups) == {
            ((None,), "USD"): D("0.75"),  # credit -2.25 + BigQuery 3 + 0
            (("",), "USD"): D("20.125"),  # {"env": null}
            (("dev",), "USD"): D("5.50"),
            (("prod",), "USD"): D("10.009"),
            (("prod",), "EUR"): D("7.00"),
        }
        untagged = next(g for g in groups if g.key == (None,))
        assert untagged.names == ("untagged",)

    async def test_zero_untagged_bucket_is_left_out(self, db: AsyncSession, org: Org, dataset):
        # On 2024-09-16 the untagged rows of "env" add up to 3 + 0; of "team" only the zero row.
        q = CostQuery(start=date(2024, 9, 16), end=date(2024, 9, 16), group_by=(TagKey("team"),))
        for source in (None, Source.RECORDS):
            assert as_dict(await aggregate(db, principal(org), q, source=source)) == {
                (("b",), "USD"): D("3")
            }
        # As a filter, the untagged rows that add up to zero are a group (the row counts tell).
        untagged = replace(q, group_by=(Dim.SERVICE,), tags=(TagFilter(TEAM, frozenset({None})),))
        assert source_for(untagged) is Source.TAG_ROLLUP
        for source in (None, Source.RECORDS):
            assert as_dict(await aggregate(db, principal(org), untagged, source=source)) == {
                (("BigQuery",), "USD"): D("0")
            }


class TestTenancy:
    async def test_other_org_never_appears(self, db: AsyncSession, org: Org, dataset):
        for group_by in [(), (Dim.ACCOUNT,), (TagKey("env"),), (Dim.RESOURCE,)]:
            groups = await aggregate(db, principal(org), sept(group_by=group_by))
            assert sum(g.cost for g in groups if g.currency == "USD") == D("36.384")

    async def test_foreign_account_filter_reads_nothing(
        self, db: AsyncSession, org: Org, dataset: Dataset
    ):
        q = sept(account_ids=frozenset({dataset.foreign.id}))
        assert await aggregate(db, principal(org), q) == []

    async def test_grants_limit_every_answer(self, db: AsyncSession, org: Org, dataset: Dataset):
        who = principal(org, account_ids=frozenset({dataset.gcp.id}))
        assert await totals_by_currency(db, who, sept()) == {"USD": D("23.125")}
        env = await aggregate(db, who, sept(group_by=(TagKey("env"),)))
        assert as_dict(env) == {((None,), "USD"): D("3"), (("",), "USD"): D("20.125")}
        # Asking for another account narrows to nothing; it never widens the grant.
        asked = sept(account_ids=frozenset({dataset.aws.id}))
        assert await aggregate(db, who, asked) == []
        nobody = principal(org, account_ids=frozenset())
        assert await aggregate(db, nobody, sept()) == []


class TestDailySeries:
    async def test_every_day_zero_filled(self, db: AsyncSession, org: Org, dataset):
        series = await daily_series(db, principal(org), sept())
        assert set(series) == {"USD", "EUR"}
        usd = series["USD"]
        assert [p.day for p in usd] == [date(2024, 9, d) for d in range(1, 31)]
        assert usd[0].cost == D("10.009")
        assert usd[1].cost == D("3.25")
        assert usd[2].cost == D(0)
        assert sum(p.cost for p in usd) == D("36.384")

    async def test_requested_currency_present_without_data(self, db: AsyncSession, org: Org):
        series = await daily_series(db, principal(org), sept(currency="JPY"))
        assert list(series) == ["JPY"]
        assert len(series["JPY"]) == 30
        assert all(p.cost == 0 for p in series["JPY"])


class TestEngineChoice:
    @pytest.mark.parametrize(
        ("q", "source"),
        [
            (sept(), Source.SERVICE_ROLLUP),
            (sept(group_by=(Dim.SERVICE, Dim.DATE)), Source.SERVICE_ROLLUP),
            (
                sept(group_by=(Dim.MONTH, Dim.ACCOUNT), providers=frozenset({"aws"})),
                Source.SERVICE_ROLLUP,
            ),
            (
                sept(
                    group_by=(Dim.PROVIDER, Dim.SERVICE_CATEGORY, Dim.CURRENCY),
                    services=frozenset({"Amazon Simple Storage Service"}),
                    service_categories=frozenset({None}),
                    currency="USD",
                ),
                Source.SERVICE_ROLLUP,
            ),
            (sept(group_by=(Dim.REGION,)), Source.ROLLUP),
            (sept(group_by=(Dim.SERVICE,), charge_categories=frozenset({"Tax"})), Source.ROLLUP),
            (sept(regions=frozenset({None}), charge_categories=frozenset({"Tax"})), Source.ROLLUP),
            # One tag key with nothing but time, account and currency: the tag value rollup.
            (sept(group_by=(TagKey("env"), Dim.DATE)), Source.TAG_VALUE_ROLLUP),
            (sept(tags=(TagFilter(TagKey("env"), frozenset({"prod"})),)), Source.TAG_VALUE_ROLLUP),
            # Untagged rows (row counts tell an empty bucket from one that adds up to zero).
            (sept(tags=(TagFilter(TagKey("env"), frozenset({None})),)), Source.TAG_VALUE_ROLLUP),
            (
                sept(
                    group_by=(TagKey("env"), Dim.ACCOUNT),
                    tags=(TagFilter(TagKey("env"), frozenset({None})),),
                ),
                Source.TAG_VALUE_ROLLUP,
            ),
            (
                sept(
                    group_by=(Dim.SERVICE,),
                    tags=(TagFilter(TagKey("env"), frozenset({None, "prod"})),),
                ),
                Source.TAG_ROLLUP,
            ),
            # The tag rollup carries provider, service, region and the categories.
            (sept(group_by=(TagKey("env"),), providers=frozenset({"aws"})), Source.TAG_ROLLUP),
            (sept(group_by=(TagKey("env"), Dim.SERVICE)), Source.TAG_ROLLUP),
            (
                sept(group_by=(TagKey("env"), Dim.WEEK), regions=frozenset({"us-east-1"})),
                Source.TAG_ROLLUP,
            ),
            (sept(group_by=(TagKey("env"), Dim.PRICING_CATEGORY)), Source.RECORDS),
            (sept(group_by=(Dim.PRICING_CATEGORY, Dim.REGION)), Source.ROLLUP),
            (sept(group_by=(TagKey("env"), TagKey("team"))), Source.RECORDS),
            # Resources: whole months from the monthly resource rollup, never by day or week.
            (sept(resource_ids=frozenset({"i-1"})), Source.RESOURCE_ROLLUP),
            (sept(group_by=(Dim.RESOURCE,)), Source.RESOURCE_ROLLUP),
            (
                sept(group_by=(Dim.MONTH, Dim.RESOURCE), regions=frozenset({"us-east-1"})),
                Source.RESOURCE_ROLLUP,
            ),
            (sept(group_by=(Dim.RESOURCE, Dim.DATE)), Source.RECORDS),
            (sept(group_by=(Dim.RESOURCE, Dim.SKU)), Source.RECORDS),
            (sept(group_by=(Dim.SKU,)), Source.SKU_ROLLUP),
            (
                sept(group_by=(Dim.SKU, Dim.DATE), skus=frozenset({None}), currency="USD"),
                Source.SKU_ROLLUP,
            ),
            (sept(group_by=(Dim.SKU,), resource_ids=frozenset({"i-1"})), Source.RECORDS),
            (
                sept(group_by=(Dim.RESOURCE,), tags=(TagFilter(ENV, frozenset({"prod"})),)),
                Source.RECORDS,
            ),
        ],
    )
    def test_source_for(self, q: CostQuery, source: Source):
        assert source_for(q) is source

    async def test_forcing_a_table_that_cannot_answer_is_refused(self, db, org: Org):
        with pytest.raises(ValueError, match="cannot answer"):
            await aggregate(db, principal(org), sept(group_by=(Dim.SKU,)), source=Source.ROLLUP)
        with pytest.raises(ValueError, match="cannot answer"):
            await aggregate(
                db, principal(org), sept(group_by=(Dim.REGION,)), source=Source.SERVICE_ROLLUP
            )


GROUPINGS = [
    (),
    (Dim.PROVIDER,),
    (Dim.SERVICE,),
    (Dim.SERVICE_CATEGORY,),
    (Dim.REGION,),
    (Dim.DATE,),
    (Dim.MONTH,),
    (Dim.ACCOUNT,),
    (Dim.CHARGE_CATEGORY,),
    (Dim.CURRENCY,),
    (Dim.DATE, Dim.SERVICE, Dim.ACCOUNT),
    (Dim.MONTH, Dim.PROVIDER, Dim.SERVICE_CATEGORY),
    (Dim.SERVICE, Dim.REGION),
    (ENV,),
    (ENV, Dim.DATE),
    (Dim.ACCOUNT, TEAM),
    (Dim.MONTH, ENV, Dim.CURRENCY),
    (Dim.WEEK,),
    (Dim.PRICING_CATEGORY, Dim.REGION),
    (ENV, Dim.SERVICE),
    (Dim.REGION, ENV, Dim.CHARGE_CATEGORY),
    (Dim.PROVIDER, TEAM, Dim.WEEK),
    (Dim.RESOURCE,),
    (Dim.SKU, Dim.REGION),
    (Dim.MONTH, Dim.RESOURCE, Dim.PROVIDER),
]
FILTERS = [
    {},
    {"providers": frozenset({"gcp"})},
    {"services": frozenset({"Amazon Simple Storage Service", "BigQuery"})},
    {"regions": frozenset({None, "us-west-2"}), "charge_categories": frozenset({"Credit", "Tax"})},
    {"service_categories": frozenset({None, "Analytics"})},
    {"currency": "USD"},
    {"tags": (TagFilter(ENV, frozenset({"prod", ""})),)},
    {"tags": (TagFilter(ENV, frozenset({"dev", None})),)},
    {"services": frozenset({"AmazonEC2"})},  # the raw spelling matches the shown name
    {"providers": frozenset({"aws"}), "tags": (TagFilter(TEAM, frozenset({"a", None})),)},
    {"regions": frozenset({"us-central1"}), "service_categories": frozenset({"Compute"})},
    {"resource_ids": frozenset({"i-1", "bucket-1"}), "charge_categories": frozenset({"Usage"})},
    {"skus": frozenset({"sku-1", None}), "providers": frozenset({"aws"})},
    {"tags": (TagFilter(TEAM, frozenset({None})),), "regions": frozenset({"us-central1"})},
]


class TestRollupsEqualRawRows:
    """Every query the rollups answer gives exactly what summing the raw rows gives (each
    engine is checked: cost_service_rollups, cost_rollups, cost_tag_rollups, cost_records)."""

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (date(2024, 8, 1), date(2024, 10, 31)),
            # Part of August and of October from the daily rollups, September from the monthly.
            (date(2024, 8, 31), date(2024, 10, 1)),
        ],
        ids=["aug-oct", "partial-months"],
    )
    async def test_every_grouping_and_filter(
        self, db: AsyncSession, org: Org, dataset: Dataset, start: date, end: date
    ):
        who = principal(org)
        checked = dict.fromkeys(Source, 0)
        for group_by, filters in itertools.product(GROUPINGS, FILTERS):
            q = CostQuery(start=start, end=end, group_by=group_by, **filters)
            auto = await aggregate(db, who, q)
            raw = await aggregate(db, who, q, source=Source.RECORDS)
            assert auto == raw, (q, source_for(q))
            checked[source_for(q)] += 1
        assert all(checked.values()), checked

    @pytest.mark.parametrize("metric", [Metric.EFFECTIVE, Metric.LIST])
    async def test_every_grouping_of_each_metric(
        self, db: AsyncSession, org: Org, dataset: Dataset, metric: Metric
    ):
        who = principal(org)
        for group_by in GROUPINGS:
            q = sept(metric=metric, group_by=group_by)
            assert await aggregate(db, who, q) == await aggregate(db, who, q, source=Source.RECORDS)

    async def test_with_grants_and_account_filter(
        self, db: AsyncSession, org: Org, dataset: Dataset
    ):
        who = principal(org, account_ids=frozenset({dataset.aws.id, uuid.uuid4()}))
        for group_by in GROUPINGS:
            q = sept(group_by=group_by, account_ids=frozenset({dataset.aws.id, dataset.gcp.id}))
            assert await aggregate(db, who, q) == await aggregate(db, who, q, source=Source.RECORDS)

    async def test_each_dimension_in_one_query(self, db: AsyncSession, org: Org, dataset):
        who = principal(org)
        dims = (Dim.PROVIDER, Dim.ACCOUNT, Dim.SERVICE, Dim.REGION, Dim.PRICING_CATEGORY)
        for filters in [{}, {"tags": (TagFilter(ENV, frozenset({"prod", None})),)}]:
            q = CostQuery(start=date(2024, 8, 31), end=date(2024, 10, 1), **filters)
            each = await query.aggregate_each(db, who, q, dims)
            for dim in dims:
                assert each[dim] == await aggregate(db, who, replace(q, group_by=(dim,))), dim

    async def test_top_groups_are_the_largest_with_the_count_and_totals(
        self, db: AsyncSession, org: Org, dataset
    ):
        """PostgreSQL ranks in SQL, SQLite here: both give aggregate()'s largest groups."""
        who = principal(org)
        for group_by in [(Dim.RESOURCE,), (Dim.SERVICE,), (Dim.PROVIDER,), (ENV,)]:
            q = CostQuery(start=date(2024, 8, 1), end=date(2024, 10, 31), group_by=group_by)
            groups = await aggregate(db, who, q)
            usd = [g for g in groups if g.currency == "USD"]
            for n in (1, 2, 50):
                top = await query.top_groups(db, who, q, "USD", n)
                floor = sorted((g.cost for g in usd), reverse=True)[min(n, len(usd)) - 1]
                assert top.groups == [g for g in usd if g.cost >= floor], (group_by, n)
                assert top.count == len(usd)
                assert top.totals == {
                    cur: sum((g.cost for g in groups if g.currency == cur), D(0))
                    for cur in {g.currency for g in groups}
                }


class TestQueryValidation:
    def test_reversed_range(self):
        with pytest.raises(ValueError, match="before"):
            CostQuery(start=END, end=START)

    @pytest.mark.parametrize("key", ["", "a" * 201, 'say "hi"', "back\\slash", "tab\there"])
    def test_bad_tag_keys(self, key: str):
        with pytest.raises(ValueError, match="Tag key"):
            TagKey(key)

    def test_repeated_dimension(self):
        with pytest.raises(ValueError, match="repeats"):
            sept(group_by=(Dim.SERVICE, Dim.SERVICE))


class TestMonthlyRollups:
    async def test_whole_months_are_read_from_the_monthly_rollups(
        self, db: AsyncSession, org: Org, dataset: Dataset
    ):
        months = await db.scalars(
            select(CostMonthlyRollup.usage_date).where(CostMonthlyRollup.org_id == org.id)
        )
        assert set(months) == {date(2024, 8, 1), date(2024, 9, 1), date(2024, 10, 1)}
        tags = await db.scalars(
            select(CostMonthlyTagRollup.tag_value).where(
                CostMonthlyTagRollup.org_id == org.id, CostMonthlyTagRollup.tag_key == "env"
            )
        )
        assert set(tags) == {"prod", "dev", ""}
        q = CostQuery(start=date(2024, 8, 31), end=date(2024, 10, 1))
        assert query._month_split(q) == (
            [(date(2024, 8, 31), date(2024, 8, 31)), (date(2024, 10, 1), date(2024, 10, 1))],
            (date(2024, 9, 1), date(2024, 9, 30)),
        )
        assert query._month_split(CostQuery(start=date(2024, 9, 2), end=date(2024, 9, 29))) == (
            [(date(2024, 9, 2), date(2024, 9, 29))],
            None,
        )
        assert query._month_split(CostQuery(start=date(2024, 12, 1), end=date(2025, 1, 31)))[1] == (
            date(2024, 12, 1),
            date(2025, 1, 31),
        )
