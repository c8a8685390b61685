"""pytest-alembic's checks on the real migrations: single head, upgrade, model matches DDL,
up/down consistency. SQLite by default, PostgreSQL when XPLORR_TEST_DATABASE_URL is set."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_alembic import Config as AlembicConfig
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine, create_engine, text

from xplorr.core.db import sqlite_connect_listener

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
