"""The only writer of the cost tables: replace an account's billing periods, keep the rollups,
record which snapshot each period came from.

A billing period of one account is the unit of replacement (ARCHITECTURE.md "Cost data"):
``replace_periods`` deletes the period's rows, inserts the new ones and rebuilds the rollups,
all inside the caller's transaction, so a re-import never doubles a cost and a failed one
leaves the old data. ``ingest.pipeline`` writes through here only; the few reads here are the
writer's own bookkeeping (``cost_imports``), every other read goes through ``costs.query``.
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Text,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from xplorr.core.db import is_postgres
from xplorr.core.models import Money
from xplorr.costs.models import (
    CostImport,
    CostMonthlyResourceRollup,
    CostMonthlyRollup,
    CostMonthlySkuRollup,
    CostMonthlyTagRollup,
    CostMonthlyTagValueRollup,
    CostRecord,
    CostResourceRunningTotal,
    CostRollup,
    CostServiceRollup,
    CostSkuRollup,
    CostTagRollup,
    CostTagValueRollup,
)
from xplorr.costs.services import canonical_sql

ROLLUPS: Final = (
    CostRollup,
    CostServiceRollup,
    CostTagRollup,
    CostTagValueRollup,
    CostSkuRollup,
    CostMonthlyRollup,
    CostMonthlyTagRollup,
    CostMonthlyTagValueRollup,
    CostMonthlySkuRollup,
    CostMonthlyResourceRollup,
)
TAG_KEY_MAX = 200
TAG_VALUE_MAX = 500


async def delete_periods(db: AsyncSession, account_id: uuid.UUID, periods: Sequence[date]) -> None:
    """Drop an account's rows and rollups of ``periods`` (not its import records)."""
    if not periods:
        return
    await _delete_periods(db, account_id, periods)
    await _extend_running_totals(db, account_id, periods)


async def _delete_periods(db: AsyncSession, account_id: uuid.UUID, periods: Sequence[date]) -> None:
    """:func:`delete_periods` leaving the running totals cut where the periods begin (the
    caller rebuilds them)."""
    await _cut_running_totals(db, account_id, periods)
    for model in (CostRecord, *ROLLUPS):
        await db.execute(
            delete(model).where(
                model.cloud_account_id == account_id, model.billing_period.in_(list(periods))
            )
        )


async def replace_periods(
    db: AsyncSession,
    account_id: uuid.UUID,
    periods: Sequence[date],
    columns: Sequence[str],
    rows: Sequence[Select[*tuple[Any, ...]]],
) -> dict[date, int]:
    """Replace the account's ``periods``: delete their rows, insert every row ``rows`` select
    (``columns`` of ``cost_records``, in that order; the caller's staged data), rebuild the
    periods' rollups. -> rows now stored per period."""
    await _delete_periods(db, account_id, periods)
    for stmt in rows:
        await db.execute(insert(CostRecord).from_select(list(columns), stmt))
    await rebuild_rollups(db, account_id, periods)
    counted = await db.execute(
        select(CostRecord.billing_period, func.count())
        .where(CostRecord.cloud_account_id == account_id, CostRecord.billing_period.in_(periods))
        .group_by(CostRecord.billing_period)
    )
    return {period: int(count) for period, count in counted.all()}


async def known_imports(
    db: AsyncSession, account_id: uuid.UUID
) -> dict[date, tuple[str, datetime]]:
    """The account's imported periods: period -> (fingerprint, snapshot_at)."""
    rows = await db.execute(
        select(CostImport.billing_period, CostImport.fingerprint, CostImport.snapshot_at).where(
            CostImport.cloud_account_id == account_id
        )
    )
    return {period: (printed, at) for period, printed, at in rows.all()}


async def import_of(db: AsyncSession, account_id: uuid.UUID, period: date) -> CostImport | None:
    """The record of the snapshot the account's ``period`` was last imported from."""
    return await db.scalar(
        select(CostImport).where(
            CostImport.cloud_account_id == account_id, CostImport.billing_period == period
        )
    )


async def record_import(
    db: AsyncSession,
    record: CostImport | None,
    *,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    period: date,
    values: Mapping[str, Any],
) -> CostImport:
    """Create or update the ``cost_imports`` row of a replaced period with ``values``
    (source, snapshot_at, fingerprint, rows_read, rows_stored, first/last date, totals,
    imported_at)."""
    if record is None:
        record = CostImport(org_id=org_id, cloud_account_id=account_id, billing_period=period)
        db.add(record)
    for name, value in values.items():
        setattr(record, name, value)
    await db.flush()
    return record


