"""commitments and ai insights

Revision ID: bf42e4f92865
Revises: a33a70e4b673
Create Date: 2026-12-03 12:39:15.775837+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "bf42e4f92865"
down_revision: str | None = "a33a70e4b673"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_insights",
        sa.Column("scope_key", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_ai_insights_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_insights")),
        sa.UniqueConstraint(
            "org_id", "scope_key", "day", name=op.f("uq_ai_insights_org_id_scope_key_day")
        ),
    )
    with op.batch_alter_table("ai_insights", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_insights_org_id"), ["org_id"], unique=False)

    op.create_table(
        "commitments",
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("commitment_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("start_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("payment_option", sa.String(length=64), nullable=True),
        sa.Column("hourly_cost", xplorr.core.models.Money(precision=38, scale=9), nullable=True),
        sa.Column("upfront_cost", xplorr.core.models.Money(precision=38, scale=9), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("last_seen_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_commitments_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_commitments_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
        sa.UniqueConstraint(
            "cloud_account_id",
            "commitment_id",
            name=op.f("uq_commitments_cloud_account_id_commitment_id"),
        ),
    )
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitments_cloud_account_id"), ["cloud_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_commitments_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitments_org_id"))
        batch_op.drop_index(batch_op.f("ix_commitments_cloud_account_id"))

    op.drop_table("commitments")
    with op.batch_alter_table("ai_insights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_insights_org_id"))

    op.drop_table("ai_insights")
