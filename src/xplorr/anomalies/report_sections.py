"""The anomalies section of reports and digests (``core.report_sections``): the anomalies of
the report's days that its reader may see (a user limited to some cloud accounts: theirs, without
the organization-wide ones), counted by severity, and per currency the largest by excess cost
(actual minus baseline; amounts of two currencies are never added or ranked together). A report
narrowed to some cloud accounts lists only those accounts' anomalies."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.anomalies.models import Anomaly, Severity
from xplorr.cloud_accounts.models import CloudAccount
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

KEY: Final = "anomalies"
TITLE: Final = "Cost anomalies"
TOP: Final = 10
SEVERITIES: Final = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)
COLUMNS: Final = (
    Column("Date", Kind.DATE),
    Column("Account"),
    Column("Service"),
    Column("Severity"),
    Column("Status"),
    Column("Actual", Kind.MONEY),
    Column("Baseline", Kind.MONEY),
    Column("Excess", Kind.MONEY),
)
ORGANIZATION: Final = "Organization"
ALL_SERVICES: Final = "All services"


def _excess(a: Anomaly) -> Decimal:
    return a.actual_cost - a.baseline_cost


def _row(a: Anomaly, names: dict[uuid.UUID, str]) -> tuple[Cell, ...]:
    cur = a.currency
    return (
        a.usage_date,
        ORGANIZATION if a.cloud_account_id is None else names.get(a.cloud_account_id, ""),
        a.service_name or ALL_SERVICES,
        a.severity.value,
        a.status.value,
        money.round_money(a.actual_cost, cur),
        money.round_money(a.baseline_cost, cur),
        money.round_money(_excess(a), cur),
    )


@provider(KEY, order=20)
async def anomalies_section(db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    """The anomalies of ``scope``'s days that ``scope.who`` sees (none: no section)."""
    stmt = org_select(Anomaly, scope.who).where(
        Anomaly.usage_date >= scope.start, Anomaly.usage_date <= scope.end
    )
    if scope.account_ids is not None:
        stmt = stmt.where(Anomaly.cloud_account_id.in_(sorted(scope.account_ids)))
    found = (await db.scalars(stmt)).all()
    if not found:
        return []
    ids = sorted({a.cloud_account_id for a in found if a.cloud_account_id is not None})
    names = {
        c.id: c.name
        for c in await db.scalars(
            org_select(CloudAccount, scope.who).where(CloudAccount.id.in_(ids))
        )
    }
    counts = Counter(a.severity for a in found)
    by_currency: dict[str, list[Anomaly]] = defaultdict(list)
    for a in found:
        by_currency[a.currency].append(a)
    tables = []
    for cur in sorted(by_currency):
        top = sorted(
            by_currency[cur],
            key=lambda a: (-_excess(a), a.usage_date, a.scope_key, str(a.id)),
        )[:TOP]
        tables.append(
            Table(
                title=f"Anomalies {cur}",
                columns=COLUMNS,
                rows=tuple(_row(a, names) for a in top),
                currency=cur,
            )
        )
    return [
        Section(
            key=KEY,
            title=TITLE,
            note=f"The {TOP} largest by excess over their 7-day baseline, per currency.",
            figures=(
                Figure("Anomalies", len(found), Kind.NUMBER),
                *(Figure(s.value.capitalize(), counts[s], Kind.NUMBER) for s in SEVERITIES),
            ),
            tables=tuple(tables),
        )
    ]
