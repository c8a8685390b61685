from typing import Any

from fastapi import APIRouter, Response

from xplorr.auth import lifecycle_service as lifecycle
from xplorr.auth import service
from xplorr.auth.deps import AdminUser, CurrentUser, SetupUser
from xplorr.auth.schemas import (
    AcceptInvitationIn,
    ChangePasswordIn,
    EmailIn,
    InvitationStatusOut,
    InviteIn,
    InviteOut,
    LoginIn,
    MeOut,
    MessageOut,
    RefreshIn,
    ResetPasswordIn,
    SignupIn,
    TokenIn,
    TokenPair,
    TwoFactorChallengeOut,
    VerifiedOut,
)
from xplorr.core.db import DbSession
from xplorr.core.deps import Kit
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.ratelimit import limit

router = APIRouter(prefix="/auth", tags=["auth"])
ROUTE_ORDER = 10  # mounting order under /api/v1 (core.areas.routers)

AUTH_LIMIT = "20/15 minutes"  # api-reference: "Login / Auth 20 requests per 15 minutes"


@router.post(
    "/signup",
    status_code=201,
    response_model=TokenPair,
    openapi_extra=limit(key="ip"),
    responses={409: {"model": ErrorEnvelope, "description": "EMAIL_TAKEN"}},
)
async def signup(body: SignupIn, db: DbSession, kit: Kit) -> TokenPair:
    """Register a new organization and its owner with a business email; returns tokens.

    Free email providers are refused with ``BUSINESS_EMAIL_REQUIRED``. An unverified email does
    not block login.
    """
    return await service.signup(db, kit, body)


@router.post(
    "/login",
    response_model=TokenPair | TwoFactorChallengeOut,
    openapi_extra=limit(key="ip"),
    responses={403: {"model": ErrorEnvelope, "description": "SSO_REQUIRED"}},
)
async def login(body: LoginIn, db: DbSession, kit: Kit) -> TokenPair | TwoFactorChallengeOut:
    """Log in with email and password. Returns an access token (15 min) and a refresh token, or,
    when the user has a second factor, ``{"requires_2fa": true, "challenge_token", "methods"}``:
    finish with ``POST /auth/2fa/authenticate`` or a passkey.

    Unknown email and wrong password answer the same 401. Repeated failures on one account are
    throttled with 429 on top of the per-IP limit. An email whose organization enforces single
    sign-on answers 403 ``SSO_REQUIRED``.
    """
    return await service.login(db, kit, body)


@router.post("/refresh", response_model=TokenPair, openapi_extra=limit("30/minute", key="ip"))
async def refresh(body: RefreshIn, db: DbSession, kit: Kit) -> TokenPair:
    """Exchange a refresh token for a new access token and a new refresh token (rotation).

    Each refresh token works once; presenting a used one revokes its whole login.
    """
    return await service.refresh(db, kit, body.refresh_token)


@router.post("/logout", status_code=204, openapi_extra=limit("30/minute", key="ip"))
async def logout(body: RefreshIn, db: DbSession) -> Response:
    """Revoke the login behind this refresh token; its access tokens stop working at once."""
    await service.logout(db, body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
async def get_me(db: DbSession, who: SetupUser) -> MeOut:
    """The current user, with ``email_verified``, ``two_factor_enabled`` and the organization.
    Answers also while the organization's 2FA requirement is pending
    (``two_factor_setup_required``)."""
    return await service.me(db, who)


@router.post("/change-password", status_code=204, openapi_extra=limit(AUTH_LIMIT))
async def change_password(
    body: ChangePasswordIn, db: DbSession, kit: Kit, who: CurrentUser
) -> Response:
    """Change the password (current one required). Every other session of the user is ended;
    with ``end_this_session: true`` the caller's own login ends as well."""
    await service.change_password(db, kit, who, body)
    return Response(status_code=204)


@router.post("/verify-email", response_model=VerifiedOut, openapi_extra=limit(AUTH_LIMIT, key="ip"))
async def verify_email(body: TokenIn, db: DbSession) -> VerifiedOut:
    """Verify the email address with the token from the verification email (single use)."""
    await lifecycle.verify_email(db, body.token)
    return VerifiedOut(email_verified=True)


@router.post(
    "/resend-verification",
    status_code=202,
    response_model=MessageOut,
    openapi_extra=limit(key="ip"),
)
async def resend_verification(body: EmailIn, db: DbSession) -> MessageOut:
    """Send a new verification email. The answer is the same whether or not the address exists
    or is already verified."""
    await lifecycle.request_verification(db, body.email)
    return MessageOut(message=lifecycle.SENT_VERIFICATION)


@router.post(
    "/forgot-password",
    status_code=202,
    response_model=MessageOut,
    openapi_extra=limit(key="ip"),
)
async def forgot_password(body: EmailIn, db: DbSession) -> MessageOut:
    """Email a password reset link (valid 1 hour, single use). The answer is the same whether
    or not the address exists."""
    await lifecycle.request_password_reset(db, body.email)
    return MessageOut(message=lifecycle.SENT_RESET)


@router.post("/reset-password", status_code=204, openapi_extra=limit(key="ip"))
async def reset_password(body: ResetPasswordIn, db: DbSession, kit: Kit) -> Response:
    """Set a new password with a reset token. Every session of the user ends, and every other
    outstanding reset link stops working."""
    await lifecycle.reset_password(db, kit, body.token, body.new_password)
    return Response(status_code=204)


_EMAIL_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorEnvelope, "description": "EMAIL_TAKEN"}
}


@router.post("/invite", status_code=201, response_model=InviteOut, responses=_EMAIL_TAKEN)
async def invite(body: InviteIn, db: DbSession, kit: Kit, who: AdminUser) -> InviteOut:
    """Invite someone by email with a role and optionally only some cloud accounts (admin).

    The link is valid 7 days. Inviting an address with a pending invitation sends a fresh link
    (``resent: true``) instead of a second invitation. Only the owner may invite an owner.
    """
    return await lifecycle.invite(db, kit.settings, who, body)


@router.get(
    "/invitation/{token}",
    response_model=InvitationStatusOut,
    openapi_extra=limit(AUTH_LIMIT, key="ip"),
)
async def get_invitation(token: str, db: DbSession) -> InvitationStatusOut:
    """The status of an invitation (pending, accepted, expired, revoked), who sent it and for
    which organization. Nothing else about the organization is shown."""
    return await lifecycle.invitation_info(db, token)


@router.post(
    "/accept-invitation",
    status_code=201,
    response_model=TokenPair,
    openapi_extra=limit(AUTH_LIMIT, key="ip"),
    responses=_EMAIL_TAKEN,
)
async def accept_invitation(body: AcceptInvitationIn, db: DbSession, kit: Kit) -> TokenPair:
    """Accept an invitation: creates the account in the inviting organization and logs it in."""
    return await lifecycle.accept_invitation(db, kit, body)