async def seal_imports(
    db: AsyncSession,
    account_id: uuid.UUID,
    periods: Sequence[date],
    provisional: str,
    fingerprint: str,
) -> None:
    """Give ``periods`` recorded with the ``provisional`` fingerprint their snapshot's own."""
    await db.execute(
        update(CostImport)
        .where(
            CostImport.cloud_account_id == account_id,
            CostImport.billing_period.in_(list(periods)),
            CostImport.fingerprint == provisional,
        )
        .values(fingerprint=fingerprint)
        .execution_options(synchronize_session="fetch")
    )


async def delete_account_data(db: AsyncSession, account_id: uuid.UUID) -> None:
    """Everything stored for an account (disconnect). Foreign keys cascade as well; this does
    it explicitly so the cost of a large delete is paid in the caller's transaction."""
    for model in (CostResourceRunningTotal, *reversed(ROLLUPS), CostRecord, CostImport):
        await db.execute(delete(model).where(model.cloud_account_id == account_id))


def _sum(col: InstrumentedAttribute[Decimal]) -> ColumnElement[Decimal]:
    return func.sum(col, type_=Money)


_ACCOUNT_DAY: Final = ("org_id", "cloud_account_id", "billing_period", "usage_date", "currency")
_COSTS: Final = ("billed_cost", "effective_cost", "list_cost")
_DIMS: Final = (
    "provider",
    "provider_name",
    "service_name",
    "service_category",
    "region",
    "charge_category",
)
# What each monthly rollup sums from its daily one (or, for resources, from the raw rows).
MONTHLY: Final[tuple[tuple[Any, Any, tuple[str, ...]], ...]] = (
    (CostRollup, CostMonthlyRollup, (*_DIMS, "pricing_category")),
    (CostTagRollup, CostMonthlyTagRollup, (*_DIMS, "tag_key", "tag_value")),
    (CostTagValueRollup, CostMonthlyTagValueRollup, ("tag_key", "tag_value")),
    (CostSkuRollup, CostMonthlySkuRollup, (*_DIMS, "pricing_category", "sku_id")),
)


async def rebuild_rollups(db: AsyncSession, account_id: uuid.UUID, periods: Sequence[date]) -> None:
    """Recompute the rollups of ``periods`` of one account from its rows, in SQL (the smaller
    rollups from the larger ones just built: ``cost_service_rollups`` from ``cost_rollups``,
    the tag value rollups from the tag rollups, every monthly one from its daily one)."""
    if not periods:
        return
    period_list = list(periods)
    await _cut_running_totals(db, account_id, period_list)
    for model in ROLLUPS:
        await db.execute(
            delete(model).where(
                model.cloud_account_id == account_id, model.billing_period.in_(period_list)
            )
        )
    postgres = is_postgres(db)
    r = CostRecord
    where = (r.cloud_account_id == account_id, r.billing_period.in_(period_list))
    service = canonical_sql(r.service_name)
    raw_dims = (
        r.org_id,
        r.cloud_account_id,
        r.billing_period,
        r.usage_date,
        r.currency,
        r.provider,
        r.provider_name,
        service,
        r.service_category,
        r.region,
        r.charge_category,
        r.pricing_category,
    )
    raw_sums = (_sum(r.billed_cost), _sum(r.effective_cost), _sum(r.list_cost), func.count())
    columns = [*_ACCOUNT_DAY, *_DIMS, "pricing_category"]
    await db.execute(
        insert(CostRollup).from_select(
            [*columns, *_COSTS, "row_count"],
            select(*raw_dims, *raw_sums).where(*where).group_by(*raw_dims),
        )
    )
    await db.execute(
        insert(CostSkuRollup).from_select(
            [*columns, "sku_id", *_COSTS, "row_count"],
            select(*raw_dims, r.sku_id, *raw_sums).where(*where).group_by(*raw_dims, r.sku_id),
        )
    )
    # Resources: straight to months (a daily resource rollup would be as large as the rows).
    monthly_dims = (*raw_dims[:3], month_start(r.usage_date, postgres), *raw_dims[4:])
    await db.execute(
        insert(CostMonthlyResourceRollup).from_select(
            [*columns, "resource_id", *_COSTS, "row_count"],
            select(*monthly_dims, r.resource_id, *raw_sums)
            .where(*where)
            .group_by(*monthly_dims, r.resource_id),
        )
    )
    await _from_daily(
        db, CostRollup, CostServiceRollup, [*_ACCOUNT_DAY, *_DIMS[:4]], account_id, period_list
    )
    await _tag_rollups(db, account_id, period_list, postgres)
    await _from_daily(
        db,
        CostTagRollup,
        CostTagValueRollup,
        [*_ACCOUNT_DAY, "tag_key", "tag_value"],
        account_id,
        period_list,
    )
    for daily, monthly, dims in MONTHLY:
        await _from_daily(
            db, daily, monthly, [*_ACCOUNT_DAY, *dims], account_id, period_list, postgres
        )
    await _extend_running_totals(db, account_id, period_list)


