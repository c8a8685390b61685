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
Each billing period written gets its ``cost_imports`` row as ingest keeps it (the currencies an
account bills in are read from there), from a snapshot older than any real import.
"""

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.costs import store
from xplorr.costs.models import CostImport, CostRecord

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
    await record_imports(db, account, records)
    await db.commit()


async def record_imports(
    db: AsyncSession, account: CloudAccount, records: Iterable[CostRecord]
) -> None:
    """Add ``records``' BilledCost per currency to the ``cost_imports`` row of their period."""
    periods: dict[date, list[CostRecord]] = {}
    for r in records:
        periods.setdefault(r.billing_period, []).append(r)
    for period, rows in periods.items():
        rec = await db.scalar(
            select(CostImport).where(
                CostImport.cloud_account_id == account.id, CostImport.billing_period == period
            )
        )
        if rec is None:
            rec = CostImport(
                org_id=account.org_id,
                cloud_account_id=account.id,
                billing_period=period,
                source="tests.factories.costs",
                snapshot_at=datetime(1970, 1, 1, tzinfo=UTC),
                fingerprint=f"factory-{uuid.uuid4().hex}",
                rows_read=0,
                rows_stored=0,
                totals={},
                imported_at=clock.now(),
            )
            db.add(rec)
        totals = {cur: Decimal(v) for cur, v in (rec.totals or {}).items()}
        for r in rows:
            totals[r.currency] = totals.get(r.currency, Decimal(0)) + r.billed_cost
        rec.totals = {cur: str(v) for cur, v in sorted(totals.items())}
        rec.rows_read += len(rows)
        rec.rows_stored += len(rows)
    await db.flush()


async def mark_imported(db: AsyncSession, account: CloudAccount) -> None:
    """Record on each of ``account``'s ``cost_imports`` rows its newest usage day, as an import
    does (the factory leaves it unset), from a snapshot taken the day after it, so
    ``costs.query.data_through`` sees the data as complete through that day; commits."""
    newest = (
        await db.execute(
            select(CostRecord.billing_period, func.max(CostRecord.usage_date))
            .where(CostRecord.cloud_account_id == account.id)
            .group_by(CostRecord.billing_period)
        )
    ).all()
    for period, last in newest:
        await db.execute(
            update(CostImport)
            .where(CostImport.cloud_account_id == account.id, CostImport.billing_period == period)
            .values(
                last_date=last,
                snapshot_at=datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
            )
        )
    await db.commit()
