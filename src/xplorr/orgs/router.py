"""The caller's organization: read, rename, statistics, the 2FA requirement, closing it."""

from typing import Annotated

from fastapi import APIRouter, Header

from xplorr.auth.deps import AdminUser, CurrentUser, OwnerUser
from xplorr.core.db import DbSession
from xplorr.core.deps import Kit
from xplorr.core.errors import ErrorEnvelope
from xplorr.orgs import service
from xplorr.orgs.schemas import CloseOrgIn, CloseOrgOut, OrgOut, OrgStats, OrgUpdate, Require2faIn

router = APIRouter(prefix="/organizations", tags=["organizations"])
ROUTE_ORDER = 100  # mounting order under /api/v1 (core.areas.routers)


@router.get("/current", response_model=OrgOut)
async def get_current_organization(db: DbSession, who: CurrentUser) -> OrgOut:
    """The caller's organization."""
    return OrgOut.model_validate(await service.current(db, who))


@router.patch("/current", response_model=OrgOut)
async def update_current_organization(body: OrgUpdate, db: DbSession, who: AdminUser) -> OrgOut:
    """Rename the organization (admin). Its slug stays."""
    return OrgOut.model_validate(await service.rename(db, who, body))


@router.get("/stats", response_model=OrgStats)
async def get_organization_stats(db: DbSession, who: AdminUser) -> OrgStats:
    """Users, pending invitations, cloud accounts, the last sync and month-to-date spend
    (billed, per currency; admin)."""
    return await service.stats(db, who)


@router.patch(
    "/require-2fa",
    response_model=OrgOut,
    responses={400: {"model": ErrorEnvelope, "description": "2FA_NOT_ENABLED"}},
)
async def require_2fa(body: Require2faIn, db: DbSession, who: AdminUser) -> OrgOut:
    """Require two-factor authentication for every member (admin). While it is on, a user
    without an authenticator app or passkey gets 403 ``2FA_SETUP_REQUIRED`` from every endpoint
    except ``GET /auth/me`` and the ones that set a factor up. The caller must have a second
    factor to turn it on (400 ``2FA_NOT_ENABLED``)."""
    return OrgOut.model_validate(await service.set_require_2fa(db, who, body.required))


@router.delete("/close", status_code=202, response_model=CloseOrgOut)
async def close_organization(
    body: CloseOrgIn,
    db: DbSession,
    kit: Kit,
    who: OwnerUser,
    x_confirm_close: Annotated[str | None, Header(max_length=64)] = None,
) -> CloseOrgOut:
    """Close the organization and delete all its data (owner only).

    Requires the header ``x-confirm-close: DELETE_MY_ORGANIZATION`` and the owner's current
    ``password``. Every login and API token of the organization stops working at once; the data
    is deleted by a background job shortly after. This cannot be undone.
    """
    await service.close(db, kit, who, x_confirm_close, body.password)
    return CloseOrgOut(
        status="scheduled", message="The organization is closed; its data is being deleted."
    )
