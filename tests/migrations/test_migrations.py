"""pytest-alembic's checks on the real migrations: single head, upgrade, model matches DDL,
up/down consistency. SQLite by default, PostgreSQL when XPLORR_TEST_DATABASE_URL is set."""

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from pytest_alembic import Config as AlembicConfig
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine, create_engine, text

from xplorr.core.db import sqlite_connect_listener
from xplorr.core.models import UTCDateTime

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]

PG_URL = os.environ.get("XPLORR_TEST_DATABASE_URL")


@pytest.fixture
def alembic_config() -> AlembicConfig:
    return AlembicConfig(config_options={"script_location": "xplorr:migrations"})


@pytest.fixture
def alembic_engine(tmp_path: Path) -> Iterator[Engine]:
    if PG_URL:
        name = f"xplorr_alembic_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = create_engine(PG_URL.rsplit("/", 1)[0] + "/" + name)
        yield engine
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'alembic.db'}")
    sqlite_connect_listener(engine)
    yield engine
    engine.dispose()


def test_existing_sso_domain_claims_start_pending(alembic_runner, alembic_engine: Engine) -> None:
    """Claims made before DNS proof existed were never proven: the upgrade gives each a token
    and leaves it pending; a downgrade drops pending claims (the older code would treat them as
    proven)."""
    alembic_runner.migrate_up_to("08e990f75449")
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    orgs = sa.table(
        "orgs",
        *(sa.column(c) for c in ("name", "slug", "require_2fa")),
        sa.column("id", sa.Uuid()),
        *(sa.column(c, UTCDateTime(timezone=True)) for c in stamps),
    )
    domains = sa.table(
        "sso_domains",
        sa.column("domain"),
        sa.column("org_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        *(sa.column(c, UTCDateTime(timezone=True)) for c in stamps),
    )
    org_id = uuid.uuid4()
    with alembic_engine.begin() as conn:
        conn.execute(
            orgs.insert().values(id=org_id, name="Old", slug="old", require_2fa=False, **stamps)
        )
        for domain in ("a.example.com", "b.example.com"):
            conn.execute(
                domains.insert().values(id=uuid.uuid4(), org_id=org_id, domain=domain, **stamps)
            )
    alembic_runner.migrate_up_one()
    with alembic_engine.connect() as conn:
        rows = conn.execute(text("SELECT verification_token, verified_at FROM sso_domains")).all()
    assert len(rows) == 2
    assert all(verified_at is None for _, verified_at in rows)
    assert len({token for token, _ in rows}) == 2
    assert all(len(token) == 43 for token, _ in rows)
    alembic_runner.migrate_down_one()
    with alembic_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sso_domains")).scalar() == 0
