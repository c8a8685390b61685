"""Signup, login, refresh-token rotation, logout, password change, and who a bearer token is.

Refresh tokens follow RFC 9700 4.14.2: each login starts a family (``AuthSession``); every refresh
uses up its token with one conditional UPDATE and issues the next; a used token that comes back
means it leaked, so the whole family is revoked and its access tokens stop working at once
(every request checks its family, ``resolve_principal``).
"""

import uuid
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth import lifecycle_service as lifecycle
from xplorr.auth import sessions
from xplorr.auth.models import AuthSession, RefreshToken
from xplorr.auth.schemas import (
    ChangePasswordIn,
    LoginIn,
    MeOut,
    OrgBrief,
    SignupIn,
    TokenPair,
    TwoFactorChallengeOut,
    UserOut,
)
from xplorr.core import audit, clock, security
from xplorr.core.deps import AuthKit
from xplorr.core.errors import BadRequest, Unauthorized, ValidationFailed
from xplorr.core.tenancy import Principal, Role, narrow_to_accounts
from xplorr.orgs import service as orgs
from xplorr.orgs.models import Org
from xplorr.sso import policy as sso_policy
from xplorr.tokens.models import ApiToken, TokenScope
from xplorr.twofa import factors
from xplorr.users import principals
from xplorr.users import service as users
from xplorr.users.models import User, UserStatus

INVALID_LOGIN = "Invalid email or password."
INVALID_REFRESH = "Invalid or expired refresh token."
_LAST_USED_GRANULARITY = timedelta(minutes=1)


async def signup(db: AsyncSession, kit: AuthKit, data: SignupIn) -> TokenPair:
    """Create an organization with its owner and log the owner in."""
    email = users.normalise_email(data.email)
    if not kit.settings.allow_free_email_domains and security.is_free_email_domain(email):
        raise ValidationFailed.on(
            "email",
            "Free email providers are not accepted (an operator can allow them with "
            "XPLORR_ALLOW_FREE_EMAIL_DOMAINS=true).",
            summary="Please sign up with your work email address.",
            code="BUSINESS_EMAIL_REQUIRED",
        )
    # A domain whose organization enforces SSO signs up through its IdP: a password account
    # made here would sidestep that rule and take the address from its real owner.
    sso = await sso_policy.sso_org_for(db, email)
    if sso is not None and sso[1].enforce:
        raise sso_policy.sso_required(sso[0])
    org = await orgs.create_org(db, data.organization_name)  # rolled back if the user is refused
    user = await users.create_user(
        db, kit.hasher, org, email=email, name=data.name, password=data.password, role=Role.OWNER
    )
    await audit.record_user(
        db,
        "user.signed_up",
        user,
        target=org,
    )
    await lifecycle.send_verification(db, kit.settings, user)
    return (await sessions.start_session(db, kit, user)).pair


async def login(db: AsyncSession, kit: AuthKit, data: LoginIn) -> TokenPair | TwoFactorChallengeOut:
    """Unknown email, wrong password and deactivated account answer the same 401, after the same
    argon2 work. Failures per account are throttled (``XPLORR_LOGIN_FAILURE_LIMIT``) on top of the
    per-IP route limit; a success resets the count.

    An email whose domain an organization enforces SSO for answers ``SSO_REQUIRED`` before the
    password is looked at (so the answer is no password oracle); the org's owner keeps password
    login as the break-glass account. With a second factor, the answer is a challenge."""
    email = users.normalise_email(data.email)
    await kit.limiter.check(kit.limiter.login_failures, "login-failures", email)
    user = await users.find_by_email(db, email)
    await _refuse_if_sso_enforced(db, kit, email, user, data.password)
    ok = security.verify_password(kit.hasher, user.password_hash if user else None, data.password)
    if not ok or user is None or not user.is_active:
        await kit.limiter.limiter.hit(kit.limiter.login_failures, "login-failures", email)
        await audit.record(
            db,
            "user.login_failed",
            org_id=user.org_id if user else None,
            actor_user_id=user.id if user else None,
            actor_email=email,
            details={"reason": "inactive" if ok and user else "bad_credentials"},
        )
        raise Unauthorized(INVALID_LOGIN, code="INVALID_CREDENTIALS", commit=True)
    await kit.limiter.clear(kit.limiter.login_failures, "login-failures", email)
    if user.password_hash and kit.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = kit.hasher.hash(data.password)
    methods = await factors.methods_for(db, user)
    if methods:
        token = await factors.issue_login_challenge(db, user, methods)
        return TwoFactorChallengeOut(
            challenge_token=token,
            methods=methods,
            expires_in=int(factors.CHALLENGE_TTL.total_seconds()),
        )
    return await complete_login(db, kit, user, method="password")


