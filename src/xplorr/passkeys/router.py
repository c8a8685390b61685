"""Passkeys and security keys (WebAuthn): register, log in, list, remove."""

import uuid

from fastapi import APIRouter, Response

from xplorr.auth.deps import CurrentUser, SetupUser
from xplorr.auth.schemas import TokenPair
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings, Kit
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.pagination import Page, Pagination
from xplorr.core.ratelimit import limit
from xplorr.passkeys import service
from xplorr.passkeys.schemas import (
    AuthenticateVerifyIn,
    AuthenticationOptionsOut,
    RegisterVerifyIn,
    RegistrationOptionsOut,
    WebAuthnCredentialOut,
)

router = APIRouter(prefix="/auth/webauthn", tags=["auth"])
ROUTE_ORDER = 30  # mounting order under /api/v1 (core.areas.routers)

LOGIN_LIMIT = "20/15 minutes"  # as POST /auth/login: these two endpoints are a login


@router.get("/register/options", response_model=RegistrationOptionsOut)
async def get_registration_options(
    db: DbSession, settings: AppSettings, who: SetupUser
) -> RegistrationOptionsOut:
    """Start registering a passkey: pass the answer to ``navigator.credentials.create``
    (``PublicKeyCredential.parseCreationOptionsFromJSON``), then send the result to
    ``POST /auth/webauthn/register/verify`` within 5 minutes.

    Allowed while the organization's 2FA requirement is still pending (a passkey satisfies it).
    Not with an API token (403 ``SESSION_REQUIRED``)."""
    return await service.registration_options(db, settings, who)


@router.post(
    "/register/verify",
    status_code=201,
    response_model=WebAuthnCredentialOut,
    responses={
        400: {
            "model": ErrorEnvelope,
            "description": "INVALID_WEBAUTHN_CHALLENGE, WEBAUTHN_VERIFICATION_FAILED",
        },
        409: {"model": ErrorEnvelope, "description": "CREDENTIAL_ALREADY_REGISTERED"},
    },
)
async def verify_registration(
    body: RegisterVerifyIn, db: DbSession, settings: AppSettings, who: SetupUser
) -> WebAuthnCredentialOut:
    """Finish registering a passkey: ``credential`` is the ``PublicKeyCredential`` JSON from
    ``navigator.credentials.create`` (``credential.toJSON()``), ``name`` a label for the list.

    The challenge works once and only for the user it was made for. A passkey already
    registered (to anyone) answers 409 ``CREDENTIAL_ALREADY_REGISTERED``."""
    return await service.register(db, settings, who, body)


@router.get(
    "/authenticate/options",
    response_model=AuthenticationOptionsOut,
    openapi_extra=limit(LOGIN_LIMIT, key="ip"),
)
async def get_authentication_options(
    db: DbSession, settings: AppSettings
) -> AuthenticationOptionsOut:
    """Start a passkey login: pass the answer to ``navigator.credentials.get``
    (``PublicKeyCredential.parseRequestOptionsFromJSON``), then send the result to
    ``POST /auth/webauthn/authenticate/verify`` within 5 minutes. No email is asked for: the
    browser offers the passkeys it holds for this site."""
    return await service.authentication_options(db, settings)


@router.post(
    "/authenticate/verify",
    response_model=TokenPair,
    openapi_extra=limit(LOGIN_LIMIT, key="ip"),
    responses={403: {"model": ErrorEnvelope, "description": "SSO_REQUIRED"}},
)
async def verify_authentication(body: AuthenticateVerifyIn, db: DbSession, kit: Kit) -> TokenPair:
    """Log in with a passkey: ``credential`` is the ``PublicKeyCredential`` JSON from
    ``navigator.credentials.get``. Answers tokens as ``POST /auth/login`` does; a passkey login
    needs no second factor (user verification on the authenticator is required).

    Every refusal answers 401 ``INVALID_PASSKEY`` or ``INVALID_WEBAUTHN_CHALLENGE``."""
    return await service.authenticate(db, kit, body)


@router.get("/credentials", response_model=Page[WebAuthnCredentialOut])
async def list_credentials(
    db: DbSession, who: CurrentUser, page: Pagination
) -> Page[WebAuthnCredentialOut]:
    """Your passkeys and security keys (never their keys), oldest first."""
    return await service.list_credentials(db, who, page)


@router.delete(
    "/credentials/{credential_id}",
    status_code=204,
    responses={409: {"model": ErrorEnvelope, "description": "2FA_REQUIRED_BY_ORGANIZATION"}},
)
async def delete_credential(credential_id: uuid.UUID, db: DbSession, who: CurrentUser) -> Response:
    """Remove one of your passkeys. Where your organization requires 2FA, your last factor
    cannot be removed (409 ``2FA_REQUIRED_BY_ORGANIZATION``)."""
    await service.delete_credential(db, who, credential_id)
    return Response(status_code=204)
