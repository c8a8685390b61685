"""inventory_resources: the resources collectors found (AWS API, bill-derived demo inventory)

Revision ID: 304a04cb42cd
Revises: c7a1e4f09b3d
Create Date: 2026-12-03 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "304a04cb42cd"
down_revision: str | None = "c7a1e4f09b3d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = xplorr.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inventory_resources",
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("attributes", _JSON, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("deleted_at", _TS, nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_inventory_resources_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_inventory_resources_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_resources")),
        sa.UniqueConstraint(
            "cloud_account_id",
            "resource_id",
            name=op.f("uq_inventory_resources_cloud_account_id_resource_id"),
        ),
    )
    with op.batch_alter_table("inventory_resources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_resources_cloud_account_id"), ["cloud_account_id"]
        )
        batch_op.create_index(batch_op.f("ix_inventory_resources_org_id"), ["org_id"])
        batch_op.create_index("ix_inventory_resources_org_type", ["org_id", "resource_type"])


def downgrade() -> None:
    op.drop_table("inventory_resources")
