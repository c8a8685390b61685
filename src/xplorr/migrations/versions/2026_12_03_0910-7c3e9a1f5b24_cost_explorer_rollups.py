"""cost explorer rollups: pricing category in cost_rollups, tag rollups by provider, service,
region and categories, monthly rollups, one name per service; every rollup rebuilt from
cost_records

Revision ID: 7c3e9a1f5b24
Revises: 8e4b2d6f1a73
Create Date: 2026-12-03 09:10:00.000000+00:00

``cost_tag_rollups`` is dropped and created again with its new columns, then the three rollups
are rebuilt from ``cost_records`` as ``costs.store.rebuild_rollups`` builds them (service names
through ``costs.services``: the table only ever grows, so reading it here is safe). One pass
per rollup over the whole table, in the migration's transaction.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

import xplorr.core.models
from xplorr.costs.services import canonical_sql

revision: str = "7c3e9a1f5b24"
down_revision: str | None = "8e4b2d6f1a73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MONEY = xplorr.core.models.Money()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ACCOUNT_DAY = ("org_id", "cloud_account_id", "billing_period", "usage_date", "currency")
_COSTS = ("billed_cost", "effective_cost", "list_cost")


def _table(name: str, *columns: str, tags: bool = False) -> sa.TableClause:
    cols: list[Any] = [sa.column(c) for c in (*_ACCOUNT_DAY, *columns)]
    cols += [sa.column(c, _MONEY) for c in _COSTS]
    if tags:
        cols.append(sa.column("tags", sa.JSON().with_variant(JSONB(), "postgresql")))
    return sa.table(name, *cols)


_DIMS = ("provider", "provider_name", "service_name", "service_category", "region")
records = _table("cost_records", *_DIMS, "charge_category", "pricing_category", tags=True)
rollups = _table("cost_rollups", *_DIMS, "charge_category", "pricing_category", "row_count")
service_rollups = _table("cost_service_rollups", *_DIMS[:4], "row_count")
tag_rollups = _table("cost_tag_rollups", *_DIMS, "charge_category", "tag_key", "tag_value")


monthly_rollups = _table(
    "cost_monthly_rollups", *_DIMS, "charge_category", "pricing_category", "row_count"
)
monthly_tag_rollups = _table(
    "cost_monthly_tag_rollups", *_DIMS, "charge_category", "tag_key", "tag_value"
)


def _tag_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("tag_key", sa.String(length=200), nullable=False),
        sa.Column("tag_value", sa.String(length=500), nullable=False),
    ]


def _untagged_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("pricing_category", sa.String(length=32), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
    ]


def _create_tag_rollups(name: str = "cost_tag_rollups") -> None:
    """``cost_tag_rollups``, ``cost_monthly_tag_rollups`` or ``cost_monthly_rollups`` (the
    daily rollups' columns: a month's first day as usage_date)."""
    tagged = "tag" in name
    op.create_table(
        name,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        *(_tag_columns() if tagged else []),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_name", sa.String(length=100), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("service_category", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("charge_category", sa.String(length=32), nullable=False),
        *([] if tagged else _untagged_columns()),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("billing_period", sa.Date(), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("billed_cost", _MONEY, nullable=False),
        sa.Column("effective_cost", _MONEY, nullable=False),
        sa.Column("list_cost", _MONEY, nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f(f"fk_{name}_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_account_period", name, ["cloud_account_id", "billing_period"])
    if tagged:
        op.create_index(f"ix_{name}_org_key_date", name, ["org_id", "tag_key", "usage_date"])
    else:
        op.create_index(f"ix_{name}_org_date", name, ["org_id", "usage_date"])


def _sum(col: Any) -> Any:
    return sa.func.sum(col, type_=_MONEY)


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
    bind.execute(
        rollups.insert().from_select(
            [*_ACCOUNT_DAY, *_DIMS, "charge_category", "pricing_category", *_COSTS, "row_count"],
            sa.select(*dims, *(_sum(r[c]) for c in _COSTS), sa.func.count()).group_by(*dims),
        )
    )
    c = rollups.c
    service_dims = [*(c[x] for x in _ACCOUNT_DAY), *(c[x] for x in _DIMS[:4])]
    bind.execute(
        service_rollups.insert().from_select(
            [*_ACCOUNT_DAY, *_DIMS[:4], *_COSTS, "row_count"],
            sa.select(
                *service_dims, *(_sum(c[x]) for x in _COSTS), sa.func.sum(c.row_count)
            ).group_by(*service_dims),
        )
    )
    is_object = (
        sa.func.jsonb_typeof(r.tags) == "object"
        if postgres
        else sa.func.json_type(r.tags) == "object"
    )
    tag_dims = [
        *(r[x] for x in _ACCOUNT_DAY),
        r.provider,
        r.provider_name,
        service.label("service_name"),
        r.service_category,
        r.region,
        r.charge_category,
    ]
    per_tags = (
        sa.select(*tag_dims, r.tags, *(_sum(r[x]).label(x) for x in _COSTS))
        .where(r.tags.is_not(None), is_object)
        .group_by(*tag_dims[:7], service, *tag_dims[8:], r.tags)
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
            [*_ACCOUNT_DAY, *_DIMS, "charge_category", "tag_key", "tag_value", *_COSTS],
            sa.select(*per_tag_dims, key, value, *(sa.func.sum(t[x], type_=_MONEY) for x in _COSTS))
            .select_from(per_tags)
            .join(each, sa.literal_column("1") == sa.literal_column("1"))
            .group_by(*per_tag_dims, key, value),
        )
    )


def _month(col: Any, postgres: bool) -> Any:
    if postgres:
        return sa.cast(sa.func.date_trunc(sa.literal_column("'month'"), col), sa.Date)
    return sa.func.date(col, sa.literal_column("'start of month'"), type_=sa.Date)


def _rebuild_monthly(postgres: bool) -> None:
    bind = op.get_bind()
    for daily, monthly, columns in (
        (rollups, monthly_rollups, (*_DIMS, "charge_category", "pricing_category")),
        (tag_rollups, monthly_tag_rollups, (*_DIMS, "charge_category", "tag_key", "tag_value")),
    ):
        c = daily.c
        keys = [
            c.org_id,
            c.cloud_account_id,
            c.billing_period,
            _month(c.usage_date, postgres),
            c.currency,
            *(c[x] for x in columns),
        ]
        sums = [_sum(c[x]) for x in _COSTS]
        counted = ["row_count"] if daily is rollups else []
        if counted:
            sums.append(sa.func.sum(c.row_count))
        bind.execute(
            monthly.insert().from_select(
                [*_ACCOUNT_DAY, *columns, *_COSTS, *counted],
                sa.select(*keys, *sums).group_by(*keys),
            )
        )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table("cost_tag_rollups")
    _create_tag_rollups()
    _create_tag_rollups("cost_monthly_rollups")
    _create_tag_rollups("cost_monthly_tag_rollups")
    op.add_column("cost_rollups", sa.Column("pricing_category", sa.String(32), nullable=True))
    op.execute("DELETE FROM cost_service_rollups")
    op.execute("DELETE FROM cost_rollups")
    _rebuild(postgres)
    _rebuild_monthly(postgres)


def downgrade() -> None:
    op.drop_table("cost_monthly_tag_rollups")
    op.drop_table("cost_monthly_rollups")
    # The rollups keep the shown service names and the finer tag rows (still correct sums for
    # the old queries' dimensions); only the new columns go.
    with op.batch_alter_table("cost_rollups") as batch:
        batch.drop_column("pricing_category")
    with op.batch_alter_table("cost_tag_rollups") as batch:
        for name in (
            "provider",
            "provider_name",
            "service_name",
            "service_category",
            "region",
            "charge_category",
        ):
            batch.drop_column(name)
