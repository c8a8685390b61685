"""api_tokens: read-only and account-scoped tokens

Revision ID: b19efecd954e
Revises: 7c3e9a1f5b24
Create Date: 2026-12-03 09:20:00.000000+00:00

``scope`` ("write" for every token created before: they keep doing what they did) and
``account_ids`` (NULL: every account its user sees).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xplorr.core.models

revision: str = "b19efecd954e"
down_revision: str | None = "7c3e9a1f5b24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scope", sa.String(length=8), server_default="write", nullable=False)
        )
        batch_op.add_column(sa.Column("account_ids", xplorr.core.models.JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("account_ids")
        batch_op.drop_column("scope")
