"""chat_oauth_states: the install step a state answers (``step``) and the tenant an earlier step
was granted in (``tenant_id``), for the Teams install's two legs (admin consent, then the
authorization code). States live 10 minutes: every stored one is a one-leg (code) state.

Revision ID: 4b7e2d9a1c63
Revises: b7e3c91a4d20
Create Date: 2026-12-03 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b7e2d9a1c63"
down_revision: str | None = "b7e3c91a4d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_oauth_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "step",
                sa.Enum("code", "admin_consent", name="oauthstep", native_enum=False, length=16),
                server_default="code",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # The states of a two-leg install mean nothing to the one-leg install: they are dropped
    # (the admin starts the install again).
    op.execute(
        sa.text("DELETE FROM chat_oauth_states WHERE step <> 'code' OR tenant_id IS NOT NULL")
    )
    with op.batch_alter_table("chat_oauth_states", schema=None) as batch_op:
        batch_op.drop_column("tenant_id")
        batch_op.drop_column("step")
