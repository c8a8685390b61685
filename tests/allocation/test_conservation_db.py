"""Conservation through the database (hypothesis): random cost rows and random rules, each
example in an account of its own; ``costs.allocate.allocate`` must give, per currency, the
total ``costs.query`` gives without allocation, exactly, whichever table answers (the tag
rollup with its derived untagged bucket for rules on the target key only, raw rows else)."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import principal
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.costs import allocate, query
from xplorr.costs.allocate import Method, ShareRule, Source
from xplorr.costs.query import CostQuery, TagKey
from xplorr.orgs.models import Org

DAY0 = date(2024, 3, 1)
rows = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(["EC2", "EKS"]),
        st.sampled_from(["api", "data", None]),
        st.sampled_from(["USD", "EUR"]),
        st.decimals(min_value=-50, max_value=500, places=9, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
)
sources = st.sampled_from(
    [Source(service="EKS"), Source(tag_key="team"), Source(tag_key="team", tag_value="data")]
)
methods = st.sampled_from(list(Method))


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=rows, source=sources, method=methods)
async def test_allocated_total_equals_plain_total(
    db: AsyncSession, org: Org, rows, source: Source, method: Method
) -> None:
    account = await make_account(db, org)
    await add_costs(
        db,
        account,
        [
            {
                "usage_date": DAY0 + timedelta(days=d),
                "billed_cost": amount,
                "service_name": service,
                "currency": currency,
                **({"tags": {"team": team}} if team else {}),
            }
            for d, service, team, currency, amount in rows
        ],
    )
    splits = {"api": Decimal(70), "data": Decimal(30)} if method is Method.FIXED else None
    rule = ShareRule(uuid.uuid4(), "r", source, "team", method, splits, 1)
    who = principal(org)
    q = CostQuery(
        start=DAY0,
        end=DAY0 + timedelta(days=2),
        group_by=(TagKey("team"),),
        account_ids=frozenset({account.id}),
    )
    plain = await query.totals_by_currency(db, who, q)
    result = await allocate.allocate(db, who, q, [rule])
    totals: dict[str, Decimal] = {}
    for g in result.groups:
        totals[g.currency] = totals.get(g.currency, Decimal(0)) + g.cost
    assert {c: t for c, t in totals.items() if t} == {c: t for c, t in plain.items() if t}
