"""TOTP two-factor authentication: setup, confirm, the login's second step, disable."""

from fastapi import APIRouter, Response

from xplorr.auth.deps import CurrentUser, SetupUser
from xplorr.auth.schemas import TokenPair
from xplorr.core.db import DbSession
from xplorr.core.deps import Kit
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.ratelimit import limit
from xplorr.twofa import service
from xplorr.twofa.schemas import AuthenticateIn, ConfirmIn, ConfirmOut, DisableIn, SetupOut

router = APIRouter(prefix="/auth/2fa", tags=["auth"])
ROUTE_ORDER = 20  # mounting order under /api/v1 (core.areas.routers)


@router.post(
    "/setup",
    response_model=SetupOut,
    responses={409: {"model": ErrorEnvelope, "description": "2FA_ALREADY_ENABLED"}},
)
async def setup_2fa(db: DbSession, kit: Kit, who: SetupUser) -> SetupOut:
    """Start (or start over) setting up an authenticator app: answers the secret, an
    ``otpauth://`` URI and its QR code (SVG data URI). The secret is shown only here; finish
    with ``POST /auth/2fa/confirm``. Allowed while the organization's 2FA requirement is
    pending."""
    return await service.setup(db, kit, who)


@router.post(
    "/confirm",
    response_model=ConfirmOut,
    responses={
        400: {"model": ErrorEnvelope, "description": "INVALID_2FA_CODE"},
        409: {"model": ErrorEnvelope, "description": "2FA_SETUP_NOT_STARTED, 2FA_ALREADY_ENABLED"},
    },
)
async def confirm_2fa(body: ConfirmIn, db: DbSession, kit: Kit, who: SetupUser) -> ConfirmOut:
    """Enable 2FA with a current code from the authenticator app. Answers 10 recovery codes,
    each usable once in place of a code; they are shown only here."""
    return await service.confirm(db, kit, who, body.code)


@router.post(
    "/authenticate",
    response_model=TokenPair,
    openapi_extra=limit(key="ip"),
    responses={401: {"model": ErrorEnvelope, "description": "INVALID_2FA_CODE, INVALID_CHALLENGE"}},
)
async def authenticate_2fa(body: AuthenticateIn, db: DbSession, kit: Kit) -> TokenPair:
    """The login's second step: the ``challenge_token`` from ``POST /auth/login`` and a code
    from the authenticator app (or a recovery code). Answers the tokens, as login does.

    Each code works once. Failed codes are limited per user (429 with Retry-After, whatever
    the challenge or address); a challenge lives 5 minutes, completes one login and dies after
    5 wrong codes."""
    return await service.authenticate(db, kit, body)


@router.post(
    "/disable",
    status_code=204,
    responses={
        400: {"model": ErrorEnvelope, "description": "INVALID_PASSWORD, INVALID_2FA_CODE"},
        409: {
            "model": ErrorEnvelope,
            "description": "2FA_NOT_ENABLED, 2FA_REQUIRED_BY_ORGANIZATION",
        },
    },
)
async def disable_2fa(body: DisableIn, db: DbSession, kit: Kit, who: CurrentUser) -> Response:
    """Remove the authenticator app and the recovery codes, with the password and a current
    code (or a recovery code). Refused while the organization requires 2FA and no passkey is
    registered."""
    await service.disable(db, kit, who, body)
    return Response(status_code=204)