async def _refuse_if_sso_enforced(
    db: AsyncSession, kit: AuthKit, email: str, user: User | None, password: str
) -> None:
    org = await sso_policy.enforcing_org(db, email, user)
    if org is not None:
        security.verify_password(kit.hasher, None, password)  # the same work as a password check
        raise sso_policy.sso_required(org)


LOGIN_ACTIONS = {
    "password": "user.login",
    factors.TOTP: "user.login_2fa",
    factors.RECOVERY_CODE: "user.login_2fa",
    factors.WEBAUTHN: "user.login_webauthn",
    "saml": "sso_login",
}


async def complete_login(db: AsyncSession, kit: AuthKit, user: User, *, method: str) -> TokenPair:
    """Every way of logging in ends here: a new session, ``last_login_at`` and the audit row
    named after the method (product-notes: ``user.login``, ``user.login_2fa``,
    ``user.login_webauthn``, ``sso_login``)."""
    user.last_login_at = clock.now()
    issued = await sessions.start_session(db, kit, user)
    await audit.record_user(
        db,
        LOGIN_ACTIONS[method],
        user,
        target=issued.session,
        details={"method": method},
    )
    return issued.pair


async def refresh(db: AsyncSession, kit: AuthKit, raw_token: str) -> TokenPair:
    now = clock.now()
    digest = security.sha256_hex(raw_token)
    live_sessions = select(AuthSession.id).where(
        AuthSession.revoked_at.is_(None), AuthSession.expires_at > now
    )
    used = await db.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_sha256 == digest,
            RefreshToken.used_at.is_(None),
            RefreshToken.expires_at > now,
            RefreshToken.session_id.in_(live_sessions),
        )
        .values(used_at=now)
        .returning(RefreshToken.id, RefreshToken.session_id)
    )
    row = used.first()
    if row is None:
        await _on_refresh_refused(db, digest)
        raise Unauthorized(INVALID_REFRESH, commit=True)
    token_id, session_id = row
    session = await db.get_one(AuthSession, session_id)
    user = await db.get_one(User, session.user_id)
    if not user.is_active:
        raise Unauthorized(INVALID_REFRESH)
    session.last_used_at = now
    return await sessions.issue_pair(db, kit, user, session, parent_id=token_id)


async def _on_refresh_refused(db: AsyncSession, digest: str) -> None:
    """A token that was already used coming back is a leak: revoke its whole family."""
    token = await db.scalar(select(RefreshToken).where(RefreshToken.token_sha256 == digest))
    if token is None or token.used_at is None:
        return
    session = await db.get_one(AuthSession, token.session_id)
    if session.revoked_at is None:
        session.revoked_at, session.revoke_reason = clock.now(), "refresh_token_reuse"
        user = await db.get_one(User, session.user_id)
        await audit.record_user(
            db,
            "session.refresh_reuse_revoked",
            user,
            target=session,
        )


async def logout(db: AsyncSession, raw_token: str) -> None:
    """Revoke the family of ``raw_token``. Unknown or already revoked tokens are a quiet no-op."""
    digest = security.sha256_hex(raw_token)
    token = await db.scalar(select(RefreshToken).where(RefreshToken.token_sha256 == digest))
    if token is None:
        return
    session = await db.get_one(AuthSession, token.session_id)
    if session.revoked_at is None:
        session.revoked_at, session.revoke_reason = clock.now(), "logout"
        user = await db.get_one(User, session.user_id)
        await audit.record_user(
            db,
            "user.logout",
            user,
            target=session,
        )


async def change_password(
    db: AsyncSession, kit: AuthKit, who: Principal, data: ChangePasswordIn
) -> None:
    """Verify the current password, set the new one, and end every other session of the user
    (and this one too with ``end_this_session``)."""
    user = await db.get_one(User, who.user_id)
    if not security.verify_password(kit.hasher, user.password_hash, data.current_password):
        await audit.record(db, "user.password_change_failed", who=who)
        raise BadRequest(
            "The current password is not correct.", code="INVALID_CURRENT_PASSWORD", commit=True
        )
    users.check_new_password(data.new_password, user.email, field="new_password")
    user.password_hash = kit.hasher.hash(data.new_password)
    await lifecycle.expire_reset_tokens(db, user.id)
    keep = None if data.end_this_session else who.session_id
    await sessions.revoke_sessions(db, user.id, reason="password_changed", keep=keep)
    await audit.record(
        db, "user.password_changed", who=who, resource_type="user", resource_id=user.id
    )


