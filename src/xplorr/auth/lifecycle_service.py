"""Email verification, password reset and invitations: the account flows that travel by email.

Every emailed token is 256 bits from the CSPRNG; only its SHA-256 is stored; it works once (one
conditional ``UPDATE ... WHERE used_at IS NULL``) and expires (verification 48 h, reset 1 h,
invitation 7 days). ``resend-verification`` and ``forgot-password`` answer the same, after the
same work, whether or not the address exists: the request only enqueues a job, and the job
decides whether there is anyone to email (ASVS 6.3.8, OWASP Forgot Password cheat sheet).
"""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth.models import Invitation, OneTimeToken, TokenPurpose
from xplorr.auth.schemas import (
    AcceptInvitationIn,
    InvitationOut,
    InvitationStatusOut,
    InviteIn,
    InviteOut,
    TokenPair,
)
from xplorr.auth.sessions import revoke_sessions, start_session
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount
from xplorr.core import audit, clock, context, email, security
from xplorr.core.deps import AuthKit
from xplorr.core.errors import BadRequest, Conflict, Forbidden, NotFound
from xplorr.core.jobs import queue
from xplorr.core.jobs.registry import JobContext
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Role, get_in_org, org_select
from xplorr.notifications import notify
from xplorr.notifications.events import Welcome
from xplorr.orgs.models import Org
from xplorr.users import service as users
from xplorr.users.models import User

VERIFY_TTL = timedelta(hours=48)
RESET_TTL = timedelta(hours=1)
INVITE_TTL = timedelta(days=7)
INVALID_TOKEN = "This link is invalid or has expired."  # noqa: S105 (a message)
SENT_VERIFICATION = (
    "If an unverified account exists for this address, a verification email is on its way."
)
SENT_RESET = "If an account exists for this address, a password reset email is on its way."


def _bad_token() -> BadRequest:
    return BadRequest(INVALID_TOKEN, code="INVALID_OR_EXPIRED_TOKEN")


def _request_ip() -> str | None:
    ctx = context.get()
    return ctx.ip if ctx else None


# --- email verification ------------------------------------------------------------------------


async def send_verification(db: AsyncSession, settings: Settings, user: User) -> None:
    """A fresh verification token for ``user`` and its email, in the caller's transaction."""
    raw = await _new_token(db, user, TokenPurpose.VERIFY_EMAIL, VERIFY_TTL)
    await email.queue_email(
        db,
        to=user.email,
        template="verify_email",
        context={
            "name": user.name,
            "link": email.link(settings, f"/verify-email?token={raw}"),
            "expires_hours": int(VERIFY_TTL.total_seconds() // 3600),
        },
        org_id=user.org_id,
    )


async def _new_token(db: AsyncSession, user: User, purpose: TokenPurpose, ttl: timedelta) -> str:
    raw = security.new_opaque_token()
    db.add(
        OneTimeToken(
            org_id=user.org_id,
            user_id=user.id,
            purpose=purpose,
            token_sha256=security.sha256_hex(raw),
            expires_at=clock.now() + ttl,
        )
    )
    await db.flush()
    return raw


async def _use_token(db: AsyncSession, raw: str, purpose: TokenPurpose) -> User:
    """Spend a single-use token (one conditional UPDATE: two racing requests cannot both win)
    and return its active user, or raise INVALID_OR_EXPIRED_TOKEN."""
    now = clock.now()
    spent = await db.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.token_sha256 == security.sha256_hex(raw),
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(OneTimeToken.user_id)
    )
    user_id = spent.scalar()
    user = await db.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        raise _bad_token()
    return user


async def verify_email(db: AsyncSession, raw: str) -> None:
    user = await _use_token(db, raw, TokenPurpose.VERIFY_EMAIL)
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()
        await audit.record_user(
            db,
            "user.email_verified",
            user,
            target=user,
        )


async def request_verification(db: AsyncSession, address: str) -> None:
    """Same work for every address: the job finds out whether there is anyone to email."""
    await queue.enqueue(db, "auth.send_verification", {"email": users.normalise_email(address)})


