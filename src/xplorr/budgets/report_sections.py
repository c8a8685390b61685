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
from xplorr.budgets.models import Budget
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
from xplorr.core.tenancy import org_select

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
OVER: Final = "Over budget"
PROJECTED: Final = "Projected over"
ON_TRACK: Final = "On track"


def _status(s: service.BudgetStatus) -> str:
    if s.spend >= s.budget.amount:
        return OVER
    return PROJECTED if s.projected_overrun else ON_TRACK


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
        _status(s),
    )


@provider(KEY, order=10)
async def budgets_section(db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    """The budgets ``scope.who`` sees (none: no section), read through ``budgets.service``."""
    stmt = org_select(Budget, scope.who).order_by(Budget.name, Budget.id)
    if scope.account_ids is not None:
        stmt = stmt.where(Budget.cloud_account_id.in_(sorted(scope.account_ids)))
    budgets = (await db.scalars(stmt)).all()
    if not budgets:
        return []
    as_of = min(scope.end, service.today())
    found = await service.statuses(db, scope.who, budgets, as_of)
    by_currency: dict[str, list[service.BudgetStatus]] = defaultdict(list)
    for s in found:
        by_currency[s.budget.currency].append(s)
    statuses = [_status(s) for s in found]
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
