"""cost_records.usage_type: the provider's usage type (AWS ``line_item_usage_type``,
``x_UsageType``, Cost Explorer's USAGE_TYPE), kept apart from SkuId (which AWS fills with an
opaque product code), for network categories and instance families

Rows imported before keep NULL until their billing period is imported again.

Revision ID: 5b7e2c9d4a61
Revises: 4b7e2d9a1c63
Create Date: 2026-12-04 15:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7e2c9d4a61"
down_revision: str | None = "4b7e2d9a1c63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): no table rewrite on either database.
    op.add_column("cost_records", sa.Column("usage_type", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cost_records") as batch:
        batch.drop_column("usage_type")
