from fastapi import APIRouter, Response

from xplorr.auth import service
from xplorr.auth.deps import CurrentUser
from xplorr.auth.schemas import (
    ChangePasswordIn,
    LoginIn,
    MeOut,
    RefreshIn,
    SignupIn,
    TokenPair,
)
from xplorr.core.db import DbSession
from xplorr.core.deps import Kit
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.ratelimit import limit

router = APIRouter(prefix="/auth", tags=["auth"])

AUTH_LIMIT = "20/15 minutes"  # api-reference: "Login / Auth 20 requests per 15 minutes"


@router.post(
    "/signup",
    status_code=201,
    response_model=TokenPair,
    openapi_extra=limit(AUTH_LIMIT, key="ip"),
    responses={409: {"model": ErrorEnvelope, "description": "EMAIL_TAKEN"}},
)
async def signup(body: SignupIn, db: DbSession, kit: Kit) -> TokenPair:
    """Register a new organization and its owner with a business email; returns tokens.

    Free email providers are refused with ``BUSINESS_EMAIL_REQUIRED``. An unverified email does
    not block login.
    """
    return await service.signup(db, kit, body)


@router.post("/login", response_model=TokenPair, openapi_extra=limit(AUTH_LIMIT, key="ip"))
async def login(body: LoginIn, db: DbSession, kit: Kit) -> TokenPair:
    """Log in with email and password. Returns an access token (15 min) and a refresh token.

    Unknown email and wrong password answer the same 401. Repeated failures on one account are
    throttled with 429 on top of the per-IP limit.
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
async def get_me(db: DbSession, who: CurrentUser) -> MeOut:
    """The current user, with ``email_verified`` and the organization."""
    return await service.me(db, who)


@router.post("/change-password", status_code=204, openapi_extra=limit(AUTH_LIMIT))
async def change_password(
    body: ChangePasswordIn, db: DbSession, kit: Kit, who: CurrentUser
) -> Response:
    """Change the password (current one required). Every other session of the user is ended."""
    await service.change_password(db, kit, who, body)
    return Response(status_code=204)
