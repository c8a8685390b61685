"""The approval flow end to end over HTTP: the threshold edge, 409 APPROVAL_REQUIRED naming the
pending approval (committed with the error), approve -> in progress, reject -> open, the
requester and the admins notified, the self-approval rule, expiry, every step audited."""

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.factories.recommendations import make_approval, make_recommendation
from tests.factories.users import make_user
from xplorr.approvals import service
from xplorr.approvals.models import Approval, ApprovalStatus
from xplorr.cloud_accounts.models import Provider
from xplorr.core.audit import AuditEntry
from xplorr.core.tenancy import Role
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.recommendations.models import Recommendation, RecommendationStatus
from xplorr.users.models import User


async def fresh(db: AsyncSession, model: type, ident: object) -> object:
    await db.rollback()
    row = await db.get(model, ident, populate_existing=True)
    assert row is not None
    return row


async def deliveries(db: AsyncSession, key: str) -> list[str]:
    await db.rollback()
    return sorted(
        (
            await db.scalars(
                select(NotificationDelivery.target).where(NotificationDelivery.event_key == key)
            )
        ).all()
    )


def test_threshold_edge() -> None:
    # Strictly above the threshold needs approval; exactly the threshold does not; 0 = always.
    assert not service.needs_approval(Decimal("500.00"), Decimal(500))
    assert service.needs_approval(Decimal("500.01"), Decimal(500))
    assert service.needs_approval(Decimal(0), Decimal(0))
    assert service.needs_approval(Decimal("0.01"), Decimal(0))


async def test_apply_above_threshold_goes_through_approval(
    db: AsyncSession, client_for: ClientFor, org: Org, owner: User, admin: User, member: User
) -> None:
    prod = await make_account(db, org, provider=Provider.AWS)
    at = await make_recommendation(db, prod, savings="500.00")
    above = await make_recommendation(db, prod, savings="500.01")
    m = client_for(member)

    r = await m.patch(f"/recommendations/{at.id}", json={"status": "in_progress"})
    assert r.status_code == 200, r.text  # exactly the threshold: no approval

    r = await m.patch(f"/recommendations/{above.id}", json={"status": "in_progress"})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "APPROVAL_REQUIRED"
    approval_id = error["details"][0]["approval_id"]
    assert error["details"][0]["status"] == "pending"
    assert approval_id in error["message"]
    # The same request again names the same pending approval; applied directly too.
    again = await m.patch(f"/recommendations/{above.id}", json={"status": "applied"})
    assert again.json()["error"]["details"][0]["approval_id"] == approval_id
    rec = await fresh(db, Recommendation, above.id)
    assert rec.status is RecommendationStatus.OPEN  # type: ignore[attr-defined]

    got = await client_for(admin).get(f"/approvals/{approval_id}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["status"], body["recommendation_id"], body["requested_by"]) == (
        "pending",
        str(above.id),
        str(member.id),
    )
    assert (body["estimated_monthly_savings"], body["threshold"]) == (500.01, 500)
    listed = await m.get("/approvals", params={"status": "pending"})
    assert [a["id"] for a in listed.json()["data"]] == [approval_id]
    admins = sorted([owner.email, admin.email])
    assert await deliveries(db, f"approval:{approval_id}:requested") == admins

    # Members cannot decide; the admin approves.
    assert (
        await m.patch(f"/approvals/{approval_id}", json={"status": "approved"})
    ).status_code == 403
    r = await client_for(admin).patch(
        f"/approvals/{approval_id}", json={"status": "approved", "comment": " go ahead "}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["comment"], r.json()["decided_by"]) == (
        "approved",
        "go ahead",
        str(admin.id),
    )
    rec = await fresh(db, Recommendation, above.id)
    assert rec.status is RecommendationStatus.IN_PROGRESS  # type: ignore[attr-defined]
    assert await deliveries(db, f"approval:{approval_id}:approved") == sorted(
        [*admins, member.email]
    )
    # Decided once: a second decision is a conflict, nothing changes.
    r = await client_for(owner).patch(f"/approvals/{approval_id}", json={"status": "rejected"})
    assert r.status_code == 409
    # With the approval granted, the member may now mark it applied without another.
    r = await m.patch(f"/recommendations/{above.id}", json={"status": "applied"})
    assert r.status_code == 200, r.text

    actions = (
        await db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.resource_id.in_([approval_id, str(above.id)]))
            .order_by(AuditEntry.created_at)
        )
    ).all()
    assert actions == [
        "approval.requested",
        "approval.approved",
        "recommendation.status_changed",
        "recommendation.status_changed",
    ]


