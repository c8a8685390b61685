"""``xplorr demo`` (``load_demo``): the demo organization, three demo accounts with 13 months of
generated costs loaded through the sync path, visible to the demo owner, with real answers from
its API (anomalies, budgets, inventory, recommendations, commitment coverage, insights...);
running it again adds nothing."""

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors.demo import resources as demo_resources
from xplorr.core import clock
from xplorr.core.models import Money
from xplorr.core.settings import Settings
from xplorr.costs.models import CostImport, CostRecord
from xplorr.demo import DEMO_ACCOUNTS, load_demo
from xplorr.orgs.models import Org
from xplorr.sync.models import SyncRun, SyncState


async def _snapshot(db: AsyncSession) -> dict[str, tuple[int, int, Decimal]]:
    """Per demo account: (cost rows, imported billing periods, Σ BilledCost)."""
    await db.rollback()
    stmt = (
        select(
            CloudAccount.name,
            func.count(CostRecord.id),
            func.count(func.distinct(CostRecord.billing_period)),
            func.sum(CostRecord.billed_cost, type_=Money),
        )
        .join(CostRecord, CostRecord.cloud_account_id == CloudAccount.id)
        .group_by(CloudAccount.name)
    )
    return {name: (rows, periods, total) for name, rows, periods, total in await db.execute(stmt)}


