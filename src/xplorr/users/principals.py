"""A user's ``Principal`` as it is now, for work done on their behalf outside a request."""

import uuid
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import AccountGrant
from xplorr.core.tenancy import Principal
from xplorr.users.models import User, UserStatus


async def principal_for_user(
    db: AsyncSession, user_id: uuid.UUID, *, org_id: uuid.UUID | None = None
) -> Principal | None:
    """The user as a request of theirs would see things now: current role and account grants
    (``with_account_grants``). None when the user no longer exists, is deactivated, or (when
    ``org_id`` is given) belongs to another org: work on their behalf must stop then."""
    user = await db.scalar(select(User).where(User.id == user_id))
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    if org_id is not None and user.org_id != org_id:
        return None
    who = Principal(user_id=user.id, org_id=user.org_id, role=user.role, email=user.email)
    return await with_account_grants(db, user, who)


async def with_account_grants(db: AsyncSession, user: User, who: Principal) -> Principal:
    """A member or viewer limited to specific accounts sees only the granted ones
    (``account_ids``, possibly none left once a granted account was disconnected: fail closed).
    Everyone else sees every account, and pays no extra query for it."""
    if who.is_admin or not user.account_access_restricted:
        return who
    granted = await db.scalars(
        select(AccountGrant.cloud_account_id).where(
            AccountGrant.user_id == who.user_id, AccountGrant.org_id == who.org_id
        )
    )
    return replace(who, account_ids=frozenset(granted.all()))
