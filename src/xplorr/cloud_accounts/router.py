import uuid
from typing import Any

from fastapi import APIRouter, Response

from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.cloud_accounts import service
from xplorr.cloud_accounts.schemas import (
    CloudAccountCreate,
    CloudAccountOut,
    CloudAccountUpdate,
    ConnectionTestIn,
    ConnectionTestOut,
    ServerAwsConfigOut,
)
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.pagination import Page, Pagination
from xplorr.core.ratelimit import limit

router = APIRouter(prefix="/cloud-accounts", tags=["cloud-accounts"])
ROUTE_ORDER = 60  # mounting order under /api/v1 (core.areas.routers)
# Each test assumes a role and makes ~8 AWS calls: as rare as connecting (the reference's 20/hour).
TEST_LIMIT = "20/hour"

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "This provider account is already connected (CLOUD_ACCOUNT_EXISTS).",
    }
}


@router.get("", response_model=Page[CloudAccountOut])
async def list_cloud_accounts(
    db: DbSession, who: CurrentUser, settings: AppSettings, page: Pagination
) -> Page[CloudAccountOut]:
    """List the organization's connected cloud accounts (members and viewers limited to some
    accounts see only those). Credentials are masked."""
    return await service.list_accounts(db, settings, who, page)


@router.post(
    "",
    status_code=201,
    response_model=CloudAccountOut,
    responses=_CONFLICT,
)
async def connect_cloud_account(
    body: CloudAccountCreate, db: DbSession, who: AdminUser, settings: AppSettings
) -> CloudAccountOut:
    """Connect a cloud account (owner or admin). The credentials are validated against the
    provider's shape, encrypted at rest, and never shown again in clear."""
    return await service.create_account(db, settings, who, body)


@router.post("/test", response_model=ConnectionTestOut, openapi_extra=limit(TEST_LIMIT))
async def test_cloud_account_connection(
    body: ConnectionTestIn, db: DbSession, who: AdminUser, settings: AppSettings
) -> ConnectionTestOut:
    """Test connection (owner or admin; the console's button, outside the reference): try AWS
    credentials without saving them. ``sts:GetCallerIdentity`` (after assuming the role), then
    one cheap call per permission group of the least-privilege policy, each answered ``ok``,
    ``denied`` or ``error`` with AWS's error code; never a secret. Refused credentials answer
    200 with ``ok: false`` and AWS's reason. The Cost Explorer check costs $0.01."""
    return await service.test_connection(db, settings, who, body)


@router.get("/server-aws-config", response_model=ServerAwsConfigOut)
async def get_server_aws_config(db: DbSession, who: CurrentUser) -> ServerAwsConfigOut:
    """Whether this server has AWS credentials of its own (environment, web identity, shared
    credentials or config file, container), and whether the organization saved base AWS keys
    (``org_base_keys``: IAM roles are then assumed from those). Never their values; no network
    call is made."""
    return await service.server_aws_config(db, who.org_id)


@router.get("/{account_id}", response_model=CloudAccountOut)
async def get_cloud_account(
    account_id: uuid.UUID, db: DbSession, who: CurrentUser, settings: AppSettings
) -> CloudAccountOut:
    """One cloud account, credentials masked."""
    return await service.get_account(db, settings, who, account_id)


@router.patch("/{account_id}", response_model=CloudAccountOut)
async def update_cloud_account(
    account_id: uuid.UUID,
    body: CloudAccountUpdate,
    db: DbSession,
    who: AdminUser,
    settings: AppSettings,
) -> CloudAccountOut:
    """Rename a cloud account and/or replace its credentials (owner or admin); new credentials
    are the provider's whole shape, validated as on connect."""
    return await service.update_account(db, settings, who, account_id, body)


@router.delete("/{account_id}", status_code=204)
async def disconnect_cloud_account(
    account_id: uuid.UUID, db: DbSession, who: AdminUser
) -> Response:
    """Disconnect a cloud account (owner or admin): its stored cost history is deleted with it."""
    await service.delete_account(db, who, account_id)
    return Response(status_code=204)
