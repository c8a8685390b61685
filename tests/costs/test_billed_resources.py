"""``costs.query.billed_resources``: what a bill-derived inventory reads and what tagging
policies check. Per account and resource id: the summed cost per currency, the first and last
usage day, the newest day's attributes and tags; rows without a resource left out; filters and
grants applied."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import principal
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.core.tenancy import Role
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Metric
from xplorr.orgs.models import Org

RANGE = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 30))


async def test_resources_with_newest_tags_costs_per_currency_and_days(
    db: AsyncSession, org: Org, other_org: Org
) -> None:
    a = await make_account(db, org)
    b = await make_account(db, org)
    foreign = await make_account(db, other_org)
    await add_costs(
        db,
        a,
        [
            {
                "usage_date": "2024-09-01",
                "billed_cost": "1.5",
                "effective_cost": "1",
                "resource_id": "i-1",
                "resource_name": "old",
                "tags": {"team": "a"},
            },
            {
                "usage_date": "2024-09-03",
                "billed_cost": "2.25",
                "effective_cost": "2",
                "resource_id": "i-1",
                "resource_name": "web-1",
                "resource_type": "Instance",
                "tags": {"team": "b", "n": 3, "empty": None, "flag": True},
            },
            {
                "usage_date": "2024-09-03",
                "billed_cost": "4",
                "resource_id": "i-1",
                "currency": "EUR",
            },
            {
                "usage_date": "2024-09-02",
                "billed_cost": "7",
                "resource_id": "x-2",
                "service_name": "AmazonS3",
                "service_category": "Storage",
                "region": None,
                "tags": ["not", "an", "object"],
            },
            {"usage_date": "2024-09-02", "billed_cost": "100"},  # no resource
            {"usage_date": "2024-10-01", "billed_cost": "100", "resource_id": "i-1"},
        ],
    )
    await add_costs(db, b, [{"usage_date": "2024-09-05", "billed_cost": "3", "resource_id": "i-1"}])
    await add_costs(
        db, foreign, [{"usage_date": "2024-09-05", "billed_cost": "9", "resource_id": "z"}]
    )

    found = await query.billed_resources(db, principal(org), RANGE)
    assert [(r.cloud_account_id, r.resource_id) for r in found] == sorted(
        [(a.id, "i-1"), (a.id, "x-2"), (b.id, "i-1")], key=lambda k: (str(k[0]), k[1])
    )
    mine = {(r.cloud_account_id, r.resource_id): r for r in found}
    web = mine[(a.id, "i-1")]
    assert web.costs == {"EUR": Decimal(4), "USD": Decimal("3.75")}
    assert (web.first_day, web.last_day) == (date(2024, 9, 1), date(2024, 9, 3))
    assert (web.resource_name, web.resource_type, web.provider) == ("web-1", "Instance", "aws")
    assert web.tags == {"team": "b", "n": "3", "empty": "", "flag": "true"}
    bucket = mine[(a.id, "x-2")]
    assert (bucket.tags, bucket.region, bucket.service_category) == ({}, None, "Storage")
    assert (bucket.first_day, bucket.last_day) == (date(2024, 9, 2), date(2024, 9, 2))
    assert mine[(b.id, "i-1")].costs == {"USD": Decimal(3)}

    effective = await query.billed_resources(
        db, principal(org), CostQuery(start=RANGE.start, end=RANGE.end, metric=Metric.EFFECTIVE)
    )
    assert next(
        r.costs["USD"] for r in effective if r.resource_id == "i-1" and r.cloud_account_id == a.id
    ) == Decimal(3)

    # The filters apply to the sums and to the newest day: only the 1 September row is left.
    early = await query.billed_resources(
        db,
        principal(org),
        CostQuery(start=RANGE.start, end=date(2024, 9, 1), account_ids=frozenset({a.id})),
    )
    assert [(r.resource_id, r.costs, r.resource_name, r.tags, r.last_day) for r in early] == [
        ("i-1", {"USD": Decimal("1.5")}, "old", {"team": "a"}, date(2024, 9, 1))
    ]

    limited = await query.billed_resources(
        db, principal(org, role=Role.MEMBER, account_ids=frozenset({b.id})), RANGE
    )
    assert [(r.cloud_account_id, r.resource_id, r.costs) for r in limited] == [
        (b.id, "i-1", {"USD": Decimal(3)})
    ]
    nothing = await query.billed_resources(
        db, principal(org, role=Role.MEMBER, account_ids=frozenset()), RANGE
    )
    assert nothing == []


async def test_quantity_is_not_summed_as_money(db: AsyncSession, org: Org) -> None:
    with pytest.raises(ValueError, match="sums money"):
        await query.billed_resources(
            db, principal(org), CostQuery(start=RANGE.start, end=RANGE.end, metric=Metric.QUANTITY)
        )
