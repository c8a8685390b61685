"""merge the kubernetes, commitments and recommendations heads (helper-mcp's test merge)

The MCP branch merged three helpers' branches to test its tools against their endpoints; each
added a revision on the same parent. This revision only joins them into one head (no schema
change). When the migrations are re-chained into one line, drop this file.

Revision ID: 9c0e3d2b7a61
Revises: 4dd956d810d8, bf42e4f92865, a33a70e4b673
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

revision: str = "9c0e3d2b7a61"
down_revision: str | Sequence[str] | None = ("4dd956d810d8", "bf42e4f92865", "a33a70e4b673")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the three parents' tables are independent."""


def downgrade() -> None:
    """Nothing to undo."""