async def _from_daily(
    db: AsyncSession,
    source: Any,
    target: Any,
    keys: Sequence[str],
    account_id: uuid.UUID,
    periods: list[date],
    monthly_postgres: bool | None = None,
) -> None:
    """Insert into ``target`` the sums (and row counts) of ``source``'s rows of the account's
    ``periods`` per ``keys`` (``usage_date`` folded to its month when ``monthly_postgres`` is
    given: whether the database is PostgreSQL)."""
    cols = [
        month_start(source.usage_date, monthly_postgres)
        if k == "usage_date" and monthly_postgres is not None
        else getattr(source, k)
        for k in keys
    ]
    await db.execute(
        insert(target).from_select(
            [*keys, *_COSTS, "row_count"],
            select(
                *cols,
                *(_sum(getattr(source, c)) for c in _COSTS),
                func.sum(source.row_count),
            )
            .where(source.cloud_account_id == account_id, source.billing_period.in_(periods))
            .group_by(*cols),
        )
    )


async def _tag_rollups(
    db: AsyncSession, account_id: uuid.UUID, periods: list[date], postgres: bool
) -> None:
    """``cost_tag_rollups`` of the periods from the raw rows, written in (tag key, tag value,
    region, day) order so that a tag value's rows (in a region) sit together on disk."""
    r = CostRecord
    service = canonical_sql(r.service_name)
    # Sum per distinct tag object first, then explode: a day holds far fewer distinct tag
    # objects than rows, so jsonb_each / json_each runs on thousands of rows, not millions.
    tag_dims = (
        r.org_id,
        r.cloud_account_id,
        r.billing_period,
        r.usage_date,
        r.currency,
        r.provider,
        r.provider_name,
        service.label("service_name"),
        r.service_category,
        r.region,
        r.charge_category,
    )
    is_object = (
        func.jsonb_typeof(r.tags) == "object" if postgres else func.json_type(r.tags) == "object"
    )
    per_tags = (
        select(
            *tag_dims,
            r.tags,
            _sum(r.billed_cost).label("billed_cost"),
            _sum(r.effective_cost).label("effective_cost"),
            _sum(r.list_cost).label("list_cost"),
            func.count().label("row_count"),
        )
        .where(
            r.cloud_account_id == account_id,
            r.billing_period.in_(periods),
            r.tags.is_not(None),
            is_object,
        )
        .group_by(*tag_dims[:7], service, *tag_dims[8:], r.tags)
        .subquery("per_tags")
    )
    t = per_tags.c
    each = (func.jsonb_each_text(t.tags) if postgres else func.json_each(t.tags)).table_valued(
        "key", "value"
    )
    key = func.substr(each.c["key"], 1, TAG_KEY_MAX)
    value_text = each.c["value"] if postgres else cast(each.c["value"], Text)
    value = func.substr(func.coalesce(value_text, ""), 1, TAG_VALUE_MAX)
    per_tag_dims = [t[c] for c in (*_ACCOUNT_DAY, *_DIMS)]
    tag_select: Select[*tuple[Any, ...]] = (
        select(
            *per_tag_dims,
            key,
            value,
            func.sum(t.billed_cost, type_=Money),
            func.sum(t.effective_cost, type_=Money),
            func.sum(t.list_cost, type_=Money),
            func.sum(t.row_count),
        )
        .select_from(per_tags)
        .join(each, literal_column("1") == literal_column("1"))
        .group_by(*per_tag_dims, key, value)
        .order_by(key, value, t.region, t.usage_date)
    )
    await db.execute(
        insert(CostTagRollup).from_select(
            [*_ACCOUNT_DAY, *_DIMS, "tag_key", "tag_value", *_COSTS, "row_count"], tag_select
        )
    )


def month_start(col: Any, postgres: bool) -> ColumnElement[date]:
    """The first day of ``col``'s month, written without bound parameters (so the expression
    can be selected and grouped by on PostgreSQL)."""
    if postgres:
        return cast(func.date_trunc(literal_column("'month'"), col), Date)
    return func.date(col, literal_column("'start of month'"), type_=Date)


