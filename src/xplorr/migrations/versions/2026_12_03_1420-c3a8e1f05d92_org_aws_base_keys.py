"""org aws base keys

org_settings gains the organization's base AWS keys (sealed as one pair under the org's data
key, with the access key id's masked hint and when they last changed): IAM-role cloud
accounts are assumed from them instead of the server's own credentials when they are set.

Revision ID: c3a8e1f05d92
Revises: d1c9e5a7b3f2
Create Date: 2026-12-03 14:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xplorr.core.models

revision: str = "c3a8e1f05d92"
down_revision: str | None = "d1c9e5a7b3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("org_settings") as batch:
        batch.add_column(sa.Column("aws_base_keys_encrypted", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("aws_base_key_version", sa.SmallInteger(), nullable=True))
        batch.add_column(
            sa.Column("aws_base_access_key_id_hint", sa.String(length=32), nullable=True)
        )
        batch.add_column(
            sa.Column(
                "aws_base_keys_changed_at",
                xplorr.core.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("org_settings") as batch:
        batch.drop_column("aws_base_keys_changed_at")
        batch.drop_column("aws_base_access_key_id_hint")
        batch.drop_column("aws_base_key_version")
        batch.drop_column("aws_base_keys_encrypted")
