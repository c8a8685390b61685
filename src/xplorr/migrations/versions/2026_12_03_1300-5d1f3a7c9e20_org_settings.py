"""org settings

org_settings (one row per org: approval threshold, default currency, time zone, anomaly noise
floor and drop detection, digest defaults, sealed Slack/Teams webhooks). anomaly_settings moves
into it: noise_floor -> anomaly_min_delta, detect_drops -> anomaly_detect_drops (same meaning).

Revision ID: 5d1f3a7c9e20
Revises: 4e23d47b1080
Create Date: 2026-12-03 13:00:00.000000+00:00
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import xplorr.core.models

revision: str = "5d1f3a7c9e20"
down_revision: str | None = "4e23d47b1080"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MONEY = xplorr.core.models.Money(precision=38, scale=9)
_TIME = xplorr.core.models.UTCDateTime(timezone=True)


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    ]


def _anomaly_settings() -> sa.TableClause:
    return sa.table(
        "anomaly_settings",
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("created_at", _TIME),
        sa.column("updated_at", _TIME),
        sa.column("noise_floor", _MONEY),
        sa.column("detect_drops", sa.Boolean()),
    )


def _org_settings() -> sa.TableClause:
    return sa.table(
        "org_settings",
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("created_at", _TIME),
        sa.column("updated_at", _TIME),
        sa.column("approval_threshold", _MONEY),
        sa.column("timezone", sa.String()),
        sa.column("anomaly_min_delta", _MONEY),
        sa.column("anomaly_detect_drops", sa.Boolean()),
        sa.column("digest_enabled", sa.Boolean()),
        sa.column("digest_time", sa.String()),
        sa.column("weekly_summary_enabled", sa.Boolean()),
    )


def upgrade() -> None:
    op.create_table(
        "org_settings",
        sa.Column("approval_threshold", _MONEY, nullable=False),
        sa.Column("default_currency", sa.String(length=3), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("anomaly_min_delta", _MONEY, nullable=False),
        sa.Column("anomaly_detect_drops", sa.Boolean(), nullable=False),
        sa.Column("digest_enabled", sa.Boolean(), nullable=False),
        sa.Column("digest_time", sa.String(length=5), nullable=False),
        sa.Column("weekly_summary_enabled", sa.Boolean(), nullable=False),
        sa.Column("slack_webhook_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("slack_key_version", sa.SmallInteger(), nullable=True),
        sa.Column("slack_webhook_hint", sa.String(length=80), nullable=True),
        sa.Column("teams_webhook_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("teams_key_version", sa.SmallInteger(), nullable=True),
        sa.Column("teams_webhook_hint", sa.String(length=80), nullable=True),
        *_common(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_org_settings_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_settings")),
        sa.UniqueConstraint("org_id", name=op.f("uq_org_settings_org_id")),
    )
    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_settings_org_id"), ["org_id"], unique=False)

    old, new = _anomaly_settings(), _org_settings()
    op.execute(
        new.insert().from_select(
            [
                "id",
                "org_id",
                "created_at",
                "updated_at",
                "approval_threshold",
                "timezone",
                "anomaly_min_delta",
                "anomaly_detect_drops",
                "digest_enabled",
                "digest_time",
                "weekly_summary_enabled",
            ],
            sa.select(
                old.c.id,
                old.c.org_id,
                old.c.created_at,
                old.c.updated_at,
                sa.literal(Decimal(500), _MONEY),
                sa.literal("UTC", sa.String()),
                old.c.noise_floor,
                old.c.detect_drops,
                sa.true(),
                sa.literal("09:00", sa.String()),
                sa.true(),
            ),
        )
    )
    with op.batch_alter_table("anomaly_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomaly_settings_org_id"))
    op.drop_table("anomaly_settings")


def downgrade() -> None:
    op.create_table(
        "anomaly_settings",
        sa.Column("noise_floor", _MONEY, nullable=False),
        sa.Column("detect_drops", sa.Boolean(), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_anomaly_settings_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_settings")),
        sa.UniqueConstraint("org_id", name=op.f("uq_anomaly_settings_org_id")),
    )
    with op.batch_alter_table("anomaly_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_anomaly_settings_org_id"), ["org_id"], unique=False)
    old, new = _anomaly_settings(), _org_settings()
    op.execute(
        old.insert().from_select(
            ["id", "org_id", "created_at", "updated_at", "noise_floor", "detect_drops"],
            sa.select(
                new.c.id,
                new.c.org_id,
                new.c.created_at,
                new.c.updated_at,
                new.c.anomaly_min_delta,
                new.c.anomaly_detect_drops,
            ),
        )
    )
    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_settings_org_id"))
    op.drop_table("org_settings")
