"""Approvals (product-notes section 15): applying a recommendation whose estimated monthly
saving is above the organization's approval threshold waits for an admin.

- The threshold: the org setting ``approval_threshold`` (default 500 a month). A saving
  strictly greater than the threshold needs approval; exactly the threshold does not. A
  threshold of 0 makes every apply need approval, whatever the saving (0 included). It is
  compared with the saving in the recommendation's own currency.
- ``gate``: moving a recommendation to in progress or applied without an approved approval,
  above the threshold, opens a pending approval (or reuses the pending one) and answers 409
  ``APPROVAL_REQUIRED`` naming it; the approval is committed with that answer.
- ``decide``: an admin approves (the recommendation moves to in progress) or rejects (it stays
  open); the requester and the admins are notified. An admin cannot decide their own request
  while another active admin or owner exists (403 ``SELF_APPROVAL``).
- ``expire_pending``: requests still pending 14 days after they were made become ``expired``
  (a daily job; a decision on one past its expiry also expires it).

Every step is audited and sent through the notification hub (``ApprovalNotice``).
"""

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.approvals.models import Approval, ApprovalStatus
from xplorr.approvals.schemas import ApprovalCreate, ApprovalDecision, ApprovalFilters, ApprovalOut
from xplorr.core import audit, clock, money
from xplorr.core.errors import Conflict, Forbidden, ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, Role, get_in_org, org_scope, org_select
from xplorr.notifications import EmailTarget, events, notify
from xplorr.recommendations.models import Recommendation, RecommendationStatus
from xplorr.settings.service import get_org_settings
from xplorr.users.models import User, UserStatus

EXPIRY: Final = timedelta(days=14)
ACTION: Final = "apply_recommendation"


async def approval_threshold(db: AsyncSession, org_id: uuid.UUID) -> Decimal:
    """The organization's approval threshold (monthly saving; ``/settings``, default 500)."""
    return (await get_org_settings(db, org_id)).approval_threshold


def needs_approval(savings: Decimal, threshold: Decimal) -> bool:
    """Strictly above the threshold; a threshold of 0 means always (module doc)."""
    return threshold <= 0 or savings > threshold


def to_out(a: Approval) -> ApprovalOut:
    return ApprovalOut(
        id=a.id,
        recommendation_id=a.recommendation_id,
        cloud_account_id=a.cloud_account_id,
        action=a.action,
        title=a.title,
        estimated_monthly_savings=money.round_money(a.estimated_monthly_savings, a.currency),
        currency=a.currency,
        threshold=money.round_money(a.threshold, a.currency),
        status=a.status,
        requested_by=a.requested_by,
        requested_by_email=a.requested_by_email,
        decided_by=a.decided_by,
        decided_by_email=a.decided_by_email,
        decided_at=a.decided_at,
        comment=a.comment,
        expires_at=a.expires_at,
        created_at=a.created_at,
        updated_at=a.updated_at,
    )


async def _notify(db: AsyncSession, a: Approval, status: str) -> None:
    """Admins always; the requester too when it is about their request's outcome."""
    targets = []
    if status != "requested" and a.requested_by_email:
        targets.append(EmailTarget(a.requested_by_email, a.requested_by))
    await notify(
        db,
        events.ApprovalNotice(
            org_id=a.org_id,
            cloud_account_id=a.cloud_account_id,
            approval_id=a.id,
            status=status,  # type: ignore[arg-type]  # one of the Literal's values
            action=f"{ACTION}: {a.title}",
            requested_by=a.requested_by_email,
            recommendation_id=a.recommendation_id,
        ),
        targets=targets,
    )


async def _pending_for(db: AsyncSession, who: Principal, rec: Recommendation) -> Approval | None:
    return await db.scalar(
        org_select(Approval, who)
        .where(
            Approval.recommendation_id == rec.id,
            Approval.status == ApprovalStatus.PENDING,
            Approval.expires_at > clock.now(),
        )
        .order_by(Approval.created_at)
    )


async def _open(db: AsyncSession, who: Principal, rec: Recommendation) -> Approval:
    now = clock.now()
    a = Approval(
        id=uuid.uuid4(),
        org_id=rec.org_id,
        recommendation_id=rec.id,
        cloud_account_id=rec.cloud_account_id,
        action=ACTION,
        title=rec.title,
        estimated_monthly_savings=rec.estimated_monthly_savings,
        currency=rec.currency,
        threshold=await approval_threshold(db, rec.org_id),
        status=ApprovalStatus.PENDING,
        requested_by=who.user_id,
        requested_by_email=who.email or "",
        expires_at=now + EXPIRY,
        created_at=now,
    )
    db.add(a)
    await db.flush()
    await audit.record(
        db,
        "approval.requested",
        who=who,
        target=a,
        details={
            "recommendation_id": str(rec.id),
            "estimated_monthly_savings": money.plain(
                money.round_money(rec.estimated_monthly_savings, rec.currency)
            ),
            "currency": rec.currency,
        },
    )
    await _notify(db, a, "requested")
    return a


