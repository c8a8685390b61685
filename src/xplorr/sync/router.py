import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.pagination import Page, Pagination
from xplorr.core.ratelimit import limit
from xplorr.sync import service
from xplorr.sync.schemas import SyncRunList, SyncRunOut, SyncStatusList

router = APIRouter(prefix="/sync", tags=["sync"])
ROUTE_ORDER = 80  # mounting order under /api/v1 (core.areas.routers)


@router.post("/all", status_code=202, response_model=SyncRunList, openapi_extra=limit("10/hour"))
async def sync_all(db: DbSession, who: AdminUser) -> SyncRunList:
    """Queue a sync of every cloud account you can see (owners and admins). An account whose
    sync is already queued keeps that run; the answer lists one run per account."""
    return SyncRunList(data=await service.sync_all(db, who))


@router.get("/status", response_model=SyncStatusList)
async def sync_status(db: DbSession, who: CurrentUser) -> SyncStatusList:
    """Every cloud account you can see, with its newest sync run: ``state`` (``queued``,
    ``running``, ``succeeded``, ``failed``; null when never synced), ``startedAt``,
    ``finishedAt``, ``rows``, ``error``, and ``dataThrough``, the last complete day of the
    account's stored data."""
    return SyncStatusList(data=await service.status(db, who))


@router.get("/jobs", response_model=Page[SyncRunOut])
async def list_sync_jobs(
    db: DbSession,
    who: CurrentUser,
    page: Pagination,
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Only this cloud account's runs (its history)."),
    ] = None,
) -> Page[SyncRunOut]:
    """Sync runs of the cloud accounts you can see, newest first (``limit`` + ``offset`` or
    ``page``); ``accountId`` keeps one account's runs (none when it is not one you can see)."""
    return await service.list_runs(db, who, page, account_id=account_id)


@router.post(
    "/{account_id}", status_code=202, response_model=SyncRunOut, openapi_extra=limit("10/hour")
)
async def sync_account(account_id: uuid.UUID, db: DbSession, who: AdminUser) -> SyncRunOut:
    """Queue a sync of one cloud account (owners and admins). If one is already queued, that
    run is returned instead of a new one."""
    return await service.sync_one(db, who, account_id)
