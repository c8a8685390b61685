"""provider_recommendations: a provider's own cost recommendations (Azure Advisor)

Revision ID: a2c4e6f8b1d3
Revises: 6c0a9e2f4d17
Create Date: 2026-12-03 12:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "a2c4e6f8b1d3"
down_revision: str | None = "6c0a9e2f4d17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = xplorr.core.models.UTCDateTime(timezone=True)
_MONEY = xplorr.core.models.Money()


def upgrade() -> None:
    op.create_table(
        "provider_recommendations",
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("recommendation_id", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("impact", sa.String(length=32), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("solution", sa.Text(), nullable=True),
        sa.Column("savings_amount", _MONEY, nullable=True),
        sa.Column("annual_savings_amount", _MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("last_updated", _TS, nullable=True),
        sa.Column("seen_at", _TS, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_provider_recommendations_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_provider_recommendations_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_recommendations")),
        sa.UniqueConstraint(
            "cloud_account_id",
            "recommendation_id",
            name=op.f("uq_provider_recommendations_cloud_account_id_recommendation_id"),
        ),
    )
    with op.batch_alter_table("provider_recommendations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_recommendations_cloud_account_id"), ["cloud_account_id"]
        )
        batch_op.create_index(batch_op.f("ix_provider_recommendations_org_id"), ["org_id"])


def downgrade() -> None:
    op.drop_table("provider_recommendations")
