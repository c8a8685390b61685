"""Passkeys and security keys (WebAuthn L3, py_webauthn): registration, usernameless login,
listing and removal.

Challenges (security guide 1.5): 32 random bytes made here, stored server-side with their
ceremony and (for registration) their user, valid 5 minutes, and deleted by the request that
presents them (one ``DELETE ... RETURNING``) before anything is verified, so a response can
neither be replayed nor raced, and a failed attempt burns its challenge too (the failure is
committed with it). Only the challenge bytes and their SHA-256 (the lookup key) are kept.

Logging in with a passkey is a full login (possession plus the authenticator's user
verification), so it needs no second step even when the user has 2FA on.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Select, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from xplorr.auth import service as auth
from xplorr.auth.schemas import TokenPair
from xplorr.core import audit, clock
from xplorr.core.db import rowcount
from xplorr.core.deps import AuthKit
from xplorr.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, org_select
from xplorr.orgs.models import Org
from xplorr.passkeys.models import WebAuthnChallenge, WebAuthnCredential
from xplorr.passkeys.schemas import (
    AuthenticateVerifyIn,
    AuthenticationOptionsOut,
    RegisterVerifyIn,
    RegistrationOptionsOut,
    WebAuthnCredentialOut,
)
from xplorr.sso import policy as sso_policy
from xplorr.twofa import factors
from xplorr.users.models import User

log = structlog.get_logger("xplorr.passkeys")

REGISTRATION, AUTHENTICATION = "registration", "authentication"
CHALLENGE_TTL = timedelta(minutes=5)
CHALLENGE_BYTES = 32  # WebAuthn 13.4.3 asks for at least 16
USER_HANDLE_BYTES = 64  # WebAuthn 14.6.1: random, no PII
# WebAuthn 6.5.1 (credentialIdLength); the column holds its base64url form.
MAX_CREDENTIAL_ID_BYTES = 1023
RESOURCE = "webauthn_credential"

# What py_webauthn raises for a response it refuses; ValueError covers bytes it could not even
# decode (clientDataJSON that is not UTF-8 is a UnicodeDecodeError from ``json.loads``), and
# RecursionError JSON nested thousands deep (``json.loads`` again).
_MALFORMED = (WebAuthnException, ValueError, RecursionError)

VERIFICATION_FAILED = "The passkey could not be verified."
INVALID_CHALLENGE = "The passkey challenge is unknown, expired or already used. Start again."
INVALID_PASSKEY = "This passkey cannot be used to sign in."


def _digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _timeout_ms() -> int:
    return int(CHALLENGE_TTL.total_seconds() * 1000)


async def _new_challenge(db: AsyncSession, ceremony: str, *, user: User | None = None) -> bytes:
    """Store a fresh challenge (and sweep the expired ones: the public options endpoint makes
    rows without a login, so they must not pile up)."""
    now = clock.now()
    await db.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < now))
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    db.add(
        WebAuthnChallenge(
            org_id=user.org_id if user else None,
            user_id=user.id if user else None,
            ceremony=ceremony,
            challenge_sha256=_digest(challenge),
            challenge=challenge,
            expires_at=now + CHALLENGE_TTL,
        )
    )
    await db.flush()
    return challenge


@dataclass(frozen=True, slots=True)
class _Consumed:
    ceremony: str
    user_id: uuid.UUID | None
    challenge: bytes
    expires_at: datetime


async def _consume(db: AsyncSession, challenge: bytes) -> _Consumed | None:
    """Delete the stored challenge and return it: of two requests presenting it, one wins."""
    row = (
        await db.execute(
            delete(WebAuthnChallenge)
            .where(WebAuthnChallenge.challenge_sha256 == _digest(challenge))
            .returning(
                WebAuthnChallenge.ceremony,
                WebAuthnChallenge.user_id,
                WebAuthnChallenge.challenge,
                WebAuthnChallenge.expires_at,
            )
        )
    ).first()
    return _Consumed(*row) if row else None


def _usable(found: _Consumed | None, ceremony: str, user_id: uuid.UUID | None) -> bool:
    return (
        found is not None
        and found.ceremony == ceremony
        and found.user_id == user_id
        and found.expires_at > clock.now()
    )


# --- registration ---------------------------------------------------------------------------


async def registration_options(
    db: AsyncSession, settings: Settings, who: Principal
) -> RegistrationOptionsOut:
    """Options for ``navigator.credentials.create``: the user's random handle (made on first
    use), the passkeys they already have (so one authenticator is not registered twice),
    resident key and user verification preferred, no attestation."""
    factors.refuse_api_tokens(who)
    user = await factors.lock_user(db, who)
    if user.webauthn_user_handle is None:
        user.webauthn_user_handle = secrets.token_bytes(USER_HANDLE_BYTES)
    existing = await db.scalars(
        org_select(WebAuthnCredential, who).where(WebAuthnCredential.user_id == user.id)
    )
    challenge = await _new_challenge(db, REGISTRATION, user=user)
    options = generate_registration_options(
        rp_id=settings.webauthn_relying_party_id,
        rp_name=settings.webauthn_rp_name,
        user_name=user.email,
        user_id=user.webauthn_user_handle,
        user_display_name=user.name,
        challenge=challenge,
        timeout=_timeout_ms(),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(c.credential_id), transports=_transports(c.transports)
            )
            for c in existing.all()
        ],
    )
    return RegistrationOptionsOut.model_validate_json(options_to_json(options))


def _transports(values: list[str]) -> list[AuthenticatorTransport] | None:
    known = {t.value for t in AuthenticatorTransport}
    return [AuthenticatorTransport(v) for v in values if v in known] or None


async def register(
    db: AsyncSession, settings: Settings, who: Principal, data: RegisterVerifyIn
) -> WebAuthnCredentialOut:
    """Verify the authenticator's attestation (``none`` format accepted: we do not restrict
    authenticator models) against this user's registration challenge and store the passkey."""
    factors.refuse_api_tokens(who)
    user = await factors.lock_user(db, who)
    try:
        credential = parse_registration_credential_json(data.credential.model_dump(by_alias=True))
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
    except _MALFORMED as exc:
        await _registration_failed(db, who, "malformed", exc)
        raise BadRequest(
            VERIFICATION_FAILED, code="WEBAUTHN_VERIFICATION_FAILED", commit=True
        ) from exc
    found = await _consume(db, challenge)
    if found is None or not _usable(found, REGISTRATION, user.id):
        await _registration_failed(db, who, "challenge", None)
        raise BadRequest(INVALID_CHALLENGE, code="INVALID_WEBAUTHN_CHALLENGE", commit=True)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=found.challenge,
            expected_rp_id=settings.webauthn_relying_party_id,
            expected_origin=settings.webauthn_allowed_origins,
            require_user_verification=False,
        )
    except _MALFORMED as exc:
        await _registration_failed(db, who, "verification", exc)
        raise BadRequest(
            VERIFICATION_FAILED, code="WEBAUTHN_VERIFICATION_FAILED", commit=True
        ) from exc
    if (
        len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES
        or verified.credential_id != credential.raw_id
    ):  # py_webauthn checks neither: the id in the signed data must be the one the client names
        await _registration_failed(db, who, "credential_id", None)
        raise BadRequest(VERIFICATION_FAILED, code="WEBAUTHN_VERIFICATION_FAILED", commit=True)
    passkey = WebAuthnCredential(
        id=uuid.uuid4(),
        org_id=user.org_id,
        user_id=user.id,
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t.value for t in credential.response.transports or []],
        name=data.name,
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
    )
    try:
        async with db.begin_nested():  # the credential id is unique across the installation
            db.add(passkey)
    except IntegrityError as exc:
        await _registration_failed(db, who, "credential_already_registered", None)
        raise Conflict(
            "This passkey is already registered.",
            code="CREDENTIAL_ALREADY_REGISTERED",
            commit=True,
        ) from exc
    await factors.refresh_two_factor(db, user)
    await audit.record(
        db,
        "user.webauthn_registered",
        who=who,
        target=passkey,
        details={
            "aaguid": passkey.aaguid,
            "backed_up": passkey.backed_up,
            "user_verified": verified.user_verified,
        },
    )
    return WebAuthnCredentialOut.model_validate(passkey)