async def send_verification_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    user = await users.find_by_email(ctx.db, payload["email"])
    if user is None or not user.is_active or user.email_verified:
        return
    await send_verification(ctx.db, ctx.settings, user)


# --- password reset ----------------------------------------------------------------------------


async def request_password_reset(db: AsyncSession, address: str) -> None:
    await queue.enqueue(
        db,
        "auth.send_password_reset",
        {"email": users.normalise_email(address), "ip": _request_ip()},
    )


async def send_password_reset_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    user = await users.find_by_email(ctx.db, payload["email"])
    if user is None or not user.is_active:
        return
    raw = await _new_token(ctx.db, user, TokenPurpose.RESET_PASSWORD, RESET_TTL)
    await email.queue_email(
        ctx.db,
        to=user.email,
        template="reset_password",
        context={
            "name": user.name,
            "link": email.link(ctx.settings, f"/reset-password?token={raw}"),
            "expires_minutes": int(RESET_TTL.total_seconds() // 60),
        },
        org_id=user.org_id,
    )
    entry = await audit.record_user(
        ctx.db,
        "user.password_reset_requested",
        user,
        target=user,
    )
    entry.ip = payload.get("ip")


async def expire_reset_tokens(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Every outstanding reset link of the user dies (called whenever the password changes)."""
    await db.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,
            OneTimeToken.purpose == TokenPurpose.RESET_PASSWORD,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=clock.now())
    )


async def reset_password(db: AsyncSession, kit: AuthKit, raw: str, new_password: str) -> None:
    """Set a new password with a reset token; every session of the user ends. A user with a
    second factor still has to pass it at the next login: no session is handed out here."""
    user = await _use_token(db, raw, TokenPurpose.RESET_PASSWORD)
    users.check_new_password(new_password, user.email, field="new_password")
    user.password_hash = kit.hasher.hash(new_password)
    await expire_reset_tokens(db, user.id)
    await revoke_sessions(db, user.id, reason="password_reset")
    await audit.record_user(
        db,
        "user.password_changed",
        user,
        resource_type="user",
        resource_id=user.id,
        details={"method": "reset"},
    )


# --- invitations -------------------------------------------------------------------------------


def invitation_status(inv: Invitation) -> str:
    if inv.accepted_at is not None:
        return "accepted"
    if inv.revoked_at is not None:
        return "revoked"
    if inv.expires_at <= clock.now():
        return "expired"
    return "pending"


def _invitation_data(inv: Invitation) -> dict[str, Any]:
    return {
        "id": inv.id,
        "email": inv.email,
        "role": Role(inv.role),
        "account_ids": [uuid.UUID(a) for a in inv.account_ids],
        "status": invitation_status(inv),
        "invited_by_user_id": inv.invited_by_user_id,
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
    }


def invitation_out(inv: Invitation) -> InvitationOut:
    return InvitationOut.model_validate(_invitation_data(inv))


def _pending(stmt: Any) -> Any:
    return stmt.where(
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > clock.now(),
    )


async def invite(db: AsyncSession, settings: Settings, who: Principal, data: InviteIn) -> InviteOut:
    """Invite an address with a role; an admin cannot invite an owner. Inviting an address that
    already has a pending invitation updates it and sends a fresh link (the old one dies)."""
    if data.role == Role.OWNER and who.role != Role.OWNER:
        raise Forbidden("Only the owner can invite another owner.")
    address = users.normalise_email(data.email)
    member = await db.scalar(org_select(User, who).where(func.lower(User.email) == address))
    if member is not None:
        raise Conflict("This person is already a member of the organization.", code="EMAIL_TAKEN")
    account_ids = sorted({str(a) for a in data.account_ids or []})
    for account_id in account_ids:
        await get_in_org(db, CloudAccount, uuid.UUID(account_id), who)
    raw = security.new_opaque_token()
    inv = await db.scalar(
        _pending(org_select(Invitation, who).where(Invitation.email == address)).with_for_update()
    )
    resent = inv is not None
    if inv is None:
        inv = Invitation(org_id=who.org_id, email=address)
        db.add(inv)
    inv.role = data.role.value
    inv.account_ids = account_ids
    inv.invited_by_user_id = who.user_id
    inv.token_sha256 = security.sha256_hex(raw)
    inv.expires_at = clock.now() + INVITE_TTL
    await db.flush()
    inviter = await get_in_org(db, User, who.user_id, who)
    org = await db.get_one(Org, who.org_id)
    await email.queue_email(
        db,
        to=address,
        template="invitation",
        context={
            "inviter_name": inviter.name,
            "org_name": org.name,
            "role": data.role.value,
            "link": email.link(settings, f"/accept-invitation?token={raw}"),
            "expires_days": INVITE_TTL.days,
        },
        org_id=who.org_id,
    )
    await audit.record(
        db,
        "user.invite_sent",
        who=who,
        target=inv,
        details={"role": data.role.value, "account_ids": account_ids, "resent": resent},
    )
    await db.refresh(inv)
    return InviteOut.model_validate({**_invitation_data(inv), "resent": resent})


async def _invitation_by_token(db: AsyncSession, raw: str) -> Invitation | None:
    return await db.scalar(
        select(Invitation).where(Invitation.token_sha256 == security.sha256_hex(raw))
    )


async def invitation_info(db: AsyncSession, raw: str) -> InvitationStatusOut:
    inv = await _invitation_by_token(db, raw)
    if inv is None:
        raise NotFound("Invitation not found.", code="INVITATION_NOT_FOUND")
    org = await db.get_one(Org, inv.org_id)
    inviter = await db.get(User, inv.invited_by_user_id) if inv.invited_by_user_id else None
    return InvitationStatusOut(
        status=invitation_status(inv),  # type: ignore[arg-type]
        inviter_name=inviter.name if inviter else None,
        organization_name=org.name,
        email=inv.email,
        role=Role(inv.role),
    )


async def accept_invitation(db: AsyncSession, kit: AuthKit, data: AcceptInvitationIn) -> TokenPair:
    """Create the invited user in the inviting org (with the invitation's account grants) and
    log them in. The address is verified: the token arrived in its mailbox."""
    now = clock.now()
    accepted = await db.execute(
        update(Invitation)
        .where(
            Invitation.token_sha256 == security.sha256_hex(data.token),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now)
        .returning(Invitation.id)
    )
    inv_id = accepted.scalar()
    if inv_id is None:
        raise _bad_token()
    inv = await db.get_one(Invitation, inv_id)
    org = await db.get_one(Org, inv.org_id)
    user = await users.create_user(
        db,
        kit.hasher,
        org,
        email=inv.email,
        name=data.name,
        password=data.password,
        role=Role(inv.role),
    )
    user.email_verified_at = now
    granted = []
    # An invitation limited to accounts stays limited even if they were all disconnected since.
    user.account_access_restricted = bool(inv.account_ids)
    for account_id in inv.account_ids:
        account = await db.scalar(
            select(CloudAccount.id).where(
                CloudAccount.id == uuid.UUID(account_id), CloudAccount.org_id == org.id
            )
        )
        if account is not None:  # an account disconnected since the invitation is skipped
            db.add(AccountGrant(org_id=org.id, user_id=user.id, cloud_account_id=account))
            granted.append(account_id)
    await audit.record_user(
        db,
        "user.joined",
        user,
        target=user,
        details={"role": inv.role, "invitation_id": str(inv.id), "account_ids": granted},
    )
    await db.flush()  # the user row exists before its welcome delivery points at it
    await notify(
        db, Welcome(org_id=org.id, user_id=user.id, user_name=user.name, org_name=org.name)
    )
    return (await start_session(db, kit, user)).pair


async def list_invitations(
    db: AsyncSession, who: Principal, page: PageParams
) -> Page[InvitationOut]:
    """Pending invitations (not accepted, revoked or expired), newest first."""
    stmt = _pending(org_select(Invitation, who)).order_by(Invitation.created_at.desc())
    return await paginate(db, stmt, page, invitation_out)


async def count_pending_invitations(db: AsyncSession, who: Principal) -> int:
    stmt = _pending(org_select(Invitation, who).with_only_columns(func.count(Invitation.id)))
    return int(await db.scalar(stmt) or 0)
