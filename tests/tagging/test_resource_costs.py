"""``costs.query.resource_costs``: what tagging policies check when no inventory knows a
resource. Per account, resource id and currency: the summed cost and the newest day's
attributes and tags; rows without a resource left out; grants applied."""

from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import principal
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.core.tenancy import Role
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Metric
from xplorr.orgs.models import Org

RANGE = CostQuery(start=date(2024, 9, 1), end=date(2024, 9, 30))


async def test_resources_with_newest_tags_per_currency(
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

    found = await query.resource_costs(db, principal(org), RANGE)
    mine = {(r.account_id, r.resource_id, r.currency): r for r in found}
    assert set(mine) == {
        (a.id, "i-1", "EUR"),
        (a.id, "i-1", "USD"),
        (a.id, "x-2", "USD"),
        (b.id, "i-1", "USD"),
    }
    web = mine[(a.id, "i-1", "USD")]
    assert web.cost == Decimal("3.75")
    assert (web.resource_name, web.resource_type, web.provider) == ("web-1", "Instance", "aws")
    assert web.tags == {"team": "b", "n": "3", "empty": "", "flag": "true"}
    assert mine[(a.id, "i-1", "EUR")].cost == Decimal(4)
    bucket = mine[(a.id, "x-2", "USD")]
    assert (bucket.tags, bucket.region, bucket.service_category) == ({}, None, "Storage")

    effective = await query.resource_costs(
        db, principal(org), CostQuery(start=RANGE.start, end=RANGE.end, metric=Metric.EFFECTIVE)
    )
    assert next(
        r.cost
        for r in effective
        if r.resource_id == "i-1" and r.account_id == a.id and r.currency == "USD"
    ) == Decimal(3)

    limited = await query.resource_costs(
        db, principal(org, role=Role.MEMBER, account_ids=frozenset({b.id})), RANGE
    )
    assert [(r.account_id, r.resource_id, r.cost) for r in limited] == [(b.id, "i-1", Decimal(3))]
    nothing = await query.resource_costs(
        db, principal(org, role=Role.MEMBER, account_ids=frozenset()), RANGE
    )
    assert nothing == []
