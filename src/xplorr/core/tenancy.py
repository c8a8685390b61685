"""Who is calling, and the only two ways a service reads tenant rows.

``org_select`` starts every tenant read; ``get_in_org`` fetches one row of the caller's org or
raises ``<RESOURCE>_NOT_FOUND``. Never 403 for a foreign id: existence must not leak
(ARCHITECTURE.md "Tenancy and access"; CONVENTIONS.md 4.4).

Both take a ``Scope``: the org and the cloud accounts visible. A request's ``Principal`` is one.
Work without a request gets one of two: ``org_scope(org_id)`` for a system job that reads the
whole organization (a fan-out, an anomaly scan), and ``users.principals.principal_for_user(db,
user_id)`` for work done on a user's behalf (a scheduled report): that user's role and account
grants as they are now, not as they were when the work was set up, and None once the user is
gone or deactivated.
"""

import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.errors import Forbidden, NotFound
from xplorr.core.models import OrgOwned


class Role(StrEnum):
    """product-notes.md section 22; ``owner`` is the docs' ``super_admin`` (one per org)."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def is_admin(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)


class Scope(Protocol):
    """What a tenant read is limited to: one org, and within it ``account_ids`` (None: every
    cloud account of the org)."""

    @property
    def org_id(self) -> uuid.UUID: ...

    @property
    def account_ids(self) -> frozenset[uuid.UUID] | None: ...


@dataclass(frozen=True, slots=True)
class OrgScope:
    """A system job's view of one organization: every cloud account, no user behind it (so
    nothing that needs a user, such as an audit actor, can be taken from it)."""

    org_id: uuid.UUID
    account_ids: frozenset[uuid.UUID] | None = None


def org_scope(org_id: uuid.UUID) -> OrgScope:
    """The whole organization, for system jobs (trust the job row's ``ctx.org_id``)."""
    return OrgScope(org_id)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    email: str
    account_ids: frozenset[uuid.UUID] | None = None  # None = every cloud account of the org
    session_id: uuid.UUID | None = None  # the login (refresh family) behind a JWT
    token_id: uuid.UUID | None = None  # set when called with an xplorr_ API token
    # A read-only API token (or the JWT exchanged from one): every write answers
    # READ_ONLY_TOKEN (auth.deps), whatever the user's role.
    read_only: bool = False
    # The org requires 2FA and this user has none yet: every endpoint but the setup ones
    # answers 2FA_SETUP_REQUIRED (auth.deps).
    two_factor_setup_required: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role.is_admin


def narrow_to_accounts(who: Principal, account_ids: frozenset[uuid.UUID]) -> Principal:
    """The principal limited further to ``account_ids`` (an account-scoped API token): the
    intersection with what the user already sees, never more."""
    visible = account_ids if who.account_ids is None else who.account_ids & account_ids
    return replace(who, account_ids=visible)


def require_session(who: Principal, message: str) -> None:
    """403 ``SESSION_REQUIRED`` for a caller using an API token (or the JWT exchanged from one):
    for what a leaked token must not be able to do, such as outlive itself."""
    if who.token_id is not None:
        raise Forbidden(message, code="SESSION_REQUIRED")


M = TypeVar("M", bound=OrgOwned)


def org_select(model: type[M], who: Scope) -> Select[M]:
    """Every tenant read starts here: the caller's org and, for a member or viewer limited to
    some cloud accounts (``who.account_ids``), only those accounts: the ``CloudAccount`` rows
    themselves and every row with a ``cloud_account_id`` (a NULL one, org-wide, is left out)."""
    stmt = select(model).where(model.org_id == who.org_id)
    if who.account_ids is not None:
        column = getattr(model, model.tenancy_account_column, None)
        if column is not None:
            stmt = stmt.where(column.in_(who.account_ids))
    return stmt


async def get_in_org(
    db: AsyncSession, model: type[M], ident: uuid.UUID, who: Scope, *, for_update: bool = False
) -> M:
    """One row of the caller's org, or NotFound. Never Forbidden: existence must not leak."""
    stmt = org_select(model, who).where(model.id == ident)
    if for_update:
        stmt = stmt.with_for_update()
    row = await db.scalar(stmt)
    if row is None:
        raise NotFound.of(model.__name__, ident)
    return row
