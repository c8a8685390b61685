"""merge the kubernetes and the commitments heads (helper-mcp's test merge)

The MCP branch merged helper-k8s, helper-recs and helper-commit to test its tools against their
endpoints; kubernetes and the recommendations -> commitments line start from the same parent.
This revision only joins the two heads (no schema change). When the migrations are re-chained
into one line, drop this file.

Revision ID: 9c0e3d2b7a61
Revises: 4dd956d810d8, bf42e4f92865
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

revision: str = "9c0e3d2b7a61"
down_revision: str | Sequence[str] | None = ("4dd956d810d8", "bf42e4f92865")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the two parents' tables are independent."""


def downgrade() -> None:
    """Nothing to undo."""
