"""``/network/summary``: network spend by category, per day and per resource."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from xplorr.auth.deps import CurrentUser
from xplorr.core.db import DbSession
from xplorr.network import service
from xplorr.network.schemas import NetworkSummaryOut

router = APIRouter(prefix="/network", tags=["network"])
ROUTE_ORDER = 77  # mounting order under /api/v1 (core.areas.routers)


@router.get("/summary", response_model=NetworkSummaryOut)
async def network_summary(
    db: DbSession,
    who: CurrentUser,
    account_id: Annotated[
        uuid.UUID | None, Query(description="Only this cloud account (404 if not visible).")
    ] = None,
    days: Annotated[int, Query(ge=1, le=366, description="The last N days (today included).")] = 30,
) -> NetworkSummaryOut:
    """Network spend of the last ``days`` days (default 30) by category (internet egress,
    inter-region, inter-AZ, NAT gateways, load balancers, VPN and Direct Connect, CDN, public
    IPv4, other), the daily series, the top resources, NAT gateways, load balancers and VPCs.
    The egress / inter-region / inter-AZ split relies on AWS usage types (``aws_only``)."""
    return await service.summary(db, who, account_id=account_id, days=days)