async def test_reject_self_approval_and_requests(
    db: AsyncSession, client_for: ClientFor, org: Org, owner: User, admin: User, member: User
) -> None:
    prod = await make_account(db, org, provider=Provider.AWS)
    rec = await make_recommendation(db, prod, savings="900")
    a = client_for(admin)

    r = await a.post("/approvals", json={"recommendation_id": str(rec.id)})
    assert r.status_code == 201, r.text
    approval_id = r.json()["id"]
    dup = await client_for(member).post("/approvals", json={"recommendation_id": str(rec.id)})
    assert dup.status_code == 409
    assert dup.json()["error"]["details"][0]["approval_id"] == approval_id
    for bad in ({}, {"recommendation_id": "x"}, {"recommendation_id": str(rec.id), "x": 1}):
        assert (await a.post("/approvals", json=bad)).status_code == 422, bad

    # The requester cannot decide their own request while the owner can.
    r = await a.patch(f"/approvals/{approval_id}", json={"status": "approved"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "SELF_APPROVAL")
    for bad in ({}, {"status": "pending"}, {"status": "approved", "comment": "x" * 2001}):
        assert (await a.patch(f"/approvals/{approval_id}", json=bad)).status_code == 422, bad
    approval = await fresh(db, Approval, uuid.UUID(approval_id))
    assert approval.status is ApprovalStatus.PENDING  # type: ignore[attr-defined]

    r = await client_for(owner).patch(f"/approvals/{approval_id}", json={"status": "rejected"})
    assert r.status_code == 200, r.text
    rec_row = await fresh(db, Recommendation, rec.id)
    assert rec_row.status is RecommendationStatus.OPEN  # type: ignore[attr-defined]
    assert admin.email in await deliveries(db, f"approval:{approval_id}:rejected")

    # A recommendation no longer open cannot be requested.
    done = await make_recommendation(db, prod, status=RecommendationStatus.DISMISSED)
    r = await a.post("/approvals", json={"recommendation_id": str(done.id)})
    assert r.status_code == 409


async def test_sole_admin_may_decide_their_own_request(
    db: AsyncSession, client_for: ClientFor, org: Org
) -> None:
    solo = await make_user(db, org, role=Role.OWNER)
    rec = await make_recommendation(db, await make_account(db, org), savings="900")
    approval = await make_approval(db, rec, solo)
    r = await client_for(solo).patch(f"/approvals/{approval.id}", json={"status": "approved"})
    assert r.status_code == 200, r.text


async def test_requests_expire_after_14_days(
    db: AsyncSession, client_for: ClientFor, org: Org, admin: User, member: User
) -> None:
    prod = await make_account(db, org)
    old = await make_approval(
        db, await make_recommendation(db, prod, savings="900"), member, age=timedelta(days=15)
    )
    older = await make_approval(
        db,
        await make_recommendation(db, prod, savings="900"),
        member,
        age=timedelta(days=14, minutes=1),
    )
    young = await make_approval(
        db, await make_recommendation(db, prod, savings="900"), member, age=timedelta(days=13)
    )
    r = await client_for(admin).patch(f"/approvals/{old.id}", json={"status": "approved"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "APPROVAL_EXPIRED")
    assert (await fresh(db, Approval, old.id)).status is ApprovalStatus.EXPIRED  # type: ignore[attr-defined]

    assert await service.expire_pending(db, org.id) == 1
    await db.commit()
    assert (await fresh(db, Approval, older.id)).status is ApprovalStatus.EXPIRED  # type: ignore[attr-defined]
    assert (await fresh(db, Approval, young.id)).status is ApprovalStatus.PENDING  # type: ignore[attr-defined]
    assert member.email in await deliveries(db, f"approval:{older.id}:expired")


async def test_threshold_comes_from_the_org_settings(
    db: AsyncSession, client_for: ClientFor, org: Org, owner: User, member: User
) -> None:
    prod = await make_account(db, org)
    small = await make_recommendation(db, prod, savings="3.65")
    zero = await make_recommendation(db, prod, savings="0")
    big = await make_recommendation(db, prod, savings="900")
    o = client_for(owner)
    assert (await o.patch("/settings", json={"approval_threshold": 1000})).status_code == 200
    m = client_for(member)
    r = await m.patch(f"/recommendations/{big.id}", json={"status": "in_progress"})
    assert r.status_code == 200, r.text  # 900 is under a threshold of 1000
    assert (await o.patch("/settings", json={"approval_threshold": 0})).status_code == 200
    for rec in (small, zero):  # 0: every apply needs approval, even a zero saving
        r = await m.patch(f"/recommendations/{rec.id}", json={"status": "in_progress"})
        assert r.json()["error"]["code"] == "APPROVAL_REQUIRED", r.text
        approval = await fresh(
            db, Approval, uuid.UUID(r.json()["error"]["details"][0]["approval_id"])
        )
        assert approval.threshold == 0  # type: ignore[attr-defined]
