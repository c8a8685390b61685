"""cost rollups for resources, SKUs and tag values; row counts in the tag rollups

The explorer's last raw-row queries get rollups (issue 13, "fast at 10M rows"):
``cost_monthly_resource_rollups`` (per resource and month) and its running totals within each
calendar year (``cost_resource_running_totals``, summed here in Python), ``cost_sku_rollups`` and
``cost_monthly_sku_rollups`` (per SKU), ``cost_tag_value_rollups`` and
``cost_monthly_tag_value_rollups`` (per tag key and value only). The tag rollups gain
``row_count`` (an untagged filter is then derived exactly) and an index on (org, key, value,
region, day); they are dropped and rebuilt, written in that order. Everything is built from
``cost_records`` as ``costs.store.rebuild_rollups`` builds it (service names through
``costs.services``, a table that only grows), one pass per rollup, in the migration's
transaction.

Revision ID: 28fa017800c2
Revises: 0e22268de4f4
Create Date: 2026-12-03 15:00:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

import xplorr.core.models
from xplorr.costs.services import canonical_sql

revision: str = "28fa017800c2"
down_revision: str | None = "0e22268de4f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MONEY = xplorr.core.models.Money()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ACCOUNT_DAY = ("org_id", "cloud_account_id", "billing_period", "usage_date", "currency")
_COSTS = ("billed_cost", "effective_cost", "list_cost")
_DIMS = ("provider", "provider_name", "service_name", "service_category", "region")
_ROLLUP_DIMS = (*_DIMS, "charge_category", "pricing_category")
_TAG = ("tag_key", "tag_value")


def _table(name: str, *columns: str, tags: bool = False) -> sa.TableClause:
    cols: list[Any] = [sa.column(c) for c in (*_ACCOUNT_DAY, *columns)]
    cols += [sa.column(c, _MONEY) for c in _COSTS]
    if tags:
        cols.append(sa.column("tags", sa.JSON().with_variant(JSONB(), "postgresql")))
    return sa.table(name, *cols)


records = _table("cost_records", *_ROLLUP_DIMS, "sku_id", "resource_id", tags=True)
tag_rollups = _table("cost_tag_rollups", *_DIMS, "charge_category", *_TAG, "row_count")
monthly_tag_rollups = _table(
    "cost_monthly_tag_rollups", *_DIMS, "charge_category", *_TAG, "row_count"
)
tag_value_rollups = _table("cost_tag_value_rollups", *_TAG, "row_count")
monthly_tag_value_rollups = _table("cost_monthly_tag_value_rollups", *_TAG, "row_count")
sku_rollups = _table("cost_sku_rollups", *_ROLLUP_DIMS, "sku_id", "row_count")
monthly_sku_rollups = _table("cost_monthly_sku_rollups", *_ROLLUP_DIMS, "sku_id", "row_count")
resource_rollups = _table(
    "cost_monthly_resource_rollups", *_ROLLUP_DIMS, "resource_id", "row_count"
)


def _common(name: str) -> list[Any]:
    return [
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("billing_period", sa.Date(), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("billed_cost", _MONEY, nullable=False),
        sa.Column("effective_cost", _MONEY, nullable=False),
        sa.Column("list_cost", _MONEY, nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f(f"fk_{name}_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    ]


def _dim_columns(pricing: bool = True) -> list[Any]:
    return [
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_name", sa.String(length=100), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("service_category", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("charge_category", sa.String(length=32), nullable=False),
        *([sa.Column("pricing_category", sa.String(length=32), nullable=True)] if pricing else []),
    ]


def _tag_columns() -> list[Any]:
    return [
        sa.Column("tag_key", sa.String(length=200), nullable=False),
        sa.Column("tag_value", sa.String(length=500), nullable=False),
    ]


def _create(name: str, columns: list[Any], indexes: dict[str, list[str]]) -> None:
    op.create_table(
        name, sa.Column("id", _ID, autoincrement=True, nullable=False), *columns, *_common(name)
    )
    op.create_index(f"ix_{name}_account_period", name, ["cloud_account_id", "billing_period"])
    for suffix, cols in indexes.items():
        op.create_index(f"ix_{name}_{suffix}", name, cols)


def _create_tables() -> None:
    org_key_date = {"org_key_date": ["org_id", "tag_key", "usage_date"]}
    org_date = {"org_date": ["org_id", "usage_date"]}
    _create(
        "cost_tag_rollups",
        [*_tag_columns(), *_dim_columns(pricing=False)],
        {
            **org_key_date,
            "org_key_value_region_date": [
                "org_id",
                "tag_key",
                "tag_value",
                "region",
                "usage_date",
            ],
        },
    )
    _create("cost_monthly_tag_rollups", [*_tag_columns(), *_dim_columns(False)], org_key_date)
    _create("cost_tag_value_rollups", _tag_columns(), org_key_date)
    _create("cost_monthly_tag_value_rollups", _tag_columns(), org_key_date)
    for name in ("cost_sku_rollups", "cost_monthly_sku_rollups"):
        sku = sa.Column("sku_id", sa.String(length=200), nullable=True)
        _create(name, [*_dim_columns(), sku], org_date)
    _create(
        "cost_monthly_resource_rollups",
        [*_dim_columns(), sa.Column("resource_id", sa.Text(), nullable=True)],
        {**org_date, "org_resource_date": ["org_id", "resource_id", "usage_date"]},
    )


def _create_running_totals() -> None:
    name = "cost_resource_running_totals"
    op.create_table(
        name,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_dim_columns(),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("billed_cost", _MONEY, nullable=False),
        sa.Column("effective_cost", _MONEY, nullable=False),
        sa.Column("list_cost", _MONEY, nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f(f"fk_{name}_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_org_date", name, ["org_id", "usage_date"])
    op.create_index(f"ix_{name}_account_date", name, ["cloud_account_id", "usage_date"])
    op.create_index(f"ix_{name}_org_resource_date", name, ["org_id", "resource_id", "usage_date"])


_RUNNING_KEYS = ("currency", *_ROLLUP_DIMS, "resource_id")
running_totals = sa.table(
    "cost_resource_running_totals",
    *(sa.column(c) for c in ("org_id", "cloud_account_id", "usage_date", *_RUNNING_KEYS)),
    *(sa.column(c, _MONEY) for c in _COSTS),
    sa.column("row_count"),
)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _backfill_running_totals() -> None:
    """Per account: each month's totals since January of its year, for every resource row
    seen that year, through the account's newest month."""
    bind = op.get_bind()
    c = resource_rollups.c
    keys = [c[k] for k in _RUNNING_KEYS]
    stmt = (
        sa.select(
            c.cloud_account_id,
            c.org_id,
            c.usage_date,
            *keys,
            *(_sum(c[x]) for x in _COSTS),
            sa.func.sum(c.row_count),
        )
        .group_by(c.cloud_account_id, c.org_id, c.usage_date, *keys)
        .order_by(c.cloud_account_id, c.usage_date)
    )
    per_account: dict[Any, dict[date, list[Any]]] = {}
    orgs: dict[Any, Any] = {}
    for row in bind.execute(stmt):
        orgs[row[0]] = row[1]
        per_account.setdefault(row[0], {}).setdefault(row[2], []).append(row[3:])
    n = len(_RUNNING_KEYS)
    for account, months in per_account.items():
        batch: list[dict[str, Any]] = []
        running: dict[tuple[Any, ...], list[Any]] = {}
        month, newest = min(months), max(months)
        while month <= newest:
            if month.month == 1:
                running = {}
            for row in months.get(month, ()):
                totals = running.setdefault(tuple(row[:n]), [Decimal(0)] * 3 + [0])
                for i, value in enumerate(row[n:]):
                    totals[i] += value or 0
            for key, totals in running.items():
                batch.append(
                    {
                        "org_id": orgs[account],
                        "cloud_account_id": account,
                        "usage_date": month,
                        **dict(zip(_RUNNING_KEYS, key, strict=True)),
                        **dict(zip((*_COSTS, "row_count"), totals, strict=True)),
                    }
                )
            if len(batch) >= 5_000:
                bind.execute(running_totals.insert(), batch)
                batch = []
            month = _next_month(month)
        if batch:
            bind.execute(running_totals.insert(), batch)


