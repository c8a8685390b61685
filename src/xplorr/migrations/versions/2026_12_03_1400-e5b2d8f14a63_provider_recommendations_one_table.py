"""provider_recommendations holds every provider's own recommendations: GCP Recommender's rows
moved over from cloud_recommendations, which is dropped

Revision ID: e5b2d8f14a63
Revises: 7c4a91d2e5b8
Create Date: 2026-12-03 14:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "e5b2d8f14a63"
down_revision: str | None = "7c4a91d2e5b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = xplorr.core.models.UTCDateTime(timezone=True)
_MONEY = xplorr.core.models.Money()
_SOURCE = "gcp-recommender"
_ADDED = ("recommender", "kind", "location", "state")


def upgrade() -> None:
    with op.batch_alter_table("provider_recommendations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recommender", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("state", sa.String(length=32), nullable=True))
    # Plain SQL copies the stored text of money and JSON as it is, on both databases.
    op.execute(
        sa.text(
            "INSERT INTO provider_recommendations (id, org_id, created_at, updated_at, "
            "cloud_account_id, provider, source, recommendation_id, resource_id, category, "
            "problem, recommender, kind, location, state, savings_amount, currency, details, "
            "seen_at) "
            "SELECT id, org_id, created_at, updated_at, cloud_account_id, provider, :source, "
            "recommendation_id, resource_id, 'Cost', description, recommender, kind, location, "
            "state, monthly_savings, currency, details, last_seen_at FROM cloud_recommendations"
        ).bindparams(source=_SOURCE)
    )
    op.drop_table("cloud_recommendations")


def downgrade() -> None:
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
        sa.Column("monthly_savings", _MONEY, nullable=True),
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
    op.execute(
        sa.text(
            "INSERT INTO cloud_recommendations (id, org_id, created_at, updated_at, "
            "cloud_account_id, provider, recommendation_id, recommender, kind, location, "
            "resource_id, description, state, monthly_savings, currency, details, last_seen_at) "
            "SELECT id, org_id, created_at, updated_at, cloud_account_id, provider, "
            "recommendation_id, COALESCE(recommender, ''), COALESCE(kind, ''), location, "
            "resource_id, COALESCE(problem, ''), COALESCE(state, 'ACTIVE'), savings_amount, "
            "currency, details, seen_at FROM provider_recommendations WHERE source = :source"
        ).bindparams(source=_SOURCE)
    )
    op.execute(
        sa.text("DELETE FROM provider_recommendations WHERE source = :source").bindparams(
            source=_SOURCE
        )
    )
    with op.batch_alter_table("provider_recommendations", schema=None) as batch_op:
        for name in reversed(_ADDED):
            batch_op.drop_column(name)
