"""The recommendations section of reports and digests (``core.report_sections``): the open,
not snoozed recommendations the report's reader sees as of now (not of the report's days: a
recommendation is a standing fact), their count and potential savings per currency, and the
largest ones in one table per currency (savings of two currencies are never added; alternatives
for the same spend are counted once, ``recommendations.totals``). A report
narrowed to some cloud accounts counts only theirs. Read through
``recommendations.service.open_recommendations``; the weekly summary in chat takes its
``open_recommendations`` and ``potential_savings`` from this section."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import money
from xplorr.core.report_sections import Column, Figure, Kind, ReportScope, Section, Table, provider
from xplorr.recommendations import service
from xplorr.recommendations import totals as savings_totals
from xplorr.recommendations.models import Recommendation

KEY: Final = "recommendations"
TITLE: Final = "Open recommendations"
COUNT: Final = "Open recommendations"
SAVINGS: Final = "Potential savings"  # a figure per currency: "Potential savings USD"
TOP: Final = 10
COLUMNS: Final = (
    Column("Recommendation"),
    Column("Type"),
    Column("Provider"),
    Column("Resource"),
    Column("Region"),
    Column("Risk"),
    Column("Monthly savings", Kind.MONEY),
)


def savings_label(currency: str) -> str:
    return f"{SAVINGS} {currency}"


@provider(KEY, order=40)
async def recommendations_section(db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    """The open recommendations ``scope.who`` sees (none: no section)."""
    found = await service.open_recommendations(db, scope.who, limit=None)
    if scope.account_ids is not None:
        found = [r for r in found if r.cloud_account_id in scope.account_ids]
    if not found:
        return []
    by_currency: dict[str, list[Recommendation]] = defaultdict(list)
    for r in found:
        by_currency[r.currency].append(r)
    totals = savings_totals.monthly_savings(found)
    return [
        Section(
            key=KEY,
            title=TITLE,
            note=(
                f"Open and not snoozed as of today; each currency's largest {TOP} by estimated "
                "monthly saving. Potential savings count alternatives for the same spend once "
                "(the actions on one resource, an account's commitment purchases): the "
                "largest."
            ),
            figures=(
                Figure(COUNT, len(found), Kind.NUMBER),
                *(
                    Figure(savings_label(cur), totals[cur], Kind.MONEY, cur)
                    for cur in sorted(totals)
                ),
            ),
            tables=tuple(
                Table(
                    title=f"Top open recommendations {cur}",
                    columns=COLUMNS,
                    rows=tuple(
                        (
                            r.title,
                            r.type,
                            r.provider,
                            r.resource_name or r.resource_id,
                            r.region,
                            r.risk.value,
                            money.round_money(r.estimated_monthly_savings, cur),
                        )
                        for r in by_currency[cur][:TOP]
                    ),
                    currency=cur,
                )
                for cur in sorted(by_currency)
            ),
        )
    ]
