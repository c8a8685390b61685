"""scheduled reports, digest settings and email attachments

Revision ID: 244aece587b4
Revises: 304a04cb42cd
Create Date: 2026-12-03 10:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "244aece587b4"
down_revision: str | None = "304a04cb42cd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_attachments",
        sa.Column("outbox_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_attachments_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attachments")),
    )
    with op.batch_alter_table("outbox_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_attachments_outbox_id"), ["outbox_id"], unique=False
        )

    op.create_table(
        "scheduled_reports",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("day_of_month", sa.Integer(), nullable=True),
        sa.Column("day_of_week", sa.Integer(), nullable=True),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column(
            "recipients",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("cloud_account_id", sa.Uuid(), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("last_sent_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_slot_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_account_id"],
            ["cloud_accounts.id"],
            name=op.f("fk_scheduled_reports_cloud_account_id_cloud_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_scheduled_reports_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_scheduled_reports_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_reports")),
    )
    with op.batch_alter_table("scheduled_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_reports_cloud_account_id"), ["cloud_account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_scheduled_reports_created_by"), ["created_by"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_scheduled_reports_next_run_at"), ["next_run_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scheduled_reports_org_id"), ["org_id"], unique=False)

    op.create_table(
        "digest_settings",
        sa.Column(
            "recipients",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("last_sent_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_slot_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_digest_settings_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_digest_settings_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_settings")),
    )
    with op.batch_alter_table("digest_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_digest_settings_created_by"), ["created_by"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_digest_settings_next_run_at"), ["next_run_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_digest_settings_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("digest_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_settings_org_id"))
        batch_op.drop_index(batch_op.f("ix_digest_settings_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_digest_settings_created_by"))

    op.drop_table("digest_settings")
    with op.batch_alter_table("scheduled_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduled_reports_org_id"))
        batch_op.drop_index(batch_op.f("ix_scheduled_reports_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_scheduled_reports_created_by"))
        batch_op.drop_index(batch_op.f("ix_scheduled_reports_cloud_account_id"))

    op.drop_table("scheduled_reports")
    with op.batch_alter_table("outbox_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_attachments_outbox_id"))

    op.drop_table("outbox_attachments")
