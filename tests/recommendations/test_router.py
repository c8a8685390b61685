"""The /recommendations HTTP contract: every query parameter, sorting by saving, pages, grants,
status changes and snoozes audited, bad input refused with nothing changed."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.recommendations import make_recommendation
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.orgs.models import Org
from xplorr.recommendations.models import Recommendation, RecommendationStatus
from xplorr.users.models import User


async def test_list_filters_sorting_snoozed_and_grants(
    db: AsyncSession, client_for: ClientFor, org: Org, admin: User, member: User, other_org: Org
) -> None:
    prod = await make_account(db, org, provider=Provider.AWS, name="prod")
    data = await make_account(db, org, provider=Provider.GCP, name="data")
    idle = await make_recommendation(db, prod, savings="60.74")
    ebs = await make_recommendation(
        db, prod, savings="120.5", type="delete_unattached_ebs_volume", category="unused"
    )
    done = await make_recommendation(db, prod, savings="9", status=RecommendationStatus.APPLIED)
    snoozed = await make_recommendation(
        db, prod, savings="500", snoozed_until=clock.now().date() + timedelta(days=3)
    )
    gcp = await make_recommendation(
        db, data, savings="1000.123", provider="gcp", type="commitment_purchase",
        category="commitment",
    )  # fmt: skip
    await make_recommendation(db, await make_account(db, other_org), savings="99999")
    c = client_for(admin)

    r = await c.get("/recommendations")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["page"], body["limit"]) == (4, 1, 50)
    assert [d["id"] for d in body["data"]] == [str(x.id) for x in (gcp, ebs, idle, done)]
    first = body["data"][2]
    assert first == {
        "id": str(idle.id),
        "type": "stop_idle_instance",
        "category": "idle",
        "provider": "aws",
        "account_id": str(prod.id),
        "account_name": "prod",
        "resource_id": idle.resource_id,
        "resource_name": idle.resource_name,
        "region": "us-east-1",
        "title": idle.title,
        "description": "Because.",
        "estimated_monthly_savings": 60.74,
        "currency": "USD",
        "overlap_group": f"resource:{prod.id}:{idle.resource_id}",
        "evidence": {"cpu_average_percent": "1.5"},
        "risk": "medium",
        "how_to_apply": {
            "console_steps": ["Stop it."],
            "cli": "aws ec2 stop-instances",
            "terraform": None,
        },
        "status": "open",
        "snoozed_until": None,
        "realized_monthly_savings": None,
        "closed_by": None,
        "detected_at": first["detected_at"],
        "last_seen_at": first["last_seen_at"],
        "updated_at": first["updated_at"],
        "status_changed_at": None,
        "applied_at": None,
    }
    assert body["data"][0]["estimated_monthly_savings"] == 1000.12

    async def ids(**params: object) -> list[str]:
        got = await c.get("/recommendations", params=params)
        assert got.status_code == 200, got.text
        return [d["id"] for d in got.json()["data"]]

    assert await ids(status="applied") == [str(done.id)]
    assert await ids(type="delete_unattached_ebs_volume") == [str(ebs.id)]
    assert await ids(provider="gcp") == [str(gcp.id)]
    assert await ids(accountId=str(data.id)) == [str(gcp.id)]
    assert await ids(category="unused") == [str(ebs.id)]
    assert await ids(includeSnoozed="true", limit=2) == [str(gcp.id), str(snoozed.id)]
    assert await ids(includeSnoozed="true", limit=2, offset=2) == [str(ebs.id), str(idle.id)]
    assert await ids(page=2, limit=3) == [str(done.id)]
    for bad in ({"status": "snoozed"}, {"limit": 0}, {"accountId": "nope"}, {"limit": 101}):
        assert (await c.get("/recommendations", params=bad)).status_code == 422, bad
    foreign = await make_account(db, other_org)
    assert (
        await c.get("/recommendations", params={"accountId": str(foreign.id)})
    ).status_code == 404

    await grant(db, member, data)
    limited = await client_for(member).get("/recommendations")
    assert [d["id"] for d in limited.json()["data"]] == [str(gcp.id)]


async def test_status_changes_and_snooze_are_audited(
    db: AsyncSession, client_for: ClientFor, org: Org, member: User, viewer: User
) -> None:
    prod = await make_account(db, org, provider=Provider.AWS)
    rec = await make_recommendation(db, prod, savings="70.08")
    c = client_for(member)
    url = f"/recommendations/{rec.id}"

    r = await c.patch(url, json={"status": "in_progress"})  # under the threshold: no approval
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress"
    r = await c.patch(url, json={"status": "applied"})
    assert r.json()["status"] == "applied"
    assert r.json()["realized_monthly_savings"] == 70.08
    assert r.json()["closed_by"] == "user"
    r = await c.patch(url, json={"status": "open"})
    assert (r.json()["status"], r.json()["realized_monthly_savings"]) == ("open", None)
    r = await c.patch(url, json={"status": "dismissed"})
    assert r.json()["status"] == "dismissed"
    for bad in ({}, {"status": "snoozed"}, {"status": "open", "extra": 1}):
        assert (await c.patch(url, json=bad)).status_code == 422, bad
    assert (await client_for(viewer).patch(url, json={"status": "open"})).status_code == 403

    today = clock.now().date()
    r = await c.post(f"{url}/snooze", json={"days": 7})
    assert r.status_code == 200, r.text
    assert r.json()["snoozed_until"] == (today + timedelta(days=7)).isoformat()
    until = (today + timedelta(days=30)).isoformat()
    r = await c.post(f"{url}/snooze", json={"until": until})
    assert r.json()["snoozed_until"] == until
    for bad in (
        {},
        {"days": 7, "until": until},
        {"days": 0},
        {"days": 366},
        {"until": today.isoformat()},
        {"until": (today + timedelta(days=400)).isoformat()},
        {"until": "soon"},
    ):
        got = await c.post(f"{url}/snooze", json=bad)
        assert got.status_code == 422, (bad, got.text)
    await db.rollback()
    row = await db.scalar(
        select(Recommendation)
        .where(Recommendation.id == rec.id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    assert (row.status, row.snoozed_until) == (
        RecommendationStatus.DISMISSED,
        today + timedelta(days=30),
    )
    actions = (
        await db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.resource_id == str(rec.id))
            .order_by(AuditEntry.created_at)
        )
    ).all()
    assert actions == ["recommendation.status_changed"] * 4 + ["recommendation.snoozed"] * 2


async def test_list_totals_count_open_ones_once_per_overlap_group(
    db: AsyncSession, client_for: ClientFor, org: Org, member: User
) -> None:
    mine, theirs = await make_account(db, org), await make_account(db, org)
    # One gp2 volume: delete it (8.00) or migrate it (2.50): alternatives, the larger counts.
    await make_recommendation(db, mine, savings="8.00", type="delete_volume", resource_id="vol-1")
    await make_recommendation(db, mine, savings="2.50", type="migrate_gp3", resource_id="vol-1")
    await make_recommendation(db, mine, savings="70.08")
    await make_recommendation(db, mine, savings="5", status=RecommendationStatus.DISMISSED)
    await make_recommendation(db, mine, savings="3.5", currency="EUR")
    await make_recommendation(db, theirs, savings="1000")
    await grant(db, member, mine)
    c = client_for(member)
    body = (await c.get("/recommendations", params={"limit": 1})).json()
    assert len(body["data"]) == 1  # the totals are over every match, not the page
    assert body["totals"] == [
        {"currency": "EUR", "estimated_monthly_savings": 3.5},
        {"currency": "USD", "estimated_monthly_savings": 78.08},
    ]
    body = (await c.get("/recommendations", params={"status": "dismissed"})).json()
    assert body["total"] == 1
    assert body["totals"] == []
    body = (await c.get("/recommendations", params={"type": "migrate_gp3"})).json()
    assert body["totals"] == [{"currency": "USD", "estimated_monthly_savings": 2.5}]
