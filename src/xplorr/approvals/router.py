import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from xplorr.approvals import service
from xplorr.approvals.models import ApprovalStatus
from xplorr.approvals.schemas import ApprovalCreate, ApprovalDecision, ApprovalFilters, ApprovalOut
from xplorr.auth.deps import AdminUser, CurrentUser, WriterUser
from xplorr.core.db import DbSession
from xplorr.core.pagination import Page, Pagination

router = APIRouter(prefix="/approvals", tags=["approvals"])
ROUTE_ORDER = 77  # mounting order under /api/v1 (core.areas.routers)


def approval_filters(
    status: Annotated[
        ApprovalStatus | None, Query(description="pending, approved, rejected or expired.")
    ] = None,
) -> ApprovalFilters:
    return ApprovalFilters(status=status)


@router.get("", response_model=Page[ApprovalOut])
async def list_approvals(
    db: DbSession,
    who: CurrentUser,
    page: Pagination,
    filters: Annotated[ApprovalFilters, Depends(approval_filters)],
) -> Page[ApprovalOut]:
    """List approval requests, newest first (a user limited to some cloud accounts sees those
    accounts' requests)."""
    return await service.list_approvals(db, who, filters, page)


@router.get("/{approval_id}", response_model=ApprovalOut)
async def get_approval(approval_id: uuid.UUID, db: DbSession, who: CurrentUser) -> ApprovalOut:
    """One approval request."""
    return await service.get_approval(db, who, approval_id)


@router.post("", status_code=201, response_model=ApprovalOut)
async def create_approval(body: ApprovalCreate, db: DbSession, who: WriterUser) -> ApprovalOut:
    """Request approval to apply an open recommendation (members and above; audited; the
    admins are notified). Requests expire after 14 days."""
    return await service.create_approval(db, who, body)


@router.patch("/{approval_id}", response_model=ApprovalOut)
async def decide_approval(
    approval_id: uuid.UUID, body: ApprovalDecision, db: DbSession, who: AdminUser
) -> ApprovalOut:
    """Approve or reject a pending request (admins): approving moves the recommendation to
    in_progress, rejecting leaves it open; the requester is notified. An admin cannot decide
    their own request while another admin exists (403 SELF_APPROVAL)."""
    return await service.decide(db, who, approval_id, body)
