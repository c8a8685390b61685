from typing import Annotated

from fastapi import APIRouter, Query

from xplorr.auth.deps import CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.pagination import Page, Pagination
from xplorr.notifications import service
from xplorr.notifications.models import DeliveryStatus
from xplorr.notifications.schemas import DeliveryOut

router = APIRouter(prefix="/notifications", tags=["notifications"])
ROUTE_ORDER = 138  # mounting order under /api/v1 (core.areas.routers)


@router.get("", response_model=Page[DeliveryOut])
async def list_notifications(
    db: DbSession,
    who: CurrentUser,
    page: Pagination,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status.")] = None,
) -> Page[DeliveryOut]:
    """Recent notification deliveries, newest first: your own emails; owners and admins see
    every delivery of the organization (emails, Slack and Teams posts) with its status,
    attempts and the reason of a failure."""
    return await service.list_deliveries(db, who, page, status)
