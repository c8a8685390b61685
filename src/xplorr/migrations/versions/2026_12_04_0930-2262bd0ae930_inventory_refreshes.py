"""inventory_refreshes: each cloud account's newest inventory refresh and what its collector
could not read (denied calls), shown by ``GET /sync/status``; empty until the next refresh

Revision ID: 2262bd0ae930
Revises: 28fa017800c2
Create Date: 2026-12-04 09:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "2262bd0ae930"
down_revision: str | None = "28fa017800c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_refreshes",
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("refreshed_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "warnings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_inventory_refreshes_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_inventory_refreshes_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_refreshes")),
        sa.UniqueConstraint(
            "cloud_account_id", name=op.f("uq_inventory_refreshes_cloud_account_id")
        ),
    )
    with op.batch_alter_table("inventory_refreshes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_refreshes_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_refreshes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_refreshes_org_id"))
    op.drop_table("inventory_refreshes")
