"""/commitments/analysis from FOCUS rows: spend by pricing model per day, coverage and
utilisation to the cent of their definitions, gaps per instance family and region with their
consistency, owned commitments matched to the bill, advice; currencies apart, grants, tenancy,
validation; and the ri_sp_expiration notification, once."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.commitments import make_commitment
from tests.factories.costs import add_costs
from xplorr.cloud_accounts.models import Provider
from xplorr.commitments import service
from xplorr.core import clock
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User

RI_ARN = "arn:aws:ec2:us-east-1:123456789012:reserved-instances/ri-1"
SP_ARN = "arn:aws:savingsplans::123456789012:savingsplan/sp-1"
EC2 = {"service_name": "AmazonEC2", "service_category": "Compute", "region": "us-east-1"}


def usage(day: Any, effective: str, **kw: Any) -> dict[str, Any]:
    return {
        "usage_date": day,
        "billed_cost": kw.pop("billed", effective),
        "effective_cost": effective,
        "list_cost": kw.pop("list_cost", effective),
        **EC2,
        **kw,
    }


@pytest.fixture
async def data(db: AsyncSession, org: Org, other_org: Org) -> dict[str, Any]:
    today = clock.now().date()
    d1 = today - timedelta(days=1)
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    gcp = await make_account(db, org, provider=Provider.GCP, name="data")
    foreign = await make_account(db, other_org, provider=Provider.AWS)
    rows = [
        # m5 on demand every day of the last 30 (10 a day, 24 hours)
        *(
            usage(
                today - timedelta(days=i),
                "10",
                pricing_category="Standard",
                usage_type="USE1-BoxUsage:m5.large",
                consumed_unit="Hrs",
                consumed_quantity=Decimal(24),
            )
            for i in range(30)
        ),
        # db.r6g on demand every other day: 15 of 30
        *(
            usage(
                today - timedelta(days=i),
                "4",
                service_name="AmazonRDS",
                service_category="Databases",
                pricing_category="Standard",
                usage_type="USE1-InstanceUsage:db.r6g.large",
                consumed_unit="Hrs",
                consumed_quantity=Decimal(24),
            )
            for i in range(0, 30, 2)
        ),
        # an RI: 6 used (10 at list), 2 unused; a savings plan (no type, Spend): 7 (10 at list)
        usage(
            d1,
            "6",
            billed="0",
            list_cost="10",
            pricing_category="Committed",
            commitment_discount_id=RI_ARN,
            commitment_discount_type="Reserved Instance",
            commitment_discount_status="Used",
        ),
        usage(
            d1,
            "2",
            list_cost="0",
            pricing_category="Committed",
            commitment_discount_id=RI_ARN,
            commitment_discount_type="Reserved Instance",
            commitment_discount_status="Unused",
        ),
        usage(
            d1,
            "7",
            billed="0",
            list_cost="10",
            pricing_category="Committed",
            commitment_discount_id=SP_ARN,
            commitment_discount_category="Spend",
        ),
        usage(d1, "3", list_cost="10", pricing_category="Dynamic"),  # spot
        # on demand but not eligible for a commitment; a purchase (amortised: left out)
        usage(d1, "5", service_name="AmazonS3", service_category="Storage"),
        usage(d1, "50", charge_category="Purchase", commitment_discount_id=RI_ARN),
        usage(d1, "100", currency="EUR", pricing_category="Standard"),
    ]
    await add_costs(db, aws, rows)
    await add_costs(db, gcp, [usage(d1, "1", provider="gcp", pricing_category="Standard")])
    await add_costs(db, foreign, [usage(d1, "999", pricing_category="Standard")])
    await make_commitment(db, aws, "ri-1", expires_in_days=20, hourly_cost=Decimal("0.10"))
    await make_commitment(
        db,
        aws,
        SP_ARN,
        kind="savings_plan",
        service="savingsplans",
        expires_in_days=400,
        hourly_cost=Decimal(1),
    )
    await make_commitment(db, aws, "ri-unbilled", expires_in_days=None)
    return {"aws": aws, "gcp": gcp, "foreign": foreign, "d1": d1, "today": today}


async def test_analysis_and_expiry_notice(
    db: AsyncSession, client_for: ClientFor, admin: User, org: Org, data: dict[str, Any]
) -> None:
    r = await client_for(admin).get("/commitments/analysis")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["days"], body["end_date"], body["currency"]) == (
        90,
        data["today"].isoformat(),
        "USD",
    )
    assert body["currencies"] == [
        {"currency": "USD", "total_cost": 384.0},
        {"currency": "EUR", "total_cost": 100.0},
    ]
    # EffectiveCost per model: on demand 300 + 60 + 5 (+1 GCP), reserved 6 + 2, plan 7, spot 3.
    assert body["totals"] == {
        "on_demand": 366.0,
        "reserved": 8.0,
        "savings_plan": 7.0,
        "spot": 3.0,
        "other": 0.0,
        "total": 384.0,
    }
    # Coverage at list: (10 + 10) / (20 + 300 + 60 + 1); utilisation: 13 / (13 + 2).
    assert (body["coverage_percent"], body["utilization_percent"]) == (5.25, 86.67)
    assert set(body["definitions"]) >= {"coverage", "utilization", "consistency_score"}
    assert len(body["daily"]) == 90
    day = {d["date"]: d for d in body["daily"]}[data["d1"].isoformat()]
    assert day == {
        "date": data["d1"].isoformat(),
        "on_demand": 16.0,
        "reserved": 8.0,
        "savings_plan": 7.0,
        "spot": 3.0,
        "other": 0.0,
        "total": 34.0,
    }
    gaps = {
        (g["instance_family"] or g["resource_type"], g["region"]): g for g in body["coverage_gaps"]
    }
    m5 = gaps[("m5", "us-east-1")]
    assert (m5["service"], m5["days_run"], m5["consistency_score"]) == (
        "Amazon Elastic Compute Cloud",
        30,
        1.0,
    )
    assert (m5["average_daily_on_demand_cost"], m5["average_daily_on_demand_hours"]) == (10.0, 24.0)
    assert m5["estimated_monthly_savings"] == 60.83  # 10 a day x 365/12 x 20 %
    rds = gaps[("db.r6g", "us-east-1")]
    assert (rds["days_run"], rds["consistency_score"], rds["average_daily_on_demand_cost"]) == (
        15,
        0.5,
        2.0,
    )
    assert rds["estimated_monthly_savings"] == 0.0
    assert all(g["service"] != "Amazon Simple Storage Service" for g in body["coverage_gaps"])
    assert body["coverage_gaps"][0]["instance_family"] == "m5"
    owned = {c["commitment_id"]: c for c in body["commitments"]}
    assert list(owned) == ["ri-1", SP_ARN, "ri-unbilled"]  # soonest expiry first
    ri = owned["ri-1"]
    assert (ri["days_left"], ri["monthly_cost"], ri["utilization_percent"], ri["kind"]) == (
        20,
        73.0,
        75.0,
        "reserved_instance",
    )
    assert (owned[SP_ARN]["utilization_percent"], owned[SP_ARN]["monthly_cost"]) == (100.0, 730.0)
    assert (owned["ri-unbilled"]["utilization_percent"], owned["ri-unbilled"]["expires_on"]) == (
        None,
        None,
    )
    kinds = [(a["kind"], a["severity"]) for a in body["advice"]]
    assert kinds == [
        ("coverage_low", "medium"),
        ("commit", "low"),
        ("underused", "medium"),
        ("expiring", "high"),
    ]
    assert body["advice"][0]["estimated_monthly_savings"] == 60.83
    assert body["advice_source"] == "rules"

    # The daily job's expiry notice: ri-1 (20 days), not the plan (400 days); once.
    async def deliveries() -> list[str]:
        await db.commit()
        return list(
            (
                await db.scalars(
                    select(NotificationDelivery.event_key).where(
                        NotificationDelivery.org_id == org.id,
                        NotificationDelivery.event_type == "ri_sp_expiration",
                    )
                )
            ).all()
        )

    assert await service.notify_expiring(db, org.id) == 1  # ri-1 (20 days); not the plan (400)
    await db.commit()
    keys = await deliveries()
    expires = (data["today"] + timedelta(days=20)).isoformat()
    assert keys
    assert set(keys) == {f"ri_sp_expiration:ri-1:{expires}"}
    await service.notify_expiring(db, org.id)  # the daily run again: nothing new
    await db.commit()
    assert sorted(await deliveries()) == sorted(keys)
    count = await db.scalar(select(func.count()).select_from(NotificationDelivery))
    assert count == len(keys)


async def test_scope_grants_tenancy_and_validation(
    db: AsyncSession,
    client_for: ClientFor,
    admin: User,
    member: User,
    other_admin: User,
    data: dict[str, Any],
) -> None:
    mine = client_for(admin)
    one = await mine.get(
        "/commitments/analysis", params={"accountId": str(data["gcp"].id), "days": 7}
    )
    assert one.status_code == 200, one.text
    body = one.json()
    assert (len(body["daily"]), body["totals"]["total"], body["commitments"]) == (7, 1.0, [])
    # Another org's account, and bad input: 404 / 422, the envelope.
    for params, status in (
        ({"accountId": str(data["foreign"].id)}, 404),
        ({"days": 0}, 422),
        ({"days": 367}, 422),
        ({"accountId": "not-a-uuid"}, 422),
    ):
        r = await mine.get("/commitments/analysis", params=params)
        assert r.status_code == status, (params, r.text)
    assert (await client_for(None).get("/commitments/analysis")).status_code == 401
    # The other org sees only its own: no commitment, its 999.
    theirs = (await client_for(other_admin).get("/commitments/analysis")).json()
    assert (theirs["totals"]["total"], theirs["commitments"]) == (999.0, [])
    # A member limited to the GCP account: its figures only, and the AWS account is 404.
    await grant(db, member, data["gcp"])
    body = (await client_for(member).get("/commitments/analysis")).json()
    assert (body["totals"]["total"], body["commitments"], body["coverage_percent"]) == (
        1.0,
        [],
        0.0,
    )
    r = await client_for(member).get(
        "/commitments/analysis", params={"accountId": str(data["aws"].id)}
    )
    assert r.status_code == 404
