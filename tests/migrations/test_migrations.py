"""pytest-alembic's checks on the real migrations: single head, upgrade, model matches DDL,
up/down consistency. SQLite by default, PostgreSQL when XPLORR_TEST_DATABASE_URL is set."""

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from pytest_alembic import Config as AlembicConfig
from pytest_alembic import MigrationContext
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Engine,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    create_engine,
    insert,
    select,
    text,
)

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.core.db import sqlite_connect_listener
from xplorr.core.models import UTCDateTime
from xplorr.orgs.models import Org

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


BEFORE_MONEY = "08e990f75449"
MONEY = "3b5e0c8d1f2a"
# Nano-units as SQLite held them before the money migration (and the amounts they are).
LEGACY = {
    "9223372035.999999999": 9_223_372_035_999_999_999,
    "-9223372035.000000001": -9_223_372_035_000_000_001,
    "-0.5": -500_000_000,
    "-1234.000000001": -1_234_000_000_001,
    "0": 0,
    "0.000000001": 1,
}


def _legacy_records(sqlite: bool) -> Table:
    amount = BigInteger() if sqlite else Numeric(38, 9)
    return Table(
        "cost_records",
        MetaData(),
        Column("org_id", Uuid),
        Column("cloud_account_id", Uuid),
        Column("billing_period", Date),
        Column("usage_date", Date),
        Column("currency", String),
        Column("provider", String),
        Column("provider_name", String),
        Column("billing_account_id", String),
        Column("service_name", String),
        Column("charge_category", String),
        Column("billed_cost", amount),
        Column("effective_cost", amount),
        Column("list_cost", amount),
    )


