"""The real Xplorr API on a loopback port (uvicorn in a thread), once for this package, with two
organizations' data written by the factories; the MCP server under test talks to it over HTTP
as it would in production.

Its database is its own copy of the migrated template on SQLite; on PostgreSQL it is the
worker's database, emptied afterwards as the root ``db_url`` fixture does after a test."""

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from tests.conftest import RESET_SQL, built_app, make_settings, release
from tests.factories.alerts import make_alert_rule
from tests.factories.allocation import make_rule
from tests.factories.anomalies import make_anomaly
from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.commitments import make_commitment
from tests.factories.costs import add_costs, mark_imported
from tests.factories.inventory import make_resource
from tests.factories.kubernetes import add_allocations, make_cluster
from tests.factories.recommendations import make_approval, make_recommendation
from tests.factories.reports import make_scheduled
from tests.factories.tagging import make_policy
from tests.factories.unit_economics import add_metrics
from tests.factories.users import make_org, make_user
from xplorr.anomalies.models import Severity
from xplorr.app import bind
from xplorr.core import clock, security
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.tenancy import Role
from xplorr.recommendations.models import RecommendationStatus
from xplorr.tokens.models import ApiToken

STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Stack:
    """What the module's tests know about the served API and its data."""

    url: str
    db_url: str
    admin_token: str  # Acme's admin, write scope
    member_token: str  # Acme's member, granted the prod account only
    read_token: str  # Acme's admin, read scope
    other_token: str  # Globex's admin
    prod_id: str
    staging_id: str
    other_account_id: str
    anomaly_id: str
    cluster_id: str
    recommendation_id: str  # the largest open one (700/month), with a pending approval
    approval_id: str
    spike_day: date
    today: date


