"""cost ownership: tagging policies, allocation rules, unit metrics (issue 18)

Revision ID: 4e23d47b1080
Revises: 244aece587b4
Create Date: 2026-12-03 10:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "4e23d47b1080"
down_revision: str | None = "244aece587b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "tagging_policies",
        sa.Column("tag_key", sa.String(length=200), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column(
            "allowed_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "applies_to",
            sa.Enum(
                "all",
                "ec2",
                "rds",
                "s3",
                "compute",
                "storage",
                name="appliesto",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_tagging_policies_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tagging_policies")),
        sa.UniqueConstraint(
            "org_id",
            "tag_key",
            "applies_to",
            name=op.f("uq_tagging_policies_org_id_tag_key_applies_to"),
        ),
    )
    with op.batch_alter_table("tagging_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tagging_policies_org_id"), ["org_id"], unique=False)

    op.create_table(
        "unit_metrics",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "metric_type",
            sa.Enum(
                "api_calls",
                "transactions",
                "customers",
                "requests",
                "custom",
                name="metrictype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("value", xplorr.core.models.Money(precision=38, scale=9), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_unit_metrics_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_metrics")),
        sa.UniqueConstraint(
            "org_id", "name", "date", name=op.f("uq_unit_metrics_org_id_name_date")
        ),
    )
    with op.batch_alter_table("unit_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_metrics_org_id"), ["org_id"], unique=False)

    op.create_table(
        "allocation_rules",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source_provider", sa.String(length=32), nullable=True),
        sa.Column("source_account_id", sa.Uuid(), nullable=True),
        sa.Column("source_service", sa.String(length=200), nullable=True),
        sa.Column("source_region", sa.String(length=100), nullable=True),
        sa.Column("source_tag_key", sa.String(length=200), nullable=True),
        sa.Column("source_tag_value", sa.String(length=500), nullable=True),
        sa.Column("target_tag_key", sa.String(length=200), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "fixed",
                "proportional",
                "even",
                name="allocationmethod",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "splits",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_allocation_rules_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_allocation_rules_source_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_rules")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_allocation_rules_org_id_name")),
    )
    with op.batch_alter_table("allocation_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocation_rules_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_allocation_rules_source_account_id"), ["source_account_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("allocation_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_rules_source_account_id"))
        batch_op.drop_index(batch_op.f("ix_allocation_rules_org_id"))

    op.drop_table("allocation_rules")
    with op.batch_alter_table("unit_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_metrics_org_id"))

    op.drop_table("unit_metrics")
    with op.batch_alter_table("tagging_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tagging_policies_org_id"))

    op.drop_table("tagging_policies")
