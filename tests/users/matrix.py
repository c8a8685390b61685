"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.users import make_user
from tests.matrix import ADMINS, ANY, Access, Case, row_of
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount, Provider
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.users.models import User

ACCESS: dict[tuple[str, str], Access] = {
    # Users: members and viewers see and edit only themselves (others are 404, not 403).
    ("GET", "/api/v1/users"): ANY,
    ("GET", "/api/v1/users/{user_id}"): ANY,
    ("PATCH", "/api/v1/users/{user_id}"): ANY,
    ("DELETE", "/api/v1/users/{user_id}"): ADMINS,
    ("GET", "/api/v1/users/available-accounts"): ADMINS,
    ("GET", "/api/v1/users/invitations/list"): ADMINS,
    ("GET", "/api/v1/users/{user_id}/accounts"): ADMINS,
    ("POST", "/api/v1/users/{user_id}/accounts"): ADMINS,
    ("DELETE", "/api/v1/users/{user_id}/accounts/{account_id}"): ADMINS,
    ("GET", "/api/v1/users/notification-preferences"): ANY,
    ("PATCH", "/api/v1/users/notification-preferences"): ANY,
}


async def _granted_member(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    """A member of org A with a grant; the route gets the member's id for every path id (the
    account id included), so org B reaches neither the user nor the grant."""
    member = await make_user(db, org, role=Role.MEMBER)
    account = CloudAccount(
        org_id=org.id,
        provider=Provider.AWS,
        name="org A account",
        provider_account_id=f"a-{uuid.uuid4().hex[:8]}",
        credentials_encrypted=b"x",
    )
    db.add(account)
    await db.flush()
    db.add(AccountGrant(org_id=org.id, user_id=member.id, cloud_account_id=account.id))
    await db.commit()
    return member.id


async def _user_with_grants(db: AsyncSession, ident: uuid.UUID) -> dict[str, Any]:
    row = await row_of(User, db, ident)
    grants = (await db.scalars(select(AccountGrant.id).where(AccountGrant.user_id == ident))).all()
    return {**row, "grants": sorted(grants)}


TENANCY = {
    "/api/v1/users/{user_id}": User,
    "/api/v1/users/{user_id}/accounts": Case(_granted_member, _user_with_grants),
    "/api/v1/users/{user_id}/accounts/{account_id}": Case(_granted_member, _user_with_grants),
}
