"""Who is calling, and the only two ways a service reads tenant rows.

``org_select`` starts every tenant read; ``get_in_org`` fetches one row of the caller's org or
raises ``<RESOURCE>_NOT_FOUND``. Never 403 for a foreign id: existence must not leak
(ARCHITECTURE.md "Tenancy and access"; CONVENTIONS.md 4.4).
"""

import uuid
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.errors import Forbidden, NotFound
from xplorr.core.models import OrgOwned
from xplorr.users.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    email: str
    account_ids: frozenset[uuid.UUID] | None = None  # None = every cloud account of the org
    session_id: uuid.UUID | None = None  # the login (refresh family) behind a JWT
    token_id: uuid.UUID | None = None  # set when called with an xplorr_ API token
    # The org requires 2FA and this user has none yet: every endpoint but the setup ones
    # answers 2FA_SETUP_REQUIRED (auth.deps).
    two_factor_setup_required: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role.is_admin


def require_session(who: Principal, message: str) -> None:
    """403 ``SESSION_REQUIRED`` for a caller using an API token (or the JWT exchanged from one):
    for what a leaked token must not be able to do, such as outlive itself."""
    if who.token_id is not None:
        raise Forbidden(message, code="SESSION_REQUIRED")


M = TypeVar("M", bound=OrgOwned)


def org_select(model: type[M], who: Principal) -> Select[M]:
    """Every tenant read starts here: the caller's org and, for a member or viewer limited to
    some cloud accounts (``who.account_ids``), only those accounts: the ``CloudAccount`` rows
    themselves and every row with a ``cloud_account_id`` (a NULL one, org-wide, is left out)."""
    stmt = select(model).where(model.org_id == who.org_id)
    if who.account_ids is not None:
        if issubclass(model, CloudAccount):
            stmt = stmt.where(model.id.in_(who.account_ids))
        elif (column := getattr(model, "cloud_account_id", None)) is not None:
            stmt = stmt.where(column.in_(who.account_ids))
    return stmt


async def get_in_org(
    db: AsyncSession, model: type[M], ident: uuid.UUID, who: Principal, *, for_update: bool = False
) -> M:
    """One row of the caller's org, or NotFound. Never Forbidden: existence must not leak."""
    stmt = org_select(model, who).where(model.id == ident)
    if for_update:
        stmt = stmt.with_for_update()
    row = await db.scalar(stmt)
    if row is None:
        raise NotFound.of(model.__name__, ident)
    return row
