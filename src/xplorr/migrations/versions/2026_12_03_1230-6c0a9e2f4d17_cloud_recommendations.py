"""cloud_recommendations: providers' own cost recommendations (GCP Recommender)

Revision ID: 6c0a9e2f4d17
Revises: 4e23d47b1080
Create Date: 2026-12-03 12:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "6c0a9e2f4d17"
down_revision: str | None = "4e23d47b1080"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = xplorr.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cloud_recommendations",
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("recommendation_id", sa.Text(), nullable=False),
        sa.Column("recommender", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("monthly_savings", xplorr.core.models.Money(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_cloud_recommendations_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_cloud_recommendations_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cloud_recommendations")),
        sa.UniqueConstraint(
            "cloud_account_id",
            "recommendation_id",
            name=op.f("uq_cloud_recommendations_cloud_account_id_recommendation_id"),
        ),
    )
    with op.batch_alter_table("cloud_recommendations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cloud_recommendations_cloud_account_id"), ["cloud_account_id"]
        )
        batch_op.create_index(batch_op.f("ix_cloud_recommendations_org_id"), ["org_id"])


def downgrade() -> None:
    op.drop_table("cloud_recommendations")
