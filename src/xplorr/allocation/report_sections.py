"""The allocation section of reports and digests (``core.report_sections``): when the
organization has active allocation rules, the period's cost by value of each key the rules
target (``team``...), with the shared costs the rules move applied exactly as ``GET
/costs?groupBy=tag:<key>&allocate=true`` answers it (``costs.allocate``, the same rounding):
direct, allocated, total and share per value. One table per currency (amounts of two
currencies are never added). No active rule: no section."""

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.allocation import service
from xplorr.core import money
from xplorr.core.report_sections import (
    Column,
    Figure,
    Kind,
    ReportScope,
    Section,
    Table,
    provider,
)
from xplorr.costs import allocate
from xplorr.costs import service as costs
from xplorr.costs.allocate import ShareRule
from xplorr.costs.query import CostQuery, TagKey

KEY: Final = "allocation"
ZERO: Final = Decimal(0)
COLUMNS: Final = (
    Column("Value"),
    Column("Direct", Kind.MONEY),
    Column("Allocated", Kind.MONEY),
    Column("Total", Kind.MONEY),
    Column("Share", Kind.PERCENT),
)


async def _section(
    db: AsyncSession, scope: ReportScope, key: str, rules: Sequence[ShareRule]
) -> Section:
    q = CostQuery(
        start=scope.start, end=scope.end, group_by=(TagKey(key),), account_ids=scope.account_ids
    )
    result = await allocate.allocate(db, scope.who, q, rules)
    moved: dict[str, Decimal] = defaultdict(Decimal)
    for per_currency in result.moved.values():
        for currency, amount in per_currency.items():
            moved[currency] += amount
    tables = []
    figures = [Figure("Active rules", len(rules), Kind.NUMBER)]
    for currency in sorted({g.currency for g in result.groups}):
        items, _total = costs.allocated_items(result.groups, currency)
        tables.append(
            Table(
                title=f"Cost by {key} {currency}",
                columns=COLUMNS,
                rows=tuple(
                    (
                        item.name,
                        item.direct if item.direct is not None else item.cost,
                        item.allocated if item.allocated is not None else ZERO,
                        item.cost,
                        item.percentage,
                    )
                    for item in items
                ),
                currency=currency,
            )
        )
        figures.append(
            Figure(
                f"Shared cost allocated ({currency})",
                money.round_money(moved.get(currency, ZERO), currency),
                Kind.MONEY,
                currency,
            )
        )
    return Section(
        key=KEY,
        title=f"Allocation by {key}",
        note=(
            f"Shared costs moved to a {key} by the organization's active allocation rules, "
            "as /costs?allocate=true answers them."
        ),
        figures=tuple(figures),
        tables=tuple(tables),
    )


@provider(KEY, order=30)
async def allocation_section(db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    """One section per key the active rules target (none without a rule)."""
    rules = await service.share_rules(db, scope.who)
    by_key: dict[str, list[ShareRule]] = defaultdict(list)
    for rule in rules:
        by_key[rule.target_key].append(rule)
    return [await _section(db, scope, key, by_key[key]) for key in sorted(by_key)]
