"""job lanes and deduplicated enqueue

Revision ID: 5c1f7a2e9d4b
Revises: 5d1c0b7e9a42
Create Date: 2026-12-02 18:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1f7a2e9d4b"
down_revision: str | None = "5d1c0b7e9a42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEDUPE_WHERE = "status = 'queued' AND attempts = 0 AND dedupe"


def upgrade() -> None:
    # Plain ALTERs, no batch: SQLite adds a column with a constant default in place, and a
    # table rebuild would have to carry the partial indexes' WHERE clauses over by hand.
    op.add_column(
        "jobs", sa.Column("lane", sa.SmallInteger(), server_default=sa.text("1"), nullable=False)
    )
    op.add_column(
        "jobs", sa.Column("dedupe", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.create_index("ix_jobs_claim", "jobs", ["status", "lane", "run_at"], unique=False)
    op.create_index(
        "uq_jobs_queued_dedupe",
        "jobs",
        ["key"],
        unique=True,
        sqlite_where=sa.text(_DEDUPE_WHERE),
        postgresql_where=sa.text(_DEDUPE_WHERE),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_jobs_queued_dedupe",
        table_name="jobs",
        sqlite_where=sa.text(_DEDUPE_WHERE),
        postgresql_where=sa.text(_DEDUPE_WHERE),
    )
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.create_index("ix_jobs_claim", "jobs", ["status", "run_at"], unique=False)
    op.drop_column("jobs", "dedupe")
    op.drop_column("jobs", "lane")