@pytest.fixture
def one_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole test on one UTC day: each account reads the clock, so a load crossing midnight
    would end its accounts on different days. Pinned close to the real time (tokens are checked
    against it), a few minutes back when midnight is near."""
    pinned = clock.now()
    if (pinned + timedelta(minutes=2)).date() != pinned.date():
        pinned -= timedelta(minutes=5)
    monkeypatch.setattr(clock, "now", lambda: pinned)


@pytest.mark.slow
@pytest.mark.usefixtures("one_day")
async def test_demo_loads_three_accounts_over_13_months_and_is_idempotent(
    settings: Settings, db: AsyncSession, app: FastAPI
) -> None:
    result = await load_demo(settings)
    assert result.created
    assert [a.name for a in result.accounts] == [name for name, _ in DEMO_ACCOUNTS]
    assert [a.periods_imported for a in result.accounts] == [13, 13, 13]
    yesterday = clock.now().date() - timedelta(days=1)
    assert {a.data_through for a in result.accounts} == {yesterday}
    assert len(result.lines()) == 4
    # The detector found the spikes the generator put on each account's biggest service in
    # the data's last three days (and notified them); the demo budgets fired their alerts.
    assert result.recent_anomalies >= 3
    assert any(a.endswith(": 100") for a in result.budget_alerts)
    assert result.inventory_added > 0  # the demo accounts' resources, from their bill
    first = await _snapshot(db)
    assert set(first) == {name for name, _ in DEMO_ACCOUNTS}
    for rows, periods, total in first.values():
        assert periods == 13
        assert rows > 10_000
        assert total > Decimal(10_000)

    # Run again with another demo password: the owner exists and keeps the one they have.
    again = await load_demo(
        settings.model_copy(update={"demo_password": SecretStr("a-new-demo-password-42")})
    )
    assert not again.created
    assert [(a.periods_imported, a.periods_skipped) for a in again.accounts] == [(0, 13)] * 3
    assert [a.rows for a in again.accounts] == [0, 0, 0]  # the same day: nothing regenerated
    assert (again.anomalies, again.budget_alerts) == (0, [])  # detection and alerts: idempotent
    assert again.inventory_added == 0
    assert await _snapshot(db) == first
    await db.rollback()
    org = (await db.scalars(select(Org).where(Org.slug == "demo"))).one()
    accounts = (await db.scalars(select(CloudAccount).where(CloudAccount.org_id == org.id))).all()
    assert sorted(a.provider for a in accounts) == [Provider.DEMO] * 3
    runs = (await db.scalars(select(SyncRun))).all()
    assert [r.state for r in runs] == [SyncState.SUCCEEDED] * 6
    imports = await db.scalar(select(func.count()).select_from(CostImport))
    assert imports == 3 * 13

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t/api/v1"
    ) as client:
        login = await client.post(
            "/auth/login",
            json={
                "email": settings.demo_email,
                "password": settings.demo_password.get_secret_value(),
            },
        )
        assert login.status_code == 200, login.text
        refused = await client.post(
            "/auth/login",
            json={"email": settings.demo_email, "password": "a-new-demo-password-42"},
        )
        assert refused.status_code == 401
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        status = (await client.get("/sync/status", headers=auth)).json()["data"]
        found = (await client.get("/anomalies", params={"limit": 100}, headers=auth)).json()
        listed = (await client.get("/budgets", headers=auth)).json()["data"]
        inventory = (await client.get("/inventory", params={"limit": 100}, headers=auth)).json()
        recommendations = (
            await client.get("/recommendations", params={"limit": 100}, headers=auth)
        ).json()
        from_providers = [
            r
            for provider in ("azure", "gcp")
            for r in (
                await client.get("/recommendations", params={"provider": provider}, headers=auth)
            ).json()["data"]
            if r["evidence"].get("source") in ("Azure Advisor", "GCP Recommender")
        ]
        idle_lbs = (
            await client.get(
                "/recommendations", params={"type": "delete_idle_load_balancer"}, headers=auth
            )
        ).json()["data"]
        # Cost ownership, computed for real from the demo data (xplorr.demo_ownership).
        violations = (await client.get("/tagging-policies/violations", headers=auth)).json()
        rules = (await client.get("/allocation-rules", headers=auth)).json()
        month = {
            "startDate": (yesterday - timedelta(days=29)).isoformat(),
            "endDate": yesterday.isoformat(),
            "groupBy": "tag:team",
        }
        plain = (await client.get("/costs", params=month, headers=auth)).json()
        shared = (
            await client.get("/costs", params={**month, "allocate": "true"}, headers=auth)
        ).json()
        unit = await client.get(
            "/unit-economics", params={**month, "metricName": "Active Customers"}, headers=auth
        )
        coverage = await client.get("/commitments/analysis", headers=auth)
        insights = await client.get("/ai-recommendations", headers=auth)
        # The demo's AWS rows carry usage types (SkuMeter): network categories, families.
        network = (await client.get("/network/summary", headers=auth)).json()
    recent = [a for a in found["data"] if a["date"] >= (yesterday - timedelta(days=2)).isoformat()]
    assert {a["scope"] for a in recent} == {"service", "account", "org"}
    assert {a["severity"] for a in recent if a["scope"] == "service"} <= {"high", "critical"}
    assert all(a["root_cause"] for a in recent)
    by_name = {b["name"]: b for b in listed}
    over, near = by_name["AWS production (monthly)"], by_name["Azure applications (monthly)"]
    if over["current_spend"] > 0:  # on the 1st, nothing of the month is complete yet
        assert 111.9 <= over["percent_used"] <= 112.1
        assert 85.9 <= near["percent_used"] <= 86.1
    assert inventory["total"] == result.inventory_added
    assert {r["source"] for r in inventory["data"]} == {"bill"}
    # Every resource has its bill's cost, but the clean-up candidates the demo adds beyond its
    # bill (connectors.demo.resources): those are what recommendations find, listed below.
    extra = {r.name for r in demo_resources.extras("any", "any", yesterday)}
    assert all(r["cost_30d"] is not None for r in inventory["data"] if r["name"] not in extra)
    found_types = {r["type"] for r in recommendations["data"]}
    assert found_types >= {
        "stop_idle_instance",
        "rightsize_instance",
        "delete_unattached_ebs_volume",
        "delete_orphan_snapshot",
        "release_unassociated_eip",
        "delete_idle_load_balancer",
        "migrate_gp2_to_gp3",
        "stopped_instance_volumes",
        "commitment_purchase",
    }, found_types
    # The demo's Azure Advisor and GCP Recommender rows (demo data, and saying so), stored
    # through the collectors' store, again in place on the second run.
    assert (result.provider_recommendations, again.provider_recommendations) == (6, 6)
    assert {r["type"] for r in from_providers} == {
        "azure_advisor_commitment",
        "azure_advisor_rightsizing",
        "azure_advisor_idle",
        "gcp_commitment",
        "gcp_machine_type",
        "gcp_idle_vm",
    }
    assert all(r["evidence"]["demo_data"] is True for r in from_providers)
    assert all("(demo data)" in r["description"] for r in from_providers)
    assert {r["currency"] for r in from_providers} == {"USD"}
    # Two idle load balancers: no healthy target, and healthy targets but no request.
    assert sorted(
        (r["evidence"]["no_healthy_target"], r["evidence"]["no_requests"]) for r in idle_lbs
    ) == [(False, True), (True, False)]
    savings = [r["estimated_monthly_savings"] for r in recommendations["data"]]
    assert savings == sorted(savings, reverse=True)
    assert all(
        r["evidence"] and r["how_to_apply"]["console_steps"] for r in recommendations["data"]
    )
    assert len(result.ownership) == 4
    assert f", {violations['total_violations']} violations" in result.ownership[0]
    assert violations["total_violations"] > 0
    assert len(violations["policies"]) >= 3
    assert [r["name"] for r in rules["data"]] == [
        "Shared container platform (ECS)",
        "Shared observability (CloudWatch)",
    ]
    assert shared["totalCost"] == plain["totalCost"]
    assert sum(Decimal(str(d["allocated"])) for d in shared["data"]) > 0
    assert unit.status_code == 200
    assert len(unit.json()["data"]) == 30
    # Commitment coverage of the demo bill: its reservations and plans against its on-demand
    # usage, the demo collector's commitments (one per provider, the AWS one 21 days from
    # expiry), steady gaps, and the rules' advice (the test app configures no LLM).
    assert coverage.status_code == 200, coverage.text
    analysis = coverage.json()
    assert (analysis["currency"], analysis["end_date"], len(analysis["daily"])) == (
        "USD",
        yesterday.isoformat(),
        90,
    )
    assert 0 < analysis["coverage_percent"] < 100
    assert 0 < analysis["utilization_percent"] <= 100
    assert analysis["totals"]["reserved"] + analysis["totals"]["savings_plan"] > 0
    assert analysis["totals"]["on_demand"] > 0
    owned = {c["provider"]: c for c in analysis["commitments"]}
    assert set(owned) == {"aws", "azure", "gcp"}
    assert {c["source"] for c in analysis["commitments"]} == {"demo"}
    assert owned["aws"]["days_left"] == 21
    assert all(c["utilization_percent"] is not None for c in owned.values())
    steady = [g for g in analysis["coverage_gaps"] if g["estimated_monthly_savings"] > 0]
    assert steady
    assert all(g["days_run"] == 30 for g in steady)
    kinds = {a["kind"] for a in analysis["advice"]}
    assert {"commit", "expiring"} <= kinds, kinds
    assert (analysis["advice_source"], analysis["advice_model"]) == ("rules", None)
    assert analysis["advice_note"].startswith("No LLM is configured")
    # Insights over the demo's figures (rules: no LLM configured): spend, anomalies, open
    # recommendations and coverage, never an error.
    assert insights.status_code == 200, insights.text
    ai = insights.json()
    assert (ai["source"], ai["model"], ai["currency"]) == ("rules", None, "USD")
    assert len(ai["insights"]) >= 4
    figures = ai["figures"]
    assert figures["total_cost"] > 0
    assert figures["open_anomalies"] > 0
    assert figures["recommendations"]["open_count"] == len(recommendations["data"])
    assert figures["coverage"]["coverage_percent"] is not None
    assert {i["category"] for i in ai["insights"]} >= {"spend_trend", "savings", "commitment"}
    spent = {c["category"] for c in network["categories"] if c["cost"] > 0}
    assert spent >= {"nat_gateway", "internet_egress", "inter_region", "public_ipv4", "cdn"}
    assert network["nat_gateways"]
    families = {g["instance_family"] for g in analysis["coverage_gaps"]} - {None}
    assert families & {"m5", "c6i", "r6g", "db.r6g", "db.m6g", "cache.m5"}, families
    assert sorted(s["accountName"] for s in status) == sorted(n for n, _ in DEMO_ACCOUNTS)
    assert {(s["state"], s["dataThrough"]) for s in status} == {
        ("succeeded", yesterday.isoformat())
    }