async def me(db: AsyncSession, who: Principal) -> MeOut:
    user = await db.get_one(User, who.user_id)
    org = await db.get_one(Org, user.org_id)
    base = UserOut.model_validate(user).model_dump()
    return MeOut(
        **base,
        organization=OrgBrief.model_validate(org),
        two_factor_setup_required=who.two_factor_setup_required,
    )


async def resolve_principal(db: AsyncSession, kit: AuthKit, token: str) -> Principal | None:
    """The principal behind a bearer value (access JWT or ``xplorr_`` API token), or None.

    Checked on every request, so a revoked family, revoked API token or deactivated user is
    refused at once although the JWT itself is still within its lifetime.
    """
    now = clock.now()
    if token.startswith(security.API_TOKEN_PREFIX):
        if not security.api_token_well_formed(token):
            return None  # bad checksum: refused without a database lookup
        api = await db.scalar(
            select(ApiToken).where(ApiToken.token_sha256 == security.sha256_hex(token))
        )
        if api is None or not _api_token_live(api):
            return None
        if api.last_used_at is None or now - api.last_used_at > _LAST_USED_GRANULARITY:
            api.last_used_at = now
        return await _principal(db, api.user_id, api.org_id, token=api)
    claims = security.decode_access_token(kit.jwt, token)
    if claims is None:
        return None
    if claims.session_id is not None:
        # One query on the hot path: the user, only if this login is still live.
        user, require_2fa = await _user_and_org_rule(
            db,
            _user_select()
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                AuthSession.id == claims.session_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                User.id == claims.user_id,
            ),
        )
        return await _with_grants(
            db,
            user,
            _as_principal(user, claims.org_id, require_2fa, session_id=claims.session_id),
        )
    assert claims.api_token_id is not None
    api = await db.get(ApiToken, claims.api_token_id)
    if api is None or not _api_token_live(api) or api.user_id != claims.user_id:
        return None
    return await _principal(db, claims.user_id, claims.org_id, token=api)


def _api_token_live(api: ApiToken) -> bool:
    return api.revoked_at is None and (api.expires_at is None or api.expires_at > clock.now())


async def _principal(
    db: AsyncSession, user_id: uuid.UUID, org_id: uuid.UUID, *, token: ApiToken
) -> Principal | None:
    """The token's user as they are now, narrowed by the token's own scope: read-only, and
    limited to its accounts (intersected with the user's grants)."""
    user, require_2fa = await _user_and_org_rule(db, _user_select().where(User.id == user_id))
    who = await _with_grants(db, user, _as_principal(user, org_id, require_2fa, token_id=token.id))
    if who is None:
        return None
    if token.scope == TokenScope.READ:
        who = replace(who, read_only=True)
    if token.account_ids is not None:
        who = narrow_to_accounts(who, frozenset(uuid.UUID(a) for a in token.account_ids))
    return who


def _user_select() -> Select[User, bool]:
    """The user and whether their organization requires 2FA, loaded by the same query."""
    return select(User, Org.require_2fa).join(Org, Org.id == User.org_id)


async def _user_and_org_rule(
    db: AsyncSession, stmt: Select[User, bool]
) -> tuple[User | None, bool]:
    row = (await db.execute(stmt)).first()
    return (row[0], bool(row[1])) if row is not None else (None, False)


async def _with_grants(
    db: AsyncSession, user: User | None, who: Principal | None
) -> Principal | None:
    if who is None or user is None:
        return who
    return await principals.with_account_grants(db, user, who)


def _as_principal(
    user: User | None,
    org_id: uuid.UUID,
    require_2fa: bool,
    session_id: uuid.UUID | None = None,
    token_id: uuid.UUID | None = None,
) -> Principal | None:
    """``require_2fa``: the user's organization requires a second factor; a user without one
    is flagged, and every endpoint but the setup ones refuses them (auth.deps)."""
    if user is None or user.org_id != org_id or user.status != UserStatus.ACTIVE:
        return None
    return Principal(
        user_id=user.id,
        org_id=user.org_id,
        role=user.role,
        email=user.email,
        session_id=session_id,
        token_id=token_id,
        two_factor_setup_required=require_2fa and not user.two_factor_enabled,
    )
