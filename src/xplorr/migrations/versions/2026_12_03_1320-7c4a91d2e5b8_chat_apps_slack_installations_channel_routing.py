"""chat apps: Slack and Teams installations, channel routing, OAuth states

Revision ID: 7c4a91d2e5b8
Revises: a2c4e6f8b1d3
Create Date: 2026-12-03 12:31:29.225220+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xplorr.core.models

revision: str = "7c4a91d2e5b8"
down_revision: str | None = "a2c4e6f8b1d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "chat_channels",
        sa.Column(
            "provider",
            sa.Enum("slack", "teams", name="chatprovider", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("channel_id", sa.String(length=200), nullable=False),
        sa.Column("channel_name", sa.String(length=200), nullable=False),
        sa.Column(
            "scope_type",
            sa.Enum(
                "all",
                "accounts",
                "tags",
                "services",
                name="scopetype",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column(
            "scope_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "notify",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_chat_channels_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_chat_channels_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_channels")),
        sa.UniqueConstraint(
            "org_id",
            "provider",
            "channel_id",
            name=op.f("uq_chat_channels_org_id_provider_channel_id"),
        ),
    )
    with op.batch_alter_table("chat_channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_channels_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "uq_chat_channels_default",
            ["org_id"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.create_table(
        "chat_oauth_states",
        sa.Column(
            "provider",
            sa.Enum("slack", "teams", name="chatprovider", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("state_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_chat_oauth_states_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_chat_oauth_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_oauth_states")),
        sa.UniqueConstraint("state_sha256", name=op.f("uq_chat_oauth_states_state_sha256")),
    )
    with op.batch_alter_table("chat_oauth_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_oauth_states_org_id"), ["org_id"], unique=False)

    op.create_table(
        "slack_installations",
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("team_name", sa.String(length=200), nullable=False),
        sa.Column("enterprise_id", sa.String(length=40), nullable=True),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("bot_user_id", sa.String(length=40), nullable=True),
        sa.Column("scopes", sa.String(length=1000), nullable=False),
        sa.Column("bot_token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("bot_token_key_version", sa.SmallInteger(), nullable=False),
        sa.Column("webhook_channel", sa.String(length=200), nullable=True),
        sa.Column("webhook_channel_id", sa.String(length=40), nullable=True),
        sa.Column("webhook_url_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_key_version", sa.SmallInteger(), nullable=True),
        sa.Column("installed_by", sa.Uuid(), nullable=True),
        sa.Column("installed_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installed_by"],
            ["users.id"],
            name=op.f("fk_slack_installations_installed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_slack_installations_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_installations")),
        sa.UniqueConstraint("org_id", name=op.f("uq_slack_installations_org_id")),
        sa.UniqueConstraint("team_id", name=op.f("uq_slack_installations_team_id")),
    )
    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_installations_org_id"), ["org_id"], unique=False)

    op.create_table(
        "teams_installations",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=1000), nullable=False),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("access_token_key_version", sa.SmallInteger(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("refresh_token_key_version", sa.SmallInteger(), nullable=True),
        sa.Column("expires_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("installed_by", sa.Uuid(), nullable=True),
        sa.Column("installed_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installed_by"],
            ["users.id"],
            name=op.f("fk_teams_installations_installed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_teams_installations_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams_installations")),
        sa.UniqueConstraint("org_id", name=op.f("uq_teams_installations_org_id")),
    )
    with op.batch_alter_table("teams_installations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_installations_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("teams_installations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_installations_org_id"))

    op.drop_table("teams_installations")

    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_installations_org_id"))

    op.drop_table("slack_installations")
    with op.batch_alter_table("chat_oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_oauth_states_org_id"))

    op.drop_table("chat_oauth_states")
    with op.batch_alter_table("chat_channels", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_chat_channels_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_chat_channels_org_id"))

    op.drop_table("chat_channels")