# --- running totals of the resources -------------------------------------------------------------
# cost_resource_running_totals holds, for one account, a correct prefix: every month from its
# first through some month. Replacing periods cuts it where the periods' resource rows begin
# (before and after the change) and extends it again to the account's newest month.

RUNNING_KEYS: Final = (
    "currency",
    "provider",
    "provider_name",
    "service_name",
    "service_category",
    "region",
    "charge_category",
    "pricing_category",
    "resource_id",
)
_RUNNING_BATCH: Final = 5_000


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s (before it when negative)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def _cut_running_totals(
    db: AsyncSession, account_id: uuid.UUID, periods: Sequence[date]
) -> None:
    """Drop the running totals from the first month the periods' resource rows fall in."""
    m = CostMonthlyResourceRollup
    first = await db.scalar(
        select(func.min(m.usage_date)).where(
            m.cloud_account_id == account_id, m.billing_period.in_(list(periods))
        )
    )
    if first is not None:
        r = CostResourceRunningTotal
        await db.execute(delete(r).where(r.cloud_account_id == account_id, r.usage_date >= first))


async def _extend_running_totals(
    db: AsyncSession, account_id: uuid.UUID, periods: Sequence[date]
) -> None:
    """Rebuild the account's running totals from the first month they lack (or the first
    month of the just-written ``periods``' resource rows, if earlier) to its newest month,
    summing ``cost_monthly_resource_rollups`` in Python (exact Decimals, on both databases)."""
    m, r = CostMonthlyResourceRollup, CostResourceRunningTotal
    mine = m.cloud_account_id == account_id
    newest, oldest = (
        await db.execute(select(func.max(m.usage_date), func.min(m.usage_date)).where(mine))
    ).one()
    last = await db.scalar(select(func.max(r.usage_date)).where(r.cloud_account_id == account_id))
    fresh = await db.scalar(
        select(func.min(m.usage_date)).where(mine, m.billing_period.in_(list(periods)))
    )
    starts = [add_months(last, 1) if last is not None else oldest, fresh]
    start = min((d for d in starts if d is not None), default=None)
    if start is None or newest is None:
        await db.execute(delete(r).where(r.cloud_account_id == account_id))
        return
    await db.execute(delete(r).where(r.cloud_account_id == account_id, r.usage_date >= start))
    if start > newest:
        return
    keys = [getattr(m, k) for k in RUNNING_KEYS]
    sums = [_sum(m.billed_cost), _sum(m.effective_cost), _sum(m.list_cost), func.sum(m.row_count)]
    by_month: dict[date, list[Any]] = {}
    org_id: uuid.UUID | None = None
    for row in await db.execute(
        select(m.org_id, m.usage_date, *keys, *sums)
        .where(mine, m.usage_date >= start)
        .group_by(m.org_id, m.usage_date, *keys)
    ):
        org_id = row[0]
        by_month.setdefault(row[1], []).append(row[2:])
    running: dict[tuple[Any, ...], list[Any]] = {}
    if start.month != 1:  # carry the year's totals so far
        cols = [getattr(r, k) for k in RUNNING_KEYS]
        for row in await db.execute(
            select(
                r.org_id, *cols, r.billed_cost, r.effective_cost, r.list_cost, r.row_count
            ).where(r.cloud_account_id == account_id, r.usage_date == add_months(start, -1))
        ):
            org_id = row[0]
            running[tuple(row[1:10])] = list(row[10:])
    n = len(RUNNING_KEYS)
    batch: list[dict[str, Any]] = []
    month = start
    while month <= newest:
        if month.month == 1:
            running = {}
        for row in by_month.get(month, ()):
            totals = running.setdefault(tuple(row[:n]), [Decimal(0), Decimal(0), Decimal(0), 0])
            for i, value in enumerate(row[n:]):
                totals[i] += value or 0
        for key, (billed, effective, listed, count) in running.items():
            batch.append(
                {
                    "org_id": org_id,
                    "cloud_account_id": account_id,
                    "usage_date": month,
                    **dict(zip(RUNNING_KEYS, key, strict=True)),
                    "billed_cost": billed,
                    "effective_cost": effective,
                    "list_cost": listed,
                    "row_count": count,
                }
            )
            if len(batch) >= _RUNNING_BATCH:
                await db.execute(insert(r), batch)
                batch = []
        month = add_months(month, 1)
    if batch:
        await db.execute(insert(r), batch)
