"""The demo organization's cost ownership: tagging policies, allocation rules and a year of
unit metrics, added by ``xplorr demo`` after the costs are loaded, and a summary computed for
real from the demo data through the same services the API answers with.

Idempotent: policies are found again by key and kind, rules by name, and unit metrics are one
value per name and day (a re-run replaces them with the same values).
"""

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.allocation import service as allocation
from xplorr.allocation.models import AllocationMethod, AllocationRule
from xplorr.core import clock, money
from xplorr.core.pagination import PageParams
from xplorr.core.tenancy import Principal, org_select
from xplorr.costs import allocate, query
from xplorr.costs.query import CostQuery, TagKey
from xplorr.tagging import service as tagging
from xplorr.tagging.models import AppliesTo, TaggingPolicy
from xplorr.unit_economics import service as unit_economics
from xplorr.unit_economics.models import MetricType
from xplorr.unit_economics.schemas import UnitMetricIn

TEAMS: Final = ["platform", "payments", "data", "search", "mobile", "ml"]
POLICIES: Final = [
    ("team", TEAMS, AppliesTo.ALL),
    ("env", ["prod", "staging", "dev"], AppliesTo.COMPUTE),
    ("cost-center", None, AppliesTo.STORAGE),
]
RULES: Final = [
    (
        "Shared container platform (ECS)",
        "Amazon Elastic Container Service",
        AllocationMethod.PROPORTIONAL,
        None,
        1,
    ),
    (
        "Shared observability (CloudWatch)",
        "Amazon CloudWatch",
        AllocationMethod.FIXED,
        {"platform": "50", "data": "30", "ml": "20"},
        2,
    ),
]
CUSTOMERS: Final = "Active Customers"
API_CALLS: Final = "API calls"


def customers_on(day: date) -> int:
    """A growing customer base (about 3 % a month) with a weekend dip; deterministic."""
    months = (day - date(2024, 1, 1)).days / 30.4
    base = 1000 * math.pow(1.03, months)
    weekend = 0.96 if day.weekday() >= 5 else 1.0
    return round(base * weekend + (day.toordinal() * 7919) % 23)


async def add_ownership(db: AsyncSession, who: Principal) -> None:
    """The policies, rules and metrics (see the module docstring)."""
    policies = {
        (p.tag_key, p.applies_to) for p in (await db.scalars(org_select(TaggingPolicy, who))).all()
    }
    now = clock.now()
    for key, allowed, applies_to in POLICIES:
        if (key, applies_to) not in policies:
            db.add(
                TaggingPolicy(
                    org_id=who.org_id,
                    tag_key=key,
                    required=True,
                    allowed_values=allowed,
                    applies_to=applies_to,
                    created_at=now,
                )
            )
    rules = {r.name for r in (await db.scalars(org_select(AllocationRule, who))).all()}
    for name, service_name, method, splits, priority in RULES:
        if name not in rules:
            db.add(
                AllocationRule(
                    org_id=who.org_id,
                    name=name,
                    source_service=service_name,
                    target_tag_key="team",
                    method=method,
                    splits=splits,
                    priority=priority,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
    through = await query.data_through(db, who) or now.date() - timedelta(days=1)
    first = through - timedelta(days=365)
    values: list[UnitMetricIn] = []
    for i in range((through - first).days + 1):
        day = first + timedelta(days=i)
        customers = customers_on(day)
        values.append(
            UnitMetricIn(
                name=CUSTOMERS,
                metric_type=MetricType.CUSTOMERS,
                value=Decimal(customers),
                date=day,
            )
        )
        values.append(
            UnitMetricIn(
                name=API_CALLS,
                metric_type=MetricType.API_CALLS,
                value=Decimal(customers * 850 + (day.toordinal() * 104729) % 5000),
                date=day,
            )
        )
    await unit_economics.record_many(db, who, values)
    await db.flush()


async def summary(db: AsyncSession, who: Principal) -> list[str]:
    """What the ownership features say about the demo data, one line each."""
    lines: list[str] = []
    found = await tagging.violations(db, who, PageParams(limit=1, offset=0))
    team = next(
        (p for p in found.policies if p.tag_key == "team" and p.currency == "USD"),
        None,
    )
    lines.append(
        f"Tagging policies: {len(POLICIES)}, {found.total_violations} violations "
        f"({found.start_date} to {found.end_date})"
        + (f"; {team.compliant_percent}% of spend carries an allowed team tag" if team else "")
    )
    start, end = await allocation.last_full_month(db, who)
    rules = await allocation.share_rules(db, who)
    result = await allocate.allocate(
        db, who, CostQuery(start=start, end=end, group_by=(TagKey("team"),)), rules
    )
    by_name = {r.id: r.name for r in rules}
    for rule_id, moved in result.moved.items():
        usd = moved.get("USD")
        if usd is not None:
            lines.append(
                f"Allocation rule '{by_name[rule_id]}': {money.round_money(usd, 'USD'):,} USD "
                f"shared across teams in {start:%B %Y}"
            )
    month = await unit_economics.unit_costs(
        db, who, start=end - timedelta(days=29), end=end, metric_name=CUSTOMERS
    )
    if month.totals.cost_per_unit is not None:
        trend = month.trend.direction if month.trend else "no trend yet"
        lines.append(
            f"Cost per active customer ({month.start_date} to {month.end_date}): "
            f"{month.totals.cost_per_unit:.2f} {month.currency} per customer-day, {trend}"
        )
    return lines
