"""Cost rows for tests: ``add_costs(db, account, rows)`` writes ``cost_records`` the way ingest
does (through ``costs.store``: rows, then ``rebuild_rollups`` of their billing periods) and commits.

A row is a dict of ``CostRecord`` columns; only ``usage_date`` and ``billed_cost`` are required::

    await add_costs(db, account, [
        {"usage_date": "2024-09-01", "billed_cost": "12.34", "service_name": "AmazonEC2",
         "region": "us-east-1", "tags": {"env": "prod"}},
    ])

Dates may be ``date`` or ISO strings, amounts ``Decimal``, ``int`` or strings (never floats).
``effective_cost`` and ``list_cost`` default to ``billed_cost``; ``billing_period`` to the first
day of the usage month; ``provider`` to the account's provider (``aws`` for focus/demo accounts).
"""

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.costs import store
from xplorr.costs.models import CostRecord

_PROVIDER_NAMES = {"aws": "AWS", "azure": "Microsoft", "gcp": "Google Cloud"}
_MONEY = ("billed_cost", "effective_cost", "list_cost")


def _money(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError("amounts are Decimal, int or str in tests, never float")
    return Decimal(value)


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def cost_record(account: CloudAccount, row: Mapping[str, Any]) -> CostRecord:
    """One ``CostRecord`` of ``account`` from a row dict (defaults in the module docstring)."""
    provider = str(row.get("provider") or account.provider)
    if provider not in _PROVIDER_NAMES and "provider" not in row:
        provider = "aws"
    day = _day(row["usage_date"])
    billed = _money(row["billed_cost"])
    values: dict[str, Any] = {
        "provider": provider,
        "provider_name": _PROVIDER_NAMES.get(provider, provider),
        "billing_account_id": account.provider_account_id,
        "service_name": "AmazonEC2",
        "service_category": "Compute",
        "region": "us-east-1",
        "charge_category": "Usage",
        "currency": "USD",
        "effective_cost": billed,
        "list_cost": billed,
        "billing_period": day.replace(day=1),
        **row,
    }
    values["usage_date"] = day
    values["billing_period"] = _day(values["billing_period"])
    for column in _MONEY:
        values[column] = _money(values[column])
    return CostRecord(org_id=account.org_id, cloud_account_id=account.id, **values)


async def add_costs(
    db: AsyncSession, account: CloudAccount, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` as cost records of ``account``, rebuild the rollups of their billing
    periods (as ingest does) and commit."""
    records = [cost_record(account, row) for row in rows]
    db.add_all(records)
    await db.flush()
    await store.rebuild_rollups(db, account.id, sorted({r.billing_period for r in records}))
    await db.commit()