def test_cost_amounts_survive_the_money_migration(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    """SQLite's integer nano-units become exact text (and back on downgrade); PostgreSQL's
    NUMERIC is left as it is."""
    alembic_runner.migrate_up_to(BEFORE_MONEY)
    sqlite = alembic_engine.dialect.name == "sqlite"
    records = _legacy_records(sqlite)
    org_id, account_id = uuid.uuid4(), uuid.uuid4()
    now = clock.now()
    with alembic_engine.begin() as conn:
        conn.execute(
            insert(Org.__table__).values(
                id=org_id,
                name="Acme",
                slug=f"acme-{org_id.hex[:8]}",
                require_2fa=False,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(CloudAccount.__table__).values(
                id=account_id,
                org_id=org_id,
                provider="focus",
                name="a",
                provider_account_id="x",
                credentials_encrypted=b"-",
                credentials_key_version=1,
                status="active",
                created_at=now,
                updated_at=now,
            )
        )
        for i, (amount, nanos) in enumerate(LEGACY.items()):
            stored = nanos if sqlite else Decimal(amount)
            conn.execute(
                insert(records).values(
                    org_id=org_id,
                    cloud_account_id=account_id,
                    billing_period=date(2024, 9, 1),
                    usage_date=date(2024, 9, 1 + i),
                    currency="USD",
                    provider="aws",
                    provider_name="AWS",
                    billing_account_id="b",
                    service_name=amount,
                    charge_category="Usage",
                    billed_cost=stored,
                    effective_cost=stored,
                    list_cost=stored,
                )
            )
    alembic_runner.migrate_up_to(MONEY)
    with alembic_engine.connect() as conn:
        rows = conn.execute(text("SELECT service_name, billed_cost, list_cost FROM cost_records"))
        after = {name: (billed, listed) for name, billed, listed in rows}
    for amount in LEGACY:
        billed, listed = after[amount]
        assert Decimal(billed) == Decimal(listed) == Decimal(amount)
        if sqlite:
            assert billed == f"{Decimal(amount).quantize(Decimal('1E-9')):f}"
    alembic_runner.migrate_down_one()
    with alembic_engine.connect() as conn:
        back = dict(conn.execute(select(records.c.service_name, records.c.billed_cost)).all())
    assert back == {
        amount: nanos if sqlite else Decimal(amount) for amount, nanos in LEGACY.items()
    }


def test_existing_sso_domain_claims_start_pending(alembic_runner, alembic_engine: Engine) -> None:
    """Claims made before DNS proof existed were never proven: the upgrade gives each a token
    and leaves it pending; a downgrade drops pending claims (the older code would treat them as
    proven)."""
    alembic_runner.migrate_up_to(MONEY)
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


NEUTRAL_TYPES = "0e22268de4f4"


def test_inventory_rows_take_the_neutral_types(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    """Stored rows under the names used before (AWS's for AWS and GCP, Azure's own) are renamed
    to the inventory's types, their provider's type in ``native_type``; a name the table does not
    know keeps it for both. A downgrade gives the old names back."""
    alembic_runner.migrate_up_before(NEUTRAL_TYPES)
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    ts = UTCDateTime(timezone=True)
    orgs = sa.table(
        "orgs",
        *(sa.column(c) for c in ("name", "slug", "require_2fa")),
        sa.column("id", sa.Uuid()),
        *(sa.column(c, ts) for c in stamps),
    )
    accounts = sa.table(
        "cloud_accounts",
        *(sa.column(c) for c in ("provider", "name", "provider_account_id", "status")),
        *(sa.column(c) for c in ("credentials_encrypted", "credentials_key_version")),
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        *(sa.column(c, ts) for c in stamps),
    )
    resources = sa.table(
        "inventory_resources",
        *(sa.column(c) for c in ("provider", "service", "resource_type", "resource_id")),
        *(sa.column(c) for c in ("source", "tags", "attributes")),
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("cloud_account_id", sa.Uuid()),
        *(sa.column(c, ts) for c in ("first_seen_at", "last_seen_at", *stamps)),
    )
    org_id, account_id = uuid.uuid4(), uuid.uuid4()
    old = {
        "i-1": ("aws", "EC2 Instance"),
        "eip-1": ("aws", "Elastic IP"),
        "vm-1": ("gcp", "EC2 Instance"),
        "sql-1": ("gcp", "RDS Instance"),
        "disk-1": ("azure", "Managed Disk"),
        "st-1": ("azure", "Storage Account"),
        "log-1": ("aws", "Log Group"),
        "alb-1": ("aws", "Load Balancer"),
        "clb-1": ("aws", "Load Balancer"),
    }
    with alembic_engine.begin() as conn:
        conn.execute(
            orgs.insert().values(id=org_id, name="Old", slug="old", require_2fa=False, **stamps)
        )
        conn.execute(
            accounts.insert().values(
                id=account_id,
                org_id=org_id,
                provider="aws",
                name="a",
                provider_account_id="x",
                status="active",
                credentials_encrypted=b"-",
                credentials_key_version=1,
                **stamps,
            )
        )
        for rid, (provider, rtype) in old.items():
            conn.execute(
                resources.insert().values(
                    id=uuid.uuid4(),
                    org_id=org_id,
                    cloud_account_id=account_id,
                    provider=provider,
                    service="s",
                    resource_type=rtype,
                    resource_id=rid,
                    source="api",
                    tags="{}",
                    attributes='{"lb_type": "classic"}' if rid == "clb-1" else "{}",
                    first_seen_at=now,
                    last_seen_at=now,
                    **stamps,
                )
            )
    query = text("SELECT resource_id, resource_type, native_type FROM inventory_resources")
    alembic_runner.migrate_up_one()
    with alembic_engine.connect() as conn:
        after = {rid: (rtype, native) for rid, rtype, native in conn.execute(query)}
    assert after == {
        "i-1": ("Virtual Machine", "AWS::EC2::Instance"),
        "eip-1": ("Public IP Address", "AWS::EC2::EIP"),
        "vm-1": ("Virtual Machine", "compute.googleapis.com/Instance"),
        "sql-1": ("Managed Database", "sqladmin.googleapis.com/Instance"),
        "disk-1": ("Disk", "Microsoft.Compute/disks"),
        "st-1": ("Object Storage Bucket", "Microsoft.Storage/storageAccounts"),
        "log-1": ("Log Group", "Log Group"),
        "alb-1": ("Load Balancer", "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        "clb-1": ("Load Balancer", "AWS::ElasticLoadBalancing::LoadBalancer"),
    }
    alembic_runner.migrate_down_one()
    with alembic_engine.connect() as conn:
        rows = conn.execute(text("SELECT resource_id, resource_type FROM inventory_resources"))
        back = {row[0]: row[1] for row in rows}
    assert back == {rid: rtype for rid, (_provider, rtype) in old.items()}
