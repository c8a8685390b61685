"""commitment advice: the LLM's advice over /commitments/analysis figures, cached per day

Revision ID: 5c0a9e3d7b21
Revises: 2262bd0ae930
Create Date: 2026-12-03 18:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "5c0a9e3d7b21"
down_revision: str | None = "2262bd0ae930"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commitment_advice",
        sa.Column("figures_key", sa.String(length=64), nullable=False),
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
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_commitment_advice_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitment_advice")),
        sa.UniqueConstraint(
            "org_id", "figures_key", name=op.f("uq_commitment_advice_org_id_figures_key")
        ),
    )
    with op.batch_alter_table("commitment_advice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commitment_advice_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("commitment_advice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_advice_org_id"))

    op.drop_table("commitment_advice")