async def _registration_failed(
    db: AsyncSession, who: Principal, reason: str, exc: Exception | None
) -> None:
    # py_webauthn's messages name what did not match (origin, RP id hash, flags), never the
    # challenge or a key: safe to keep, and what an admin needs to see a misconfiguration.
    detail = str(exc)[:300] if exc else None
    log.info("passkeys.registration_refused", user_id=str(who.user_id), reason=reason, why=detail)
    await audit.record(
        db,
        "user.webauthn_registration_failed",
        who=who,
        resource_type=RESOURCE,
        details={"reason": reason, "why": detail},
    )


# --- authentication -------------------------------------------------------------------------


async def authentication_options(db: AsyncSession, settings: Settings) -> AuthenticationOptionsOut:
    """Usernameless: no account is named and ``allowCredentials`` stays empty (asking for an
    email first would tell anyone which accounts exist and which have passkeys)."""
    challenge = await _new_challenge(db, AUTHENTICATION)
    options = generate_authentication_options(
        rp_id=settings.webauthn_relying_party_id,
        challenge=challenge,
        timeout=_timeout_ms(),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return AuthenticationOptionsOut.model_validate_json(options_to_json(options))


async def authenticate(db: AsyncSession, kit: AuthKit, data: AuthenticateVerifyIn) -> TokenPair:
    """Log in with a passkey assertion.

    Every refusal is the same 401 ``INVALID_PASSKEY`` (or ``INVALID_WEBAUTHN_CHALLENGE``),
    committed with its audit row and the burnt challenge. User verification is required: this
    login stands in for password and second factor together (security guide 1.5, "UV if
    passwordless"). The signature counter must grow unless it is 0 on both sides (synced
    passkeys never count); a signed assertion whose counter went back means the key may have
    been cloned, and is refused and audited as ``user.webauthn_clone_suspected``."""
    settings = kit.settings
    try:
        credential = parse_authentication_credential_json(data.credential.model_dump(by_alias=True))
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
    except _MALFORMED as exc:
        await _login_failed(db, None, "malformed", exc)
        raise Unauthorized(INVALID_PASSKEY, code="INVALID_PASSKEY", commit=True) from exc
    found = await _consume(db, challenge)
    if found is None or not _usable(found, AUTHENTICATION, None):
        await _login_failed(db, None, "challenge", None)
        raise Unauthorized(INVALID_CHALLENGE, code="INVALID_WEBAUTHN_CHALLENGE", commit=True)
    passkey, user = await _passkey_and_user(db, credential.id)
    if passkey is None or user is None:
        await _login_failed(db, None, "unknown_credential", None)
        raise Unauthorized(INVALID_PASSKEY, code="INVALID_PASSKEY", commit=True)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=found.challenge,
            expected_rp_id=settings.webauthn_relying_party_id,
            expected_origin=settings.webauthn_allowed_origins,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except _MALFORMED as exc:
        if _counter_went_back(credential, passkey.sign_count) and _signed_by(
            credential, passkey, found.challenge, settings
        ):
            await _clone_suspected(db, user, passkey, credential)
        else:
            await _login_failed(db, user, "verification", exc)
        raise Unauthorized(INVALID_PASSKEY, code="INVALID_PASSKEY", commit=True) from exc
    handle = credential.response.user_handle
    if handle is not None and handle != user.webauthn_user_handle:
        await _login_failed(db, user, "user_handle_mismatch", None)
        raise Unauthorized(INVALID_PASSKEY, code="INVALID_PASSKEY", commit=True)
    if not user.is_active:
        await _login_failed(db, user, "inactive", None)
        raise Unauthorized(INVALID_PASSKEY, code="INVALID_PASSKEY", commit=True)
    await _refuse_if_sso_enforced(db, user)
    counted = await db.execute(
        update(WebAuthnCredential)
        .where(
            WebAuthnCredential.id == passkey.id,
            WebAuthnCredential.sign_count == passkey.sign_count,
        )
        .values(
            sign_count=verified.new_sign_count,
            backed_up=verified.credential_backed_up,
            last_used_at=clock.now(),
        )
    )
    if rowcount(counted) != 1:
        # Another login with this passkey moved the counter meanwhile: only one may use it.
        await _login_failed(db, user, "concurrent_use", None)
        raise Unauthorized(INVALID_PASSKEY, code="INVALID_PASSKEY", commit=True)
    return await auth.complete_login(db, kit, user, method=factors.WEBAUTHN)


async def _passkey_and_user(
    db: AsyncSession, credential_id: str
) -> tuple[WebAuthnCredential | None, User | None]:
    """Before login there is no principal: the credential id the authenticator sent is what
    names the user (unique across the installation)."""
    passkey = await db.scalar(
        select(WebAuthnCredential).where(WebAuthnCredential.credential_id == credential_id)
    )
    if passkey is None:
        return None, None
    return passkey, await db.get(User, passkey.user_id)


def _counter_went_back(credential: AuthenticationCredential, stored: int) -> bool:
    try:
        new = parse_authenticator_data(credential.response.authenticator_data).sign_count
    except _MALFORMED:
        return False  # malformed data is a plain verification failure, not a counter finding
    return (new > 0 or stored > 0) and new <= stored


def _signed_by(
    credential: AuthenticationCredential,
    passkey: WebAuthnCredential,
    challenge: bytes,
    settings: Settings,
) -> bool:
    """Whether the assertion is genuine apart from its counter: only then is a counter that
    went back evidence of a cloned key (an unsigned request must not raise that alarm)."""
    try:
        verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.webauthn_relying_party_id,
            expected_origin=settings.webauthn_allowed_origins,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,  # with 0 the library skips its counter rule
            require_user_verification=True,
        )
    except _MALFORMED:
        return False
    return True


