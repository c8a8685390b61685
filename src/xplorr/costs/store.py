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
    CostMonthlyRollup,
    CostMonthlyTagRollup,
    CostRecord,
    CostRollup,
    CostServiceRollup,
    CostTagRollup,
)
from xplorr.costs.services import canonical_sql

ROLLUPS: Final = (
    CostRollup,
    CostServiceRollup,
    CostTagRollup,
    CostMonthlyRollup,
    CostMonthlyTagRollup,
)
TAG_KEY_MAX = 200
TAG_VALUE_MAX = 500


async def delete_periods(db: AsyncSession, account_id: uuid.UUID, periods: Sequence[date]) -> None:
    """Drop an account's rows and rollups of ``periods`` (not its import records)."""
    if not periods:
        return
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
    await delete_periods(db, account_id, periods)
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
    for model in (*reversed(ROLLUPS), CostRecord, CostImport):
        await db.execute(delete(model).where(model.cloud_account_id == account_id))


def _sum(col: InstrumentedAttribute[Decimal]) -> ColumnElement[Decimal]:
    return func.sum(col, type_=Money)


async def rebuild_rollups(db: AsyncSession, account_id: uuid.UUID, periods: Sequence[date]) -> None:
    """Recompute the rollups of ``periods`` of one account from its rows, in SQL
    (``cost_service_rollups`` from the freshly built ``cost_rollups``: a few thousand rows)."""
    if not periods:
        return
    period_list = list(periods)
    for model in ROLLUPS:
        await db.execute(
            delete(model).where(
                model.cloud_account_id == account_id, model.billing_period.in_(period_list)
            )
        )
    r = CostRecord
    where = (r.cloud_account_id == account_id, r.billing_period.in_(period_list))
    service = canonical_sql(r.service_name)
    dims = (
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
    rollup_select: Select[*tuple[Any, ...]] = (
        select(
            *dims,
            _sum(r.billed_cost),
            _sum(r.effective_cost),
            _sum(r.list_cost),
            func.count(),
        )
        .where(*where)
        .group_by(*dims)
    )
    await db.execute(
        insert(CostRollup).from_select(
            [
                "org_id",
                "cloud_account_id",
                "billing_period",
                "usage_date",
                "currency",
                "provider",
                "provider_name",
                "service_name",
                "service_category",
                "region",
                "charge_category",
                "pricing_category",
                "billed_cost",
                "effective_cost",
                "list_cost",
                "row_count",
            ],
            rollup_select,
        )
    )
    c = CostRollup
    service_dims = (
        c.org_id,
        c.cloud_account_id,
        c.billing_period,
        c.usage_date,
        c.currency,
        c.provider,
        c.provider_name,
        c.service_name,
        c.service_category,
    )
    service_select: Select[*tuple[Any, ...]] = (
        select(
            *service_dims,
            _sum(c.billed_cost),
            _sum(c.effective_cost),
            _sum(c.list_cost),
            func.sum(c.row_count),
        )
        .where(c.cloud_account_id == account_id, c.billing_period.in_(period_list))
        .group_by(*service_dims)
    )
    await db.execute(
        insert(CostServiceRollup).from_select(
            [
                "org_id",
                "cloud_account_id",
                "billing_period",
                "usage_date",
                "currency",
                "provider",
                "provider_name",
                "service_name",
                "service_category",
                "billed_cost",
                "effective_cost",
                "list_cost",
                "row_count",
            ],
            service_select,
        )
    )
    postgres = is_postgres(db)
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
        )
        .where(*where, r.tags.is_not(None), is_object)
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
    per_tag_dims = (
        t.org_id,
        t.cloud_account_id,
        t.billing_period,
        t.usage_date,
        t.currency,
        t.provider,
        t.provider_name,
        t.service_name,
        t.service_category,
        t.region,
        t.charge_category,
    )
    tag_select: Select[*tuple[Any, ...]] = (
        select(
            *per_tag_dims,
            key,
            value,
            func.sum(t.billed_cost, type_=Money),
            func.sum(t.effective_cost, type_=Money),
            func.sum(t.list_cost, type_=Money),
        )
        .select_from(per_tags)
        .join(each, literal_column("1") == literal_column("1"))
        .group_by(*per_tag_dims, key, value)
    )
    await db.execute(
        insert(CostTagRollup).from_select(
            [
                "org_id",
                "cloud_account_id",
                "billing_period",
                "usage_date",
                "currency",
                "provider",
                "provider_name",
                "service_name",
                "service_category",
                "region",
                "charge_category",
                "tag_key",
                "tag_value",
                "billed_cost",
                "effective_cost",
                "list_cost",
            ],
            tag_select,
        )
    )
    await _monthly(db, account_id, period_list, postgres)


def month_start(col: Any, postgres: bool) -> ColumnElement[date]:
    """The first day of ``col``'s month, written without bound parameters (so the expression
    can be selected and grouped by on PostgreSQL)."""
    if postgres:
        return cast(func.date_trunc(literal_column("'month'"), col), Date)
    return func.date(col, literal_column("'start of month'"), type_=Date)


async def _monthly(
    db: AsyncSession, account_id: uuid.UUID, periods: list[date], postgres: bool
) -> None:
    """The monthly rollups of ``periods``, from the daily ones just built."""
    for daily, monthly, columns in (
        (
            CostRollup,
            CostMonthlyRollup,
            (
                "provider",
                "provider_name",
                "service_name",
                "service_category",
                "region",
                "charge_category",
                "pricing_category",
            ),
        ),
        (
            CostTagRollup,
            CostMonthlyTagRollup,
            (
                "provider",
                "provider_name",
                "service_name",
                "service_category",
                "region",
                "charge_category",
                "tag_key",
                "tag_value",
            ),
        ),
    ):
        month = month_start(daily.usage_date, postgres)
        keys = [
            daily.org_id,
            daily.cloud_account_id,
            daily.billing_period,
            month,
            daily.currency,
            *(getattr(daily, c) for c in columns),
        ]
        sums: list[Any] = [
            _sum(daily.billed_cost),
            _sum(daily.effective_cost),
            _sum(daily.list_cost),
        ]
        extra = ["row_count"] if daily is CostRollup else []
        if daily is CostRollup:
            sums.append(func.sum(CostRollup.row_count))
        await db.execute(
            insert(monthly).from_select(
                [
                    "org_id",
                    "cloud_account_id",
                    "billing_period",
                    "usage_date",
                    "currency",
                    *columns,
                    "billed_cost",
                    "effective_cost",
                    "list_cost",
                    *extra,
                ],
                select(*keys, *sums)
                .where(daily.cloud_account_id == account_id, daily.billing_period.in_(periods))
                .group_by(*keys),
            )
        )
