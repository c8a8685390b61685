"""aws prices and commitment offer

- ``price_points``: AWS on-demand list prices read through the Pricing API, per organization
  (kind, item, region), with the day they were read; ``price_refreshes``: how each AWS
  account's last read went (a denied one is not asked again for a week).
- ``org_settings`` gains the commitment offer AWS purchase recommendations are asked for
  (``commitment_term``, ``commitment_payment_option``; existing rows: one year, no upfront,
  what was always asked).
- Purchase recommendations are now identified by what they buy, not by the term and payment
  option (which follow the setting): the two trailing parts of their fingerprints go, so each
  keeps its id and status across a change of the setting.

Revision ID: 7769ed15510e
Revises: c3a8e1f05d92
Create Date: 2026-12-03 15:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xplorr.core.models

revision: str = "7769ed15510e"
down_revision: str | None = "c3a8e1f05d92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_points",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("price", xplorr.core.models.Money(precision=38, scale=9), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("effective_date", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("fetched_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_price_points_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_points")),
        sa.UniqueConstraint(
            "org_id", "kind", "item", "region", name=op.f("uq_price_points_org_id_kind_item_region")
        ),
    )
    with op.batch_alter_table("price_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_points_org_id"), ["org_id"], unique=False)

    op.create_table(
        "price_refreshes",
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("attempted_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("warning", sa.Text(), nullable=True),
        sa.Column("items_read", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_price_refreshes_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_price_refreshes_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_refreshes")),
        sa.UniqueConstraint("cloud_account_id", name=op.f("uq_price_refreshes_cloud_account_id")),
    )
    with op.batch_alter_table("price_refreshes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_refreshes_cloud_account_id"), ["cloud_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_price_refreshes_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "commitment_term", sa.String(length=16), nullable=False, server_default="one_year"
            )
        )
        batch_op.add_column(
            sa.Column(
                "commitment_payment_option",
                sa.String(length=16),
                nullable=False,
                server_default="no_upfront",
            )
        )
    _purchase_fingerprints(drop_terms=True)


_RECS = sa.table(
    "recommendations",
    sa.column("id", sa.Uuid()),
    sa.column("type", sa.String()),
    sa.column("fingerprint", sa.String()),
)
_PURCHASE_TYPES = ("purchase_reserved_instances", "purchase_savings_plan")
_TERMS = ("ONE_YEAR", "THREE_YEARS")
_PAYMENTS = ("NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT")


def _purchase_fingerprints(*, drop_terms: bool) -> None:
    """Drop (or, down, put back as one year no upfront) the term and payment option parts of
    the purchase recommendations' fingerprints."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_RECS.c.id, _RECS.c.fingerprint).where(_RECS.c.type.in_(_PURCHASE_TYPES))
    ).all()
    for ident, fingerprint in rows:
        parts = fingerprint.rsplit(":", 2)
        if drop_terms:
            if len(parts) != 3 or parts[1] not in _TERMS or parts[2] not in _PAYMENTS:
                continue
            new = parts[0]
        else:
            if len(parts) == 3 and parts[1] in _TERMS and parts[2] in _PAYMENTS:
                continue
            new = f"{fingerprint}:ONE_YEAR:NO_UPFRONT"
        bind.execute(sa.update(_RECS).where(_RECS.c.id == ident).values(fingerprint=new))


def downgrade() -> None:
    _purchase_fingerprints(drop_terms=False)
    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.drop_column("commitment_payment_option")
        batch_op.drop_column("commitment_term")

    with op.batch_alter_table("price_refreshes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_refreshes_org_id"))
        batch_op.drop_index(batch_op.f("ix_price_refreshes_cloud_account_id"))

    op.drop_table("price_refreshes")
    with op.batch_alter_table("price_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_points_org_id"))

    op.drop_table("price_points")