async def _clone_suspected(
    db: AsyncSession, user: User, passkey: WebAuthnCredential, credential: AuthenticationCredential
) -> None:
    new = parse_authenticator_data(credential.response.authenticator_data).sign_count
    log.warning(
        "passkeys.clone_suspected",
        user_id=str(user.id),
        passkey_row=str(passkey.id),
        stored_count=passkey.sign_count,
        new_count=new,
    )
    await audit.record_user(
        db,
        "user.webauthn_clone_suspected",
        user,
        target=passkey,
        details={"stored_sign_count": passkey.sign_count, "new_sign_count": new},
    )


async def _login_failed(
    db: AsyncSession, user: User | None, reason: str, exc: Exception | None
) -> None:
    detail = str(exc)[:300] if exc else None
    log.info("passkeys.login_refused", user_id=str(user.id) if user else None, reason=reason)
    await audit.record(
        db,
        "user.login_failed",
        org_id=user.org_id if user else None,
        actor_user_id=user.id if user else None,
        actor_email=user.email if user else None,
        details={"method": factors.WEBAUTHN, "reason": reason, "why": detail},
    )


async def _refuse_if_sso_enforced(db: AsyncSession, user: User) -> None:
    """As for password login: where the organization enforces SSO for the user's email
    domain, only the owner (break-glass) may log in without the identity provider; otherwise a
    passkey would outlive the user's removal at the IdP."""
    org = await sso_policy.enforcing_org(db, user.email, user)
    if org is not None:
        await _login_failed(db, user, "sso_required", None)
        raise sso_policy.sso_required(org, commit=True)


