"""money exact on SQLite: cost amounts from 64-bit nano-units to canonical decimal text

Integer nano-units overflowed at 9.2e9 (a line of 1e10 could not be stored, a sum beyond 9.2e9
failed). SQLite now keeps every Money amount as exact text (``core.models.Money``); PostgreSQL
keeps ``NUMERIC(38, 9)`` and is not touched.

Revision ID: 3b5e0c8d1f2a
Revises: 08e990f75449
Create Date: 2026-12-02 17:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b5e0c8d1f2a"
down_revision: str | None = "08e990f75449"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cost_records", "cost_rollups", "cost_service_rollups", "cost_tag_rollups")
AMOUNTS = ("billed_cost", "effective_cost", "list_cost")
# Nano-units that still fit a 64-bit integer once multiplied back (downgrade).
_NANOS_MAX_WHOLE = 9_223_372_035


def _text_of_nanos(n: str) -> str:
    return (
        f"(CASE WHEN {n} < 0 THEN '-' ELSE '' END) || (abs({n}) / 1000000000) || '.' "
        f"|| printf('%09d', abs({n}) % 1000000000)"
    )


def _nanos_of_text(x: str) -> str:
    digits = f"CAST(substr({x}, -9) AS INTEGER)"
    return (
        f"CAST({x} AS INTEGER) * 1000000000 "
        f"+ (CASE WHEN substr({x}, 1, 1) = '-' THEN -{digits} ELSE {digits} END)"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in AMOUNTS:
                batch_op.alter_column(
                    column, existing_type=sa.BigInteger(), type_=sa.Text(), existing_nullable=False
                )
        # The copy kept each integer as its digits; write them as amounts.
        sets = ", ".join(f"{c} = {_text_of_nanos(f'CAST({c} AS INTEGER)')}" for c in AMOUNTS)
        op.execute(f"UPDATE {table} SET {sets}")  # noqa: S608 (constant names)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        too_large = " OR ".join(f"abs(CAST({c} AS INTEGER)) > {_NANOS_MAX_WHOLE}" for c in AMOUNTS)
        count = op.get_bind().scalar(
            sa.text(f"SELECT count(*) FROM {table} WHERE {too_large}")  # noqa: S608
        )
        if count:
            raise RuntimeError(
                f"{table} holds {count} amounts beyond 9.2e9: integer nano-units cannot hold "
                "them, so this database cannot go back before revision 3b5e0c8d1f2a."
            )
        sets = ", ".join(f"{c} = {_nanos_of_text(c)}" for c in AMOUNTS)
        op.execute(f"UPDATE {table} SET {sets}")  # noqa: S608 (constant names)
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in AMOUNTS:
                batch_op.alter_column(
                    column, existing_type=sa.Text(), type_=sa.BigInteger(), existing_nullable=False
                )
