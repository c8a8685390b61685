"""sso domain claims proven by a DNS TXT record

Revision ID: 5d1c0b7e9a42
Revises: 3b5e0c8d1f2a
Create Date: 2026-12-02 17:30:00.000000+00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xplorr.core.models

revision: str = "5d1c0b7e9a42"
down_revision: str | None = "3b5e0c8d1f2a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERIFIED = sa.text("verified_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("sso_domains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification_token", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("verified_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "last_checked_at", xplorr.core.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("last_check_error", sa.String(length=300), nullable=True))
        batch_op.drop_constraint("uq_sso_domains_domain", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_sso_domains_org_id_domain"), ["org_id", "domain"]
        )
    # Claims made before this revision were never proven: each gets its token and starts
    # pending, so it governs no login until its organization publishes the record.
    claims = sa.table(
        "sso_domains", sa.column("id", sa.Uuid()), sa.column("verification_token", sa.String())
    )
    conn = op.get_bind()
    for ident in conn.execute(sa.select(claims.c.id)).scalars().all():
        conn.execute(
            claims.update()
            .where(claims.c.id == ident)
            .values(verification_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table("sso_domains", schema=None) as batch_op:
        batch_op.alter_column(
            "verification_token", existing_type=sa.String(length=64), nullable=False
        )
        batch_op.create_index(
            "uq_sso_domains_verified_domain",
            ["domain"],
            unique=True,
            sqlite_where=VERIFIED,
            postgresql_where=VERIFIED,
        )


def downgrade() -> None:
    # The older code treats every claim as proven: pending ones (several orgs may hold one on
    # the same domain) must not become active, so they go.
    op.execute("DELETE FROM sso_domains WHERE verified_at IS NULL")
    with op.batch_alter_table("sso_domains", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sso_domains_verified_domain", sqlite_where=VERIFIED, postgresql_where=VERIFIED
        )
        batch_op.drop_constraint(batch_op.f("uq_sso_domains_org_id_domain"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_sso_domains_domain"), ["domain"])
        batch_op.drop_column("last_check_error")
        batch_op.drop_column("last_checked_at")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("verification_token")
