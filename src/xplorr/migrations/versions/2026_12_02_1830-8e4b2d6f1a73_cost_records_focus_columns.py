"""cost_records: the FOCUS columns the next areas need

Revision ID: 8e4b2d6f1a73
Revises: 5c1f7a2e9d4b
Create Date: 2026-12-02 18:30:00.000000+00:00

CommitmentDiscountStatus/Type/Category, ChargeFrequency, ContractedCost (money), PricingQuantity
and PricingUnit, ServiceSubcategory, ResourceName, AvailabilityZone: stored now, while
cost_records is small. All nullable; rows imported before hold NULL until re-imported.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xplorr.core.models

revision: str = "8e4b2d6f1a73"
down_revision: str | None = "5c1f7a2e9d4b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("service_subcategory", sa.String(length=200)),
    ("availability_zone", sa.String(length=100)),
    ("resource_name", sa.Text()),
    ("charge_frequency", sa.String(length=32)),
    ("commitment_discount_status", sa.String(length=32)),
    ("commitment_discount_type", sa.String(length=200)),
    ("commitment_discount_category", sa.String(length=32)),
    ("pricing_quantity", sa.Numeric(precision=38, scale=9)),
    ("pricing_unit", sa.String(length=100)),
    ("contracted_cost", xplorr.core.models.Money()),
)


def upgrade() -> None:
    # Plain ALTERs: nullable columns without a default are added in place on both databases.
    for name, type_ in COLUMNS:
        op.add_column("cost_records", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cost_records", schema=None) as batch_op:
        for name, _type in reversed(COLUMNS):
            batch_op.drop_column(name)
