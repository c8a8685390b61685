"""Users of an organization."""

import uuid

from argon2 import PasswordHasher
from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth.models import Invitation
from xplorr.auth.schemas import UserOut
from xplorr.auth.sessions import revoke_sessions
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount
from xplorr.core import audit, clock, security
from xplorr.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, Role, get_in_org, org_select
from xplorr.orgs.models import Org
from xplorr.tokens.models import ApiToken
from xplorr.users.models import NotificationPreference, User, UserStatus
from xplorr.users.schemas import (
    AccountBrief,
    AvailableAccountsOut,
    GrantIn,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    UserAccountsOut,
    UserUpdate,
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_new_password(password: str, email: str, field: str = "password") -> None:
    if problem := security.password_problem(password, email):
        raise ValidationFailed.on(field, problem, summary=problem)


async def find_by_email(db: AsyncSession, email: str) -> User | None:
    """Login's lookup: emails are unique across orgs (one user belongs to one org)."""
    return await db.scalar(select(User).where(User.email == normalise_email(email)))


async def create_user(
    db: AsyncSession,
    hasher: PasswordHasher,
    org: Org,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
) -> User:
    """Validate the password policy and add a user; 409 EMAIL_TAKEN if the email exists."""
    email = normalise_email(email)
    check_new_password(password, email)
    user = User(
        org_id=org.id,
        email=email,
        name=name.strip(),
        password_hash=hasher.hash(password),
        role=role,
    )
    try:
        async with db.begin_nested():  # savepoint: a taken email must not poison the request
            db.add(user)
    except IntegrityError as exc:
        raise Conflict("An account with this email already exists.", code="EMAIL_TAKEN") from exc
    return user


async def provision_sso_user(
    db: AsyncSession, org: Org, *, email: str, name: str, role: Role
) -> User:
    """Just-in-time account for a first SAML login: no password (it can only log in through the
    IdP, or after a password reset), email verified (the org's IdP vouched for it in a domain
    the org claimed). Never an owner."""
    if role == Role.OWNER:
        raise ValueError("an SSO login never provisions an owner")
    user = User(
        org_id=org.id,
        email=normalise_email(email),
        name=name.strip()[:200] or normalise_email(email),
        password_hash=None,
        role=role,
        email_verified_at=clock.now(),
    )
    try:
        async with db.begin_nested():
            db.add(user)
    except IntegrityError as exc:
        raise Conflict("An account with this email already exists.", code="EMAIL_TAKEN") from exc
    return user


# --- team management (admin) and self-service -----------------------------------------------


async def list_users(db: AsyncSession, who: Principal, page: PageParams) -> Page[UserOut]:
    """One page of ``_visible_users``, in their order."""
    return await paginate(db, _visible_users(who), page, UserOut.model_validate)


def _visible_users(who: Principal) -> Select[User]:
    """Owners and admins see the whole organization; members and viewers only themselves."""
    stmt = org_select(User, who)
    if not who.is_admin:
        stmt = stmt.where(User.id == who.user_id)
    return stmt.order_by(User.created_at, User.id)


async def get_visible_user(
    db: AsyncSession, who: Principal, user_id: uuid.UUID, *, for_update: bool = False
) -> User:
    if not who.is_admin and user_id != who.user_id:
        raise NotFound.of("User", user_id)  # another member is invisible, not forbidden
    return await get_in_org(db, User, user_id, who, for_update=for_update)


async def _lock_owners(db: AsyncSession, who: Principal) -> int:
    """Lock the org's active owners (in id order, so two requests never deadlock) and count
    them. Taken before the target row: two owners demoting each other at once run one after
    the other, and the second sees it would leave none (LAST_OWNER)."""
    stmt = (
        org_select(User, who)
        .where(User.role == Role.OWNER, User.status == UserStatus.ACTIVE)
        .with_only_columns(User.id)
        .order_by(User.id)
        .with_for_update()
    )
    return len((await db.scalars(stmt)).all())


async def _revoke_invitations_of(
    db: AsyncSession, inviter: User, *, roles: set[Role] | None = None
) -> None:
    """Pending invitations sent by ``inviter`` stop working when they lose the right to send
    them (deactivated, or no longer admin; owner invitations when no longer owner)."""
    stmt = update(Invitation).where(
        Invitation.org_id == inviter.org_id,
        Invitation.invited_by_user_id == inviter.id,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
    )
    if roles is not None:
        stmt = stmt.where(Invitation.role.in_([r.value for r in roles]))
    await db.execute(stmt.values(revoked_at=clock.now()))


async def update_user(
    db: AsyncSession, who: Principal, user_id: uuid.UUID, data: UserUpdate
) -> User:
    """Name: the user themselves or an owner/admin. Role: owner/admin only; an admin neither
    grants nor takes away ``owner``; the last active owner keeps the role."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    owners = await _lock_owners(db, who) if "role" in changes else 0
    user = await get_visible_user(db, who, user_id, for_update=True)
    if "role" in changes and changes["role"] != user.role:
        new_role: Role = changes["role"]
        if not who.is_admin:
            raise Forbidden("Only an owner or admin can change roles.")
        if who.role != Role.OWNER and Role.OWNER in (new_role, user.role):
            raise Forbidden("Only the owner can grant or take away the owner role.")
        if user.role == Role.OWNER and owners <= 1:
            raise Conflict("The organization's last owner cannot be demoted.", code="LAST_OWNER")
        old = user.role
        user.role = new_role
        if new_role not in (Role.OWNER, Role.ADMIN):
            await _revoke_invitations_of(db, user)
        elif old == Role.OWNER:
            await _revoke_invitations_of(db, user, roles={Role.OWNER})
        await audit.record(
            db,
            "user.role_changed",
            who=who,
            target=user,
            details={"from": old.value, "to": new_role.value},
        )
    if "name" in changes and changes["name"] != user.name:  # stripped by the Name type
        user.name = changes["name"]
        await audit.record(
            db,
            "user.updated",
            who=who,
            target=user,
            details={"fields": ["name"]},
        )
    await db.flush()
    return user


async def deactivate_user(db: AsyncSession, who: Principal, user_id: uuid.UUID) -> None:
    """Deactivate: every login and API token of the user stops working at once. An admin
    cannot deactivate an owner; the last active owner cannot be removed. Repeating is a no-op."""
    owners = await _lock_owners(db, who)
    user = await get_in_org(db, User, user_id, who, for_update=True)
    if user.role == Role.OWNER:
        if who.role != Role.OWNER:
            raise Forbidden("Only the owner can deactivate an owner.")
        if user.is_active and owners <= 1:
            raise Conflict("The organization's last owner cannot be removed.", code="LAST_OWNER")
    if not user.is_active:
        return
    user.status = UserStatus.DEACTIVATED
    await _revoke_invitations_of(db, user)
    await revoke_sessions(db, user.id, reason="deactivated")
    await db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    await audit.record(
        db,
        "user.deactivated",
        who=who,
        target=user,
    )


def _brief(account: CloudAccount) -> AccountBrief:
    return AccountBrief.model_validate(account)


async def available_accounts(db: AsyncSession, who: Principal) -> AvailableAccountsOut:
    rows = await db.scalars(org_select(CloudAccount, who).order_by(CloudAccount.name))
    return AvailableAccountsOut(data=[_brief(a) for a in rows.all()])


async def user_accounts(db: AsyncSession, who: Principal, user_id: uuid.UUID) -> UserAccountsOut:
    user = await get_in_org(db, User, user_id, who)
    rows = await db.scalars(
        org_select(CloudAccount, who)
        .join(AccountGrant, AccountGrant.cloud_account_id == CloudAccount.id)
        .where(AccountGrant.user_id == user.id)
        .order_by(CloudAccount.name)
    )
    accounts = [_brief(a) for a in rows.all()]
    return UserAccountsOut(
        user_id=user.id, all_accounts=not user.account_access_restricted, accounts=accounts
    )


async def grant_accounts(
    db: AsyncSession, who: Principal, user_id: uuid.UUID, data: GrantIn
) -> UserAccountsOut:
    """Limit the user to these accounts (added to their existing grants; idempotent)."""
    user = await get_in_org(db, User, user_id, who, for_update=True)
    if not data.account_ids:
        raise ValidationFailed.on(
            "account_ids", "At least one account id.", summary="Name at least one cloud account."
        )
    existing = set(
        (
            await db.scalars(
                org_select(AccountGrant, who)
                .where(AccountGrant.user_id == user.id)
                .with_only_columns(AccountGrant.cloud_account_id)
            )
        ).all()
    )
    for account_id in dict.fromkeys(data.account_ids):
        account = await get_in_org(db, CloudAccount, account_id, who)
        if account.id in existing:
            continue
        db.add(AccountGrant(org_id=who.org_id, user_id=user.id, cloud_account_id=account.id))
        user.account_access_restricted = True
        await audit.record(
            db,
            "user.access_granted",
            who=who,
            target=user,
            details={"cloud_account_id": str(account.id), "cloud_account_name": account.name},
        )
    await db.flush()
    return await user_accounts(db, who, user.id)


async def revoke_account(
    db: AsyncSession, who: Principal, user_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    user = await get_in_org(db, User, user_id, who, for_update=True)
    grant = await db.scalar(
        org_select(AccountGrant, who).where(
            AccountGrant.user_id == user.id, AccountGrant.cloud_account_id == account_id
        )
    )
    if grant is None:
        raise NotFound.of("AccountGrant", account_id)
    await db.delete(grant)
    await db.flush()
    left = await db.scalar(
        org_select(AccountGrant, who)
        .where(AccountGrant.user_id == user.id)
        .with_only_columns(func.count())
    )
    if not left:  # an admin took the last grant away: back to every account, as documented
        user.account_access_restricted = False
    await audit.record(
        db,
        "user.access_revoked",
        who=who,
        target=user,
        details={"cloud_account_id": str(account_id)},
    )


async def notification_preferences(db: AsyncSession, who: Principal) -> NotificationPreferences:
    row = await db.scalar(
        org_select(NotificationPreference, who).where(NotificationPreference.user_id == who.user_id)
    )
    stored = {k: v for k, v in (row.settings if row else {}).items() if k in _PREF_KEYS}
    return NotificationPreferences(**stored)


async def update_notification_preferences(
    db: AsyncSession, who: Principal, data: NotificationPreferencesUpdate
) -> NotificationPreferences:
    row = await db.scalar(
        org_select(NotificationPreference, who)
        .where(NotificationPreference.user_id == who.user_id)
        .with_for_update()
    )
    if row is None:
        row = NotificationPreference(org_id=who.org_id, user_id=who.user_id, settings={})
        db.add(row)
    row.settings = {**row.settings, **data.model_dump(exclude_unset=True, exclude_none=True)}
    await db.flush()
    return await notification_preferences(db, who)


_PREF_KEYS = frozenset(NotificationPreferences.model_fields)
