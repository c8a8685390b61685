"""The migration that makes ``provider_recommendations`` the one table of the providers' own
recommendations: GCP Recommender's rows move over from ``cloud_recommendations`` (dropped) with
their ids, amounts and details, and move back on downgrade."""

import uuid
from decimal import Decimal

import sqlalchemy as sa
from pytest_alembic import MigrationContext
from sqlalchemy import Engine, insert

from tests.migrations.test_migrations import alembic_config, alembic_engine
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.core.models import JSONType, Money, UTCDateTime
from xplorr.orgs.models import Org

__all__ = ["alembic_config", "alembic_engine"]

BEFORE = "7c4a91d2e5b8"
TIME = UTCDateTime(timezone=True)
STAMPS = ("created_at", "updated_at")


def _table(name: str, money: str, seen: str, *texts: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("cloud_account_id", sa.Uuid()),
        sa.column(money, Money()),
        sa.column("details", JSONType),
        sa.column(seen, TIME),
        *(sa.column(c, TIME) for c in STAMPS),
        *(sa.column(c) for c in texts),
    )


OLD = _table(
    "cloud_recommendations",
    "monthly_savings",
    "last_seen_at",
    "provider",
    "recommendation_id",
    "recommender",
    "kind",
    "location",
    "resource_id",
    "description",
    "state",
    "currency",
)
NEW = _table(
    "provider_recommendations",
    "savings_amount",
    "seen_at",
    "provider",
    "source",
    "recommendation_id",
    "recommender",
    "kind",
    "location",
    "resource_id",
    "category",
    "problem",
    "state",
    "currency",
)


def test_recommender_rows_move_into_provider_recommendations_and_back(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(BEFORE)
    now = clock.now()
    stamps = {"created_at": now, "updated_at": now}
    org_id, account_id, gcp_id, azure_id = (uuid.uuid4() for _ in range(4))
    gcp = {
        "id": gcp_id,
        "org_id": org_id,
        "cloud_account_id": account_id,
        "provider": "gcp",
        "recommendation_id": "projects/p/locations/us-central1-a/recommenders/r/recommendations/1",
        "recommender": "google.compute.instance.IdleResourceRecommender",
        "kind": "idle",
        "location": "us-central1-a",
        "resource_id": "//compute.googleapis.com/projects/p/zones/us-central1-a/instances/vm",
        "description": "Save cost by stopping Idle VM 'vm'.",
        "state": "ACTIVE",
        "monthly_savings": Decimal("97.334511"),
        "currency": "USD",
        "details": {"subtype": "STOP_VM"},
        "last_seen_at": now,
        **stamps,
    }
    with alembic_engine.begin() as conn:
        conn.execute(
            insert(Org.__table__).values(
                id=org_id, name="Acme", slug=f"acme-{org_id.hex[:8]}", require_2fa=False, **stamps
            )
        )
        conn.execute(
            insert(CloudAccount.__table__).values(
                id=account_id,
                org_id=org_id,
                provider="gcp",
                name="a",
                provider_account_id="p",
                credentials_encrypted=b"-",
                credentials_key_version=1,
                status="active",
                **stamps,
            )
        )
        conn.execute(OLD.insert().values(**gcp))
        conn.execute(
            sa.table(
                "provider_recommendations",
                *(sa.column(c) for c in ("provider", "source", "recommendation_id", "category")),
                *(sa.column(c, sa.Uuid()) for c in ("id", "org_id", "cloud_account_id")),
                sa.column("details", JSONType),
                *(sa.column(c, TIME) for c in ("seen_at", *STAMPS)),
            )
            .insert()
            .values(
                id=azure_id,
                org_id=org_id,
                cloud_account_id=account_id,
                provider="azure",
                source="azure-advisor",
                recommendation_id="/subscriptions/s/rec-1",
                category="Cost",
                details={},
                seen_at=now,
                **stamps,
            )
        )

    alembic_runner.migrate_up_one()
    with alembic_engine.connect() as conn:
        rows = {r.id: r._asdict() for r in conn.execute(sa.select(NEW))}
        tables = set(sa.inspect(conn).get_table_names())
    assert "cloud_recommendations" not in tables
    moved = {k: v for k, v in gcp.items() if k not in ("monthly_savings", "last_seen_at")}
    moved.pop("description")
    assert rows[gcp_id] == moved | {
        "source": "gcp-recommender",
        "category": "Cost",
        "problem": gcp["description"],
        "savings_amount": Decimal("97.334511"),
        "seen_at": now,
    }
    assert (rows[azure_id]["source"], rows[azure_id]["kind"]) == ("azure-advisor", None)

    alembic_runner.migrate_down_one()
    with alembic_engine.connect() as conn:
        (back,) = conn.execute(sa.select(OLD)).all()
        left = conn.execute(sa.text("SELECT source FROM provider_recommendations")).scalars()
        assert list(left) == ["azure-advisor"]
    assert back._asdict() == gcp
