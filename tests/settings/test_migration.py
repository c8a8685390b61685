"""The migration moves each org's anomaly settings into its org settings row, same meaning
(noise_floor -> anomaly_min_delta, detect_drops -> anomaly_detect_drops), and back down."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from pytest_alembic import MigrationContext
from sqlalchemy import Engine, text

from tests.migrations.test_migrations import alembic_config, alembic_engine
from xplorr.core.models import Money, UTCDateTime

__all__ = ["alembic_config", "alembic_engine"]

BEFORE = "4e23d47b1080"


def test_anomaly_settings_move_into_org_settings(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(BEFORE)
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    time = UTCDateTime(timezone=True)
    orgs = sa.table(
        "orgs",
        *(sa.column(c) for c in ("name", "slug", "require_2fa")),
        sa.column("id", sa.Uuid()),
        *(sa.column(c, time) for c in stamps),
    )
    old = sa.table(
        "anomaly_settings",
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("noise_floor", Money()),
        sa.column("detect_drops"),
        *(sa.column(c, time) for c in stamps),
    )
    org_id, row_id = uuid.uuid4(), uuid.uuid4()
    with alembic_engine.begin() as conn:
        conn.execute(
            orgs.insert().values(id=org_id, name="Old", slug="old", require_2fa=False, **stamps)
        )
        conn.execute(
            old.insert().values(
                id=row_id, org_id=org_id, noise_floor=Decimal("3.5"), detect_drops=True, **stamps
            )
        )
    alembic_runner.migrate_up_one()
    new = sa.table(
        "org_settings",
        sa.column("id", sa.Uuid()),
        *(
            sa.column(c)
            for c in ("timezone", "anomaly_detect_drops", "digest_time", "default_currency")
        ),
        sa.column("approval_threshold", Money()),
        sa.column("anomaly_min_delta", Money()),
    )
    with alembic_engine.connect() as conn:
        (row,) = conn.execute(sa.select(new)).all()
    assert row._asdict() == {
        "id": row_id,
        "timezone": "UTC",
        "anomaly_detect_drops": row.anomaly_detect_drops,
        "digest_time": "09:00",
        "default_currency": None,
        "approval_threshold": Decimal(500),
        "anomaly_min_delta": Decimal("3.5"),
    }
    assert bool(row.anomaly_detect_drops) is True  # SQLite answers 1 through an untyped column
    alembic_runner.migrate_down_one()
    with alembic_engine.connect() as conn:
        back = conn.execute(text("SELECT detect_drops FROM anomaly_settings")).all()
        (floor,) = conn.execute(sa.select(old.c.noise_floor)).scalars().all()
    assert [bool(b) for (b,) in back] == [True]
    assert floor == Decimal("3.5")
