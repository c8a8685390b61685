"""recommendations and approvals: the savings engine's findings and the approval requests

Revision ID: a33a70e4b673
Revises: 5d1f3a7c9e20
Create Date: 2026-12-03 12:29:20.516164+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "a33a70e4b673"
down_revision: str | None = "5d1f3a7c9e20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=600), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("resource_name", sa.String(length=500), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "estimated_monthly_savings",
            xplorr.core.models.Money(precision=38, scale=9),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sort_rank", sa.BigInteger(), nullable=False),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "risk",
            sa.Enum("low", "medium", "high", name="risk", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "how_to_apply",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "in_progress",
                "applied",
                "dismissed",
                name="recommendationstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column(
            "realized_monthly_savings",
            xplorr.core.models.Money(precision=38, scale=9),
            nullable=True,
        ),
        sa.Column(
            "closed_by",
            sa.Enum(
                "user", "resource_gone", "fixed", name="closedby", native_enum=False, length=16
            ),
            nullable=True,
        ),
        sa.Column("detected_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "status_changed_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("status_changed_by", sa.Uuid(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_recommendations_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_recommendations_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["status_changed_by"],
            ["users.id"],
            name=op.f("fk_recommendations_status_changed_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
        sa.UniqueConstraint(
            "org_id",
            "cloud_account_id",
            "fingerprint",
            name=op.f("uq_recommendations_org_id_cloud_account_id_fingerprint"),
        ),
    )
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recommendations_cloud_account_id"), ["cloud_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recommendations_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "ix_recommendations_org_id_status", ["org_id", "status"], unique=False
        )

    op.create_table(
        "approvals",
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("cloud_account_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column(
            "estimated_monthly_savings",
            xplorr.core.models.Money(precision=38, scale=9),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("threshold", xplorr.core.models.Money(precision=38, scale=9), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "expired",
                name="approvalstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("requested_by_email", sa.String(length=320), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_by_email", sa.String(length=320), nullable=True),
        sa.Column("decided_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("expires_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_approvals_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_approvals_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_approvals_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["recommendations.id"],
            name=op.f("fk_approvals_recommendation_id_recommendations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_approvals_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approvals_cloud_account_id"), ["cloud_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_approvals_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_approvals_org_id_status", ["org_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_approvals_recommendation_id"), ["recommendation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvals_recommendation_id"))
        batch_op.drop_index("ix_approvals_org_id_status")
        batch_op.drop_index(batch_op.f("ix_approvals_org_id"))
        batch_op.drop_index(batch_op.f("ix_approvals_cloud_account_id"))

    op.drop_table("approvals")
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_index("ix_recommendations_org_id_status")
        batch_op.drop_index(batch_op.f("ix_recommendations_org_id"))
        batch_op.drop_index(batch_op.f("ix_recommendations_cloud_account_id"))

    op.drop_table("recommendations")