def serve_in_thread(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    """``app`` served by uvicorn on a free loopback port, in a thread of its own."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


def stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=15)


async def _token(db: Any, user: Any, *, scope: str = "write") -> str:
    raw = security.new_api_token()
    db.add(
        ApiToken(
            org_id=user.org_id,
            user_id=user.id,
            name=f"mcp {scope}",
            prefix=security.api_token_display_prefix(raw),
            token_sha256=security.sha256_hex(raw),
            created_at=clock.now(),
            scope=scope,
        )
    )
    await db.commit()
    return raw


async def _seed(db_url: str, today: date) -> dict[str, Any]:
    """Acme: a prod AWS-like account (EC2 100/day, S3 20/day, EC2 400 on the spike day with one
    new resource behind it) and a staging one (10/day), 40 days; guardrails, ownership and
    reports rows. Globex: one account, 1/day."""
    engine = make_engine(db_url)
    spike = today - timedelta(days=3)
    try:
        async with make_sessionmaker(engine)() as db:
            acme, globex = await make_org(db, "Acme"), await make_org(db, "Globex")
            admin = await make_user(db, acme, role=Role.ADMIN)
            member = await make_user(db, acme, role=Role.MEMBER)
            other = await make_user(db, globex, role=Role.ADMIN)
            prod = await make_account(db, acme, name="prod")
            staging = await make_account(
                db, acme, name="staging", provider_account_id="222233334444"
            )
            elsewhere = await make_account(db, globex, name="globex-main")
            await grant(db, member, prod)
            rows: list[dict[str, Any]] = []
            staging_rows: list[dict[str, Any]] = []
            for back in range(1, 41):
                day = today - timedelta(days=back)
                rows.append(
                    {
                        "usage_date": day,
                        "billed_cost": "100",
                        "service_name": "AmazonEC2",
                        "resource_id": "i-steady",
                        "tags": {"team": "api", "env": "prod"},
                    }
                )
                if day == spike:
                    rows.append(
                        {
                            "usage_date": day,
                            "billed_cost": "300",
                            "service_name": "AmazonEC2",
                            "resource_id": "i-spike",
                            "region": "eu-west-1",
                            "tags": {"env": "prod"},
                        }
                    )
                rows.append(
                    {
                        "usage_date": day,
                        "billed_cost": "20",
                        "service_name": "AmazonS3",
                        "service_category": "Storage",
                        "resource_id": "bucket-logs",
                        "tags": {"team": "data"},
                    }
                )
                staging_rows.append(
                    {
                        "usage_date": day,
                        "billed_cost": "10",
                        "service_name": "AmazonRDS",
                        "service_category": "Databases",
                    }
                )
            await add_costs(db, prod, rows)
            await add_costs(db, staging, staging_rows)
            await add_costs(
                db, elsewhere, [{"usage_date": today - timedelta(days=1), "billed_cost": "1"}]
            )
            for account in (prod, staging, elsewhere):
                await mark_imported(db, account)
            anomaly = await make_anomaly(
                db,
                acme,
                account=prod,
                day=spike,
                actual="400",
                baseline="100",
                severity=Severity.HIGH,
            )
            await make_budget(db, acme, name="AWS prod", amount="5000", account=prod)
            await make_alert_rule(db, acme, name="Daily > 300", account=prod)
            await make_resource(
                db, prod, "i-spike", name="batch-runner", region="eu-west-1", tags={"env": "prod"}
            )
            await make_resource(
                db, prod, "i-steady", name="api-server", tags={"team": "api", "env": "prod"}
            )
            await make_policy(db, acme, tag_key="team")
            await make_rule(db, acme, name="Shared S3", source_service="AmazonS3")
            await add_metrics(
                db, acme, {(today - timedelta(days=d)).isoformat(): 50 for d in range(1, 8)}
            )
            await make_scheduled(db, acme, admin, name="Monthly CFO Report")
            big = await make_recommendation(db, prod, savings="700", resource_id="i-steady")
            await make_recommendation(
                db,
                prod,
                savings="40.5",
                type="delete_unattached_volume",
                category="unused",
                resource_id="vol-1",
            )
            await make_recommendation(  # the other way to save on vol-1: not added to it
                db,
                prod,
                savings="8.1",
                type="migrate_gp2_to_gp3",
                category="modernization",
                resource_id="vol-1",
            )
            done = await make_recommendation(
                db,
                staging,
                savings="100",
                resource_id="i-old",
                status=RecommendationStatus.APPLIED,
            )
            done.realized_monthly_savings = Decimal("90")
            await db.commit()
            approval = await make_approval(db, big, member)
            await make_commitment(db, prod, "ri-0123456789")
            cluster, _ingest = await make_cluster(db, acme, name="prod-eks", posted=True)
            await add_allocations(
                db,
                cluster,
                [
                    {
                        "day": spike.isoformat(),
                        "name": name,
                        "total_cost": cost,
                        "namespace": namespace,
                        "pod": pod,
                        "idle": namespace is None,
                    }
                    for name, namespace, pod, cost in (
                        ("shop/api-1", "shop", "api-1", "5.50"),
                        ("data/pg-0", "data", "pg-0", "2.50"),
                        ("__idle__", None, None, "3.00"),
                    )
                ],
            )
            return {
                "admin_token": await _token(db, admin),
                "member_token": await _token(db, member),
                "read_token": await _token(db, admin, scope="read"),
                "other_token": await _token(db, other),
                "prod_id": str(prod.id),
                "staging_id": str(staging.id),
                "other_account_id": str(elsewhere.id),
                "anomaly_id": str(anomaly.id),
                "cluster_id": str(cluster.id),
                "recommendation_id": str(big.id),
                "approval_id": str(approval.id),
                "spike_day": spike,
            }
    finally:
        await engine.dispose()


@pytest.fixture(scope="package")
def stack(
    template_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    _reset_engine: Engine | None,
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("mcp-api")
    if _reset_engine is None:
        path = Path(data_dir) / "xplorr.db"
        shutil.copyfile(template_db, path)
        db_url = f"sqlite+aiosqlite:///{path}"
    else:
        db_url = template_db
    today = datetime.now(UTC).date()
    try:
        seeded = asyncio.run(_seed(db_url, today))
        # The worker's shared application object (built once: most of an app's cost), bound to
        # this package's database; no other test runs while the package does.
        # One network summary a minute per user: a tool meets the API's 429 for real.
        limits = {("GET", "/network/summary"): "1/minute"}
        app = bind(built_app(0), make_settings(db_url, data_dir, rate_limit_overrides=limits))
        url, server, thread = serve_in_thread(app)
        try:
            yield Stack(url=url, db_url=db_url, today=today, **seeded)
        finally:
            stop(server, thread)
            asyncio.run(release(app))
    finally:
        if _reset_engine is not None:
            with _reset_engine.begin() as conn:
                conn.exec_driver_sql(RESET_SQL)