async def gate(db: AsyncSession, who: Principal, rec: Recommendation) -> None:
    """Return when ``who`` may move ``rec`` to in progress or applied now; else open (or
    reuse) a pending approval and raise 409 ``APPROVAL_REQUIRED`` naming it, committed."""
    threshold = await approval_threshold(db, rec.org_id)
    if not needs_approval(rec.estimated_monthly_savings, threshold):
        return
    approved = await db.scalar(
        org_select(Approval, who).where(
            Approval.recommendation_id == rec.id, Approval.status == ApprovalStatus.APPROVED
        )
    )
    if approved is not None:
        return
    pending = await _pending_for(db, who, rec) or await _open(db, who, rec)
    raise Conflict(
        f"This recommendation saves more than the approval threshold "
        f"({money.plain(money.round_money(threshold, rec.currency))} {rec.currency} a month): "
        f"approval {pending.id} is pending.",
        code="APPROVAL_REQUIRED",
        details=[{"approval_id": str(pending.id), "status": pending.status.value}],
        commit=True,
    )


async def create_approval(db: AsyncSession, who: Principal, body: ApprovalCreate) -> ApprovalOut:
    """Request approval to apply an open recommendation (one pending request per
    recommendation: a second answers 409 naming the first)."""
    rec = await get_in_org(db, Recommendation, body.recommendation_id, who, for_update=True)
    if rec.status is not RecommendationStatus.OPEN:
        raise Conflict(f"The recommendation is {rec.status.value}: only an open one is approved.")
    pending = await _pending_for(db, who, rec)
    if pending is not None:
        raise Conflict(
            f"Approval {pending.id} is already pending for this recommendation.",
            details=[{"approval_id": str(pending.id), "status": pending.status.value}],
        )
    return to_out(await _open(db, who, rec))


async def get_approval(db: AsyncSession, who: Principal, approval_id: uuid.UUID) -> ApprovalOut:
    return to_out(await get_in_org(db, Approval, approval_id, who))


async def list_approvals(
    db: AsyncSession, who: Principal, filters: ApprovalFilters, page: PageParams
) -> Page[ApprovalOut]:
    """Newest first; a user limited to some accounts sees those accounts' approvals."""
    stmt = org_select(Approval, who)
    if filters.status is not None:
        stmt = stmt.where(Approval.status == filters.status)
    stmt = stmt.order_by(Approval.created_at.desc(), Approval.id)
    return await paginate(db, stmt, page, to_out)


async def _other_admins(db: AsyncSession, who: Principal) -> int:
    stmt = org_select(User, who).where(
        User.role.in_([Role.OWNER, Role.ADMIN]),
        User.status == UserStatus.ACTIVE,
        User.id != who.user_id,
    )
    return int(await db.scalar(stmt.with_only_columns(func.count())) or 0)


async def _expire(db: AsyncSession, a: Approval, who: Principal | None) -> None:
    a.status = ApprovalStatus.EXPIRED
    a.decided_at = clock.now()
    await audit.record(db, "approval.expired", who=who, org_id=a.org_id, target=a)
    await _notify(db, a, "expired")
    await db.flush()


async def decide(
    db: AsyncSession, who: Principal, approval_id: uuid.UUID, body: ApprovalDecision
) -> ApprovalOut:
    """Approve (the recommendation moves to in progress when it is still open) or reject (it
    stays open); audited, the requester and the admins notified."""
    a = await get_in_org(db, Approval, approval_id, who, for_update=True)
    if body.status is None:
        raise ValidationFailed.on("status", "Field required")
    if a.status is not ApprovalStatus.PENDING:
        raise Conflict(f"This approval is already {a.status.value}.")
    if a.expires_at <= clock.now():
        await _expire(db, a, None)
        raise Conflict("This approval request expired.", code="APPROVAL_EXPIRED", commit=True)
    if a.requested_by == who.user_id and await _other_admins(db, who) > 0:
        raise Forbidden(
            "You cannot decide your own request while another admin can.", code="SELF_APPROVAL"
        )
    a.status = ApprovalStatus(body.status)
    a.decided_by, a.decided_by_email = who.user_id, who.email
    a.decided_at = clock.now()
    a.comment = body.comment or None
    await audit.record(
        db,
        f"approval.{body.status}",
        who=who,
        target=a,
        details={"recommendation_id": str(a.recommendation_id)},
    )
    if a.status is ApprovalStatus.APPROVED:
        rec = await get_in_org(db, Recommendation, a.recommendation_id, who, for_update=True)
        if rec.status is RecommendationStatus.OPEN:
            before = rec.status
            rec.status = RecommendationStatus.IN_PROGRESS
            rec.status_changed_at, rec.status_changed_by = clock.now(), a.requested_by
            await audit.record(
                db,
                "recommendation.status_changed",
                who=who,
                target=rec,
                details={"from": before.value, "to": rec.status.value, "approval_id": str(a.id)},
            )
    await _notify(db, a, body.status)
    await db.flush()
    return to_out(a)


async def expire_pending(db: AsyncSession, org_id: uuid.UUID) -> int:
    """Mark the organization's pending requests past their expiry ``expired`` -> how many."""
    stale = (
        await db.scalars(
            org_select(Approval, org_scope(org_id))
            .where(Approval.status == ApprovalStatus.PENDING, Approval.expires_at <= clock.now())
            .with_for_update()
        )
    ).all()
    for a in stale:
        await _expire(db, a, None)
    return len(stale)
