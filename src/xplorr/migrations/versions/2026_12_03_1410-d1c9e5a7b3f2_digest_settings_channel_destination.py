"""Digest settings may post to a chat channel (a /channels row) instead of email.

Revision ID: d1c9e5a7b3f2
Revises: e5b2d8f14a63
Create Date: 2026-12-03 14:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d1c9e5a7b3f2"
down_revision = "e5b2d8f14a63"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_settings") as batch:
        batch.add_column(
            sa.Column("destination", sa.String(8), nullable=False, server_default="email")
        )
        batch.add_column(sa.Column("channel_config_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_digest_settings_channel_config_id_chat_channels"),
            "chat_channels",
            ["channel_config_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_digest_settings_channel_config_id"), ["channel_config_id"])


def downgrade() -> None:
    with op.batch_alter_table("digest_settings") as batch:
        batch.drop_index(op.f("ix_digest_settings_channel_config_id"))
        batch.drop_constraint(
            op.f("fk_digest_settings_channel_config_id_chat_channels"), type_="foreignkey"
        )
        batch.drop_column("channel_config_id")
        batch.drop_column("destination")