# --- management -----------------------------------------------------------------------------


def _own(who: Principal) -> Select[WebAuthnCredential]:
    return org_select(WebAuthnCredential, who).where(WebAuthnCredential.user_id == who.user_id)


async def list_credentials(
    db: AsyncSession, who: Principal, params: PageParams
) -> Page[WebAuthnCredentialOut]:
    stmt = _own(who).order_by(WebAuthnCredential.created_at, WebAuthnCredential.id)
    return await paginate(db, stmt, params, WebAuthnCredentialOut.model_validate)


async def delete_credential(db: AsyncSession, who: Principal, passkey_id: uuid.UUID) -> None:
    """Remove one of the caller's own passkeys. Where the organization requires 2FA, the last
    factor (no TOTP, no other passkey) cannot go: the user would lock themselves out of
    everything but setting one up again."""
    factors.refuse_api_tokens(who)
    user = await factors.lock_user(db, who)  # two removals of the last two passkeys serialise
    passkey = await db.scalar(_own(who).where(WebAuthnCredential.id == passkey_id))
    if passkey is None:
        raise NotFound(
            f"Passkey with ID '{passkey_id}' not found.", code="WEBAUTHN_CREDENTIAL_NOT_FOUND"
        )
    await db.delete(passkey)
    await db.flush()
    required = await db.scalar(select(Org.require_2fa).where(Org.id == who.org_id))
    if required and not await factors.methods_for(db, user):
        raise Conflict(
            "Your organization requires two-factor authentication: add another passkey or an "
            "authenticator app before removing this one.",
            code="2FA_REQUIRED_BY_ORGANIZATION",
        )
    await factors.refresh_two_factor(db, user)
    await audit.record(
        db,
        "user.webauthn_removed",
        who=who,
        target=passkey,
    )
