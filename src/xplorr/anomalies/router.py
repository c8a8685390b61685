import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from xplorr.anomalies import service
from xplorr.anomalies.models import AnomalyStatus, Severity
from xplorr.anomalies.schemas import AnomalyFilters, AnomalyOut, AnomalyUpdate
from xplorr.auth.deps import CurrentUser, WriterUser
from xplorr.core.dates import IsoDay
from xplorr.core.db import DbSession
from xplorr.core.pagination import Page, Pagination

router = APIRouter(prefix="/anomalies", tags=["anomalies"])
ROUTE_ORDER = 73  # mounting order under /api/v1 (core.areas.routers)


def anomaly_filters(
    status: Annotated[
        AnomalyStatus | None, Query(description="open, acknowledged or resolved.")
    ] = None,
    severity: Annotated[
        Severity | None, Query(description="low, medium, high or critical.")
    ] = None,
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Only this cloud account (404 if not visible)."),
    ] = None,
    start_date: Annotated[
        IsoDay | None,
        Query(alias="startDate", description="Only anomalies of this day or later (YYYY-MM-DD)."),
    ] = None,
    end_date: Annotated[
        IsoDay | None,
        Query(alias="endDate", description="Only anomalies of this day or earlier (YYYY-MM-DD)."),
    ] = None,
) -> AnomalyFilters:
    return AnomalyFilters(
        status=status,
        severity=severity,
        account_id=account_id,
        start_date=start_date,
        end_date=end_date,
    )


@router.get("", response_model=Page[AnomalyOut])
async def list_anomalies(
    db: DbSession,
    who: CurrentUser,
    page: Pagination,
    filters: Annotated[AnomalyFilters, Depends(anomaly_filters)],
) -> Page[AnomalyOut]:
    """List cost anomalies: days whose cost was more than 50 % above the 7-day baseline, per
    service per account, per account and for the whole organization (per currency), newest
    day first, then most severe. Severity by percent above the baseline: low 50-100, medium
    100-200, high 200-500, critical 500+. A user limited to some cloud accounts sees only
    theirs (and not the organization-wide ones)."""
    return await service.list_anomalies(db, who, filters, page)


@router.get("/{anomaly_id}", response_model=AnomalyOut)
async def get_anomaly(anomaly_id: uuid.UUID, db: DbSession, who: CurrentUser) -> AnomalyOut:
    """One anomaly with its root cause (404 if it is another organization's or of an account
    the caller was not granted)."""
    return await service.get_anomaly(db, who, anomaly_id)


@router.patch("/{anomaly_id}", response_model=AnomalyOut)
async def update_anomaly(
    anomaly_id: uuid.UUID, body: AnomalyUpdate, db: DbSession, who: WriterUser
) -> AnomalyOut:
    """Acknowledge, resolve or reopen an anomaly (members and above; audited)."""
    return await service.update_anomaly(db, who, anomaly_id, body)
