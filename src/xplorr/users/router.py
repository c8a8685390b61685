"""Team management: the organization's users, their roles, deactivation, per-account access
grants, and each user's own notification preferences.

Static paths are declared before ``/users/{user_id}`` so they are never read as an id."""

import uuid
from typing import Any

from fastapi import APIRouter, Response

from xplorr.auth import lifecycle_service as lifecycle
from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.auth.schemas import InvitationOut, UserOut
from xplorr.core.db import DbSession
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.pagination import Page, Pagination
from xplorr.users import service
from xplorr.users.schemas import (
    AvailableAccountsOut,
    GrantIn,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    UserAccountsOut,
    UserUpdate,
)

router = APIRouter(prefix="/users", tags=["users"])
ROUTE_ORDER = 90  # mounting order under /api/v1 (core.areas.routers)


@router.get("", response_model=Page[UserOut])
async def list_users(db: DbSession, who: CurrentUser, page: Pagination) -> Page[UserOut]:
    """Users of the organization: owners and admins see everyone, members and viewers only
    themselves."""
    return await service.list_users(db, who, page)


@router.get("/available-accounts", response_model=AvailableAccountsOut)
async def list_available_accounts(db: DbSession, who: AdminUser) -> AvailableAccountsOut:
    """The organization's cloud accounts, for the invite and access dialogs (admin)."""
    return await service.available_accounts(db, who)


@router.get("/invitations/list", response_model=Page[InvitationOut])
async def list_invitations(db: DbSession, who: AdminUser, page: Pagination) -> Page[InvitationOut]:
    """Pending invitations (not accepted, revoked or expired), newest first (admin)."""
    return await lifecycle.list_invitations(db, who, page)


@router.get("/notification-preferences", response_model=NotificationPreferences)
async def get_notification_preferences(db: DbSession, who: CurrentUser) -> NotificationPreferences:
    """The caller's email notification switches; unset ones follow the documented defaults
    (everything on except ``sync_complete``)."""
    return await service.notification_preferences(db, who)


@router.patch("/notification-preferences", response_model=NotificationPreferences)
async def update_notification_preferences(
    body: NotificationPreferencesUpdate, db: DbSession, who: CurrentUser
) -> NotificationPreferences:
    """Change some of the caller's notification switches; the others stay as they are."""
    return await service.update_notification_preferences(db, who, body)


@router.get("/{user_id:uuid}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, db: DbSession, who: CurrentUser) -> UserOut:
    """One user. Members and viewers can read only themselves (others answer 404)."""
    return UserOut.model_validate(await service.get_visible_user(db, who, user_id))


_LAST_OWNER: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorEnvelope, "description": "LAST_OWNER"}
}


@router.patch("/{user_id:uuid}", response_model=UserOut, responses=_LAST_OWNER)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, db: DbSession, who: CurrentUser
) -> UserOut:
    """Change a name (your own; owners and admins anyone's) or a role (owners and admins).

    Only ``name`` and ``role`` are accepted; the last owner cannot be demoted (409 LAST_OWNER)
    and only the owner grants or removes the owner role.
    """
    return UserOut.model_validate(await service.update_user(db, who, user_id, body))


@router.delete("/{user_id:uuid}", status_code=204, responses=_LAST_OWNER)
async def deactivate_user(user_id: uuid.UUID, db: DbSession, who: AdminUser) -> Response:
    """Deactivate a user (admin): their logins and API tokens stop working at once. The last
    owner cannot be removed."""
    await service.deactivate_user(db, who, user_id)
    return Response(status_code=204)


@router.get("/{user_id:uuid}/accounts", response_model=UserAccountsOut)
async def list_user_accounts(user_id: uuid.UUID, db: DbSession, who: AdminUser) -> UserAccountsOut:
    """The cloud accounts a user is limited to; ``all_accounts`` when there is no grant (admin)."""
    return await service.user_accounts(db, who, user_id)


@router.post("/{user_id:uuid}/accounts", response_model=UserAccountsOut)
async def grant_user_accounts(
    user_id: uuid.UUID, body: GrantIn, db: DbSession, who: AdminUser
) -> UserAccountsOut:
    """Grant access to cloud accounts (admin). A user with grants sees only those accounts."""
    return await service.grant_accounts(db, who, user_id, body)


@router.delete("/{user_id:uuid}/accounts/{account_id:uuid}", status_code=204)
async def revoke_user_account(
    user_id: uuid.UUID, account_id: uuid.UUID, db: DbSession, who: AdminUser
) -> Response:
    """Revoke access to one cloud account (admin). Without any grant left, the user sees every
    account again."""
    await service.revoke_account(db, who, user_id, account_id)
    return Response(status_code=204)