def _sum(col: Any) -> Any:
    return sa.func.sum(col, type_=_MONEY)


def _month(col: Any, postgres: bool) -> Any:
    if postgres:
        return sa.cast(sa.func.date_trunc(sa.literal_column("'month'"), col), sa.Date)
    return sa.func.date(col, sa.literal_column("'start of month'"), type_=sa.Date)


def _rebuild(postgres: bool) -> None:
    bind = op.get_bind()
    r = records.c
    service = canonical_sql(r.service_name)
    dims = [
        *(r[c] for c in _ACCOUNT_DAY),
        r.provider,
        r.provider_name,
        service,
        r.service_category,
        r.region,
        r.charge_category,
        r.pricing_category,
    ]
    sums = [*(_sum(r[c]) for c in _COSTS), sa.func.count()]
    bind.execute(
        sku_rollups.insert().from_select(
            [*_ACCOUNT_DAY, *_ROLLUP_DIMS, "sku_id", *_COSTS, "row_count"],
            sa.select(*dims, r.sku_id, *sums).group_by(*dims, r.sku_id),
        )
    )
    monthly_dims = [*dims[:3], _month(r.usage_date, postgres), *dims[4:]]
    bind.execute(
        resource_rollups.insert().from_select(
            [*_ACCOUNT_DAY, *_ROLLUP_DIMS, "resource_id", *_COSTS, "row_count"],
            sa.select(*monthly_dims, r.resource_id, *sums).group_by(*monthly_dims, r.resource_id),
        )
    )
    is_object = (
        sa.func.jsonb_typeof(r.tags) == "object"
        if postgres
        else sa.func.json_type(r.tags) == "object"
    )
    tag_dims = [*dims[:7], service.label("service_name"), *dims[8:11]]
    per_tags = (
        sa.select(
            *tag_dims,
            r.tags,
            *(_sum(r[x]).label(x) for x in _COSTS),
            sa.func.count().label("row_count"),
        )
        .where(r.tags.is_not(None), is_object)
        .group_by(*dims[:11], r.tags)
        .subquery("per_tags")
    )
    t = per_tags.c
    each = (
        sa.func.jsonb_each_text(t.tags) if postgres else sa.func.json_each(t.tags)
    ).table_valued("key", "value")
    key = sa.func.substr(each.c["key"], 1, 200)
    value_text = each.c["value"] if postgres else sa.cast(each.c["value"], sa.Text)
    value = sa.func.substr(sa.func.coalesce(value_text, ""), 1, 500)
    per_tag_dims = [t[x] for x in (*_ACCOUNT_DAY, *_DIMS, "charge_category")]
    bind.execute(
        tag_rollups.insert().from_select(
            [*_ACCOUNT_DAY, *_DIMS, "charge_category", *_TAG, *_COSTS, "row_count"],
            sa.select(
                *per_tag_dims,
                key,
                value,
                *(sa.func.sum(t[x], type_=_MONEY) for x in _COSTS),
                sa.func.sum(t.row_count),
            )
            .select_from(per_tags)
            .join(each, sa.literal_column("1") == sa.literal_column("1"))
            .group_by(*per_tag_dims, key, value)
            .order_by(key, value, t.region, t.usage_date),
        )
    )
    for source, target, columns, monthly in (
        (tag_rollups, tag_value_rollups, _TAG, False),
        (tag_rollups, monthly_tag_rollups, (*_DIMS, "charge_category", *_TAG), True),
        (tag_value_rollups, monthly_tag_value_rollups, _TAG, True),
        (sku_rollups, monthly_sku_rollups, (*_ROLLUP_DIMS, "sku_id"), True),
    ):
        c = source.c
        keys = [
            c.org_id,
            c.cloud_account_id,
            c.billing_period,
            _month(c.usage_date, postgres) if monthly else c.usage_date,
            c.currency,
            *(c[x] for x in columns),
        ]
        bind.execute(
            target.insert().from_select(
                [*_ACCOUNT_DAY, *columns, *_COSTS, "row_count"],
                sa.select(*keys, *(_sum(c[x]) for x in _COSTS), sa.func.sum(c.row_count)).group_by(
                    *keys
                ),
            )
        )


_NEW = (
    "cost_resource_running_totals",
    "cost_monthly_resource_rollups",
    "cost_monthly_sku_rollups",
    "cost_sku_rollups",
    "cost_monthly_tag_value_rollups",
    "cost_tag_value_rollups",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table("cost_monthly_tag_rollups")
    op.drop_table("cost_tag_rollups")
    _create_tables()
    _create_running_totals()
    _rebuild(postgres)
    _backfill_running_totals()


def downgrade() -> None:
    for name in _NEW:
        op.drop_table(name)
    op.drop_index("ix_cost_tag_rollups_org_key_value_region_date", table_name="cost_tag_rollups")
    for name in ("cost_tag_rollups", "cost_monthly_tag_rollups"):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("row_count")
