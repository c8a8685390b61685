"""The budgets section of reports and digests (``core.report_sections``): each budget the
report's reader may see, as of the report's last day (or today, when that is later), in its
current period: amount, spend, share used, forecast and whether it is over or projected over.
One table per currency (a budget counts only its own currency; amounts of two currencies are
never added). A report narrowed to some cloud accounts lists only those accounts' budgets (an
organization-wide budget also counts spend of the accounts left out)."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.budgets import service
from xplorr.budgets.service import OVER, PROJECTED
from xplorr.core import money
from xplorr.core.report_sections import (
    Cell,
    Column,
    Figure,
    Kind,
    ReportScope,
    Section,
    Table,
    provider,
)

KEY: Final = "budgets"
TITLE: Final = "Budgets against actuals"
COLUMNS: Final = (
    Column("Budget"),
    Column("Period"),
    Column("Period start", Kind.DATE),
    Column("Amount", Kind.MONEY),
    Column("Spent", Kind.MONEY),
    Column("Used", Kind.PERCENT),
    Column("Forecast", Kind.MONEY),
    Column("Data through", Kind.DATE),
    Column("Status"),
)


def _row(s: service.BudgetStatus) -> tuple[Cell, ...]:
    b, cur = s.budget, s.budget.currency
    forecast = None if s.forecast is None else money.round_money(s.forecast.forecast, cur)
    through = s.through if s.through is not None and s.through >= s.period_start else None
    return (
        b.name,
        b.period.value,
        s.period_start,
        money.round_money(b.amount, cur),
        money.round_money(s.spend, cur),
        s.percent_used,
        forecast,
        through,
        s.standing,
    )


@provider(KEY, order=10)
async def budgets_section(db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    """The budgets ``scope.who`` sees (none: no section), read through ``budgets.service``."""
    as_of = min(scope.end, service.today())
    found = await service.visible_statuses(db, scope.who, as_of, account_ids=scope.account_ids)
    if not found:
        return []
    by_currency: dict[str, list[service.BudgetStatus]] = defaultdict(list)
    for s in found:
        by_currency[s.budget.currency].append(s)
    statuses = [s.standing for s in found]
    return [
        Section(
            key=KEY,
            title=TITLE,
            note=(
                f"Each budget's period as of {as_of.isoformat()}; spend counts the budget's "
                "currency only."
            ),
            figures=(
                Figure("Budgets", len(found), Kind.NUMBER),
                Figure(OVER, statuses.count(OVER), Kind.NUMBER),
                Figure(PROJECTED, statuses.count(PROJECTED), Kind.NUMBER),
            ),
            tables=tuple(
                Table(
                    title=f"Budgets {cur}",
                    columns=COLUMNS,
                    rows=tuple(_row(s) for s in by_currency[cur]),
                    currency=cur,
                )
                for cur in sorted(by_currency)
            ),
        )
    ]
