"""TOTP second factor (RFC 6238): setup, confirm, the login's second step, disable.

- The base32 seed is sealed under the org's data key (``core.crypto``, purpose ``totp``, bound to
  the factor's id) and shown once, at setup.
- A code is accepted for at most one step of drift either way and only for a step later than the
  last accepted one: one conditional UPDATE of ``last_step`` decides, so two requests racing with
  the same code cannot both pass (RFC 6238 5.2, NIST 800-63B 5.1.4.2).
- Recovery codes carry 100 random bits, are shown once and stored as SHA-256 of a normalised
  form; using one is one conditional UPDATE of ``used_at``.
- Failed codes count per user (``XPLORR_TWO_FACTOR_FAILURE_LIMIT``) whatever the challenge or IP,
  checked before any code is looked at; a challenge dies after ``MAX_CHALLENGE_FAILURES``.
"""

import base64
import io
import re
import secrets
import uuid
from datetime import datetime

import pyotp
import segno
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth import service as auth
from xplorr.auth.schemas import TokenPair
from xplorr.core import audit, clock, security
from xplorr.core.crypto import OrgCipher
from xplorr.core.db import rowcount
from xplorr.core.deps import AuthKit
from xplorr.core.errors import BadRequest, Conflict, Unauthorized
from xplorr.core.tenancy import Principal, org_select
from xplorr.orgs.models import Org
from xplorr.twofa import factors
from xplorr.twofa.models import TOTP_PURPOSE, LoginChallenge, RecoveryCode, TotpFactor
from xplorr.twofa.schemas import AuthenticateIn, ConfirmOut, DisableIn, SetupOut
from xplorr.users.models import User

PURPOSE = TOTP_PURPOSE  # the sealed secret's purpose (associated data)
ISSUER = "Xplorr"
VALID_WINDOW = 1  # steps of drift tolerated either way (RFC 6238 5.2)
RECOVERY_CODES = 10
RECOVERY_GROUPS, RECOVERY_GROUP_LEN = 4, 5  # 20 base32 characters: 100 random bits
MAX_CHALLENGE_FAILURES = 5
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_TOTP_SHAPE = re.compile(r"\d{6}")
_RECOVERY_SHAPE = re.compile(rf"[a-z2-7]{{{RECOVERY_GROUPS * RECOVERY_GROUP_LEN}}}")
_SEPARATORS = re.compile(r"[\s-]")
_FAILURES = "2fa-failures"

INVALID_CODE = "The authentication code is not valid."
INVALID_CHALLENGE = "The login challenge is invalid or has expired. Log in again."


def method_of(code: str) -> str | None:
    """``totp`` for 6 digits, ``recovery_code`` for a recovery code's shape, else None."""
    plain = _SEPARATORS.sub("", code).lower()
    if _TOTP_SHAPE.fullmatch(plain):
        return factors.TOTP
    if _RECOVERY_SHAPE.fullmatch(plain):
        return factors.RECOVERY_CODE
    return None


def recovery_digest(code: str) -> str:
    """SHA-256 of the normalised code: case, dashes and spaces do not matter."""
    return security.sha256_hex(_SEPARATORS.sub("", code).lower())


def new_recovery_code() -> str:
    chars = "".join(secrets.choice(_B32) for _ in range(RECOVERY_GROUPS * RECOVERY_GROUP_LEN))
    n = RECOVERY_GROUP_LEN
    return "-".join(chars[i : i + n] for i in range(0, len(chars), n))


def qr_data_uri(uri: str) -> str:
    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="svg", scale=4, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


async def _factor(db: AsyncSession, who: Principal) -> TotpFactor | None:
    return await db.scalar(
        org_select(TotpFactor, who).where(TotpFactor.user_id == who.user_id).with_for_update()
    )


# -- setup and confirm -----------------------------------------------------------------------


async def setup(db: AsyncSession, kit: AuthKit, who: Principal) -> SetupOut:
    """Start, or start over, a pending setup with a new secret. A confirmed factor must be
    disabled first (``2FA_ALREADY_ENABLED``)."""
    factors.refuse_api_tokens(who)
    await factors.lock_user(db, who)
    factor = await _factor(db, who)
    if factor is not None and factor.confirmed_at is not None:
        raise Conflict("Two-factor authentication is already enabled.", code="2FA_ALREADY_ENABLED")
    secret = pyotp.random_base32()
    cipher = await OrgCipher.load(db, kit.settings, who.org_id)
    if factor is None:
        factor = TotpFactor(id=uuid.uuid4(), org_id=who.org_id, user_id=who.user_id)
        factor.secret_encrypted, factor.key_version = await cipher.seal_secret(
            db, PURPOSE, factor.id, secret.encode()
        )
        try:
            async with db.begin_nested():  # a concurrent setup of the same user inserts too
                db.add(factor)
        except IntegrityError as exc:
            raise Conflict(
                "A two-factor setup is already being started. Try again.",
                code="2FA_SETUP_IN_PROGRESS",
            ) from exc
    else:
        factor.secret_encrypted, factor.key_version = await cipher.seal_secret(
            db, PURPOSE, factor.id, secret.encode()
        )
        factor.last_step = None
    await db.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=who.email, issuer_name=ISSUER)
    return SetupOut(secret=secret, otpauth_uri=uri, qr_code=qr_data_uri(uri))


async def confirm(db: AsyncSession, kit: AuthKit, who: Principal, code: str) -> ConfirmOut:
    """Enable the pending factor with a current code; answer the recovery codes once."""
    factors.refuse_api_tokens(who)
    user = await factors.lock_user(db, who)
    factor = await _factor(db, who)
    if factor is None:
        raise Conflict("Start with POST /auth/2fa/setup.", code="2FA_SETUP_NOT_STARTED")
    if factor.confirmed_at is not None:
        raise Conflict("Two-factor authentication is already enabled.", code="2FA_ALREADY_ENABLED")
    if method_of(code) != factors.TOTP or not await accept_totp(db, kit, factor, code):
        raise BadRequest(INVALID_CODE, code="INVALID_2FA_CODE")
    enabled = await db.execute(
        update(TotpFactor)
        .where(TotpFactor.id == factor.id, TotpFactor.confirmed_at.is_(None))
        .values(confirmed_at=clock.now())
    )
    if rowcount(enabled) != 1:  # a concurrent confirm won
        raise Conflict("Two-factor authentication is already enabled.", code="2FA_ALREADY_ENABLED")
    codes = await _new_recovery_codes(db, who.org_id, who.user_id)
    await factors.refresh_two_factor(db, user)
    await audit.record(
        db,
        "user.2fa_enabled",
        who=who,
        resource_type="user",
        resource_id=who.user_id,
        details={"method": factors.TOTP},
    )
    return ConfirmOut(recovery_codes=codes)


async def _new_recovery_codes(db: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> list[str]:
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.add_all(
        RecoveryCode(org_id=org_id, user_id=user_id, code_sha256=recovery_digest(c)) for c in codes
    )
    await db.flush()
    return codes


# -- verifiers ----------------------------------------------------------------------------------


async def accept_totp(db: AsyncSession, kit: AuthKit, factor: TotpFactor, code: str) -> bool:
    """Whether ``code`` is valid now (one step of drift either way) and for a later step than
    any accepted before; the step is recorded by one conditional UPDATE, so of two racing
    requests with the same code only one passes."""
    cipher = await OrgCipher.load(db, kit.settings, factor.org_id)
    secret = cipher.open_secret(PURPOSE, factor.id, factor.secret_encrypted, factor.key_version)
    totp = pyotp.TOTP(secret.decode())
    try:
        step = totp.verify_and_get_timecode(
            _SEPARATORS.sub("", code), for_time=clock.now(), valid_window=VALID_WINDOW
        )
    except OTPVerificationError:
        return False
    accepted = await db.execute(
        update(TotpFactor)
        .where(
            TotpFactor.id == factor.id,
            or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step),
        )
        .values(last_step=step)
    )
    return rowcount(accepted) == 1


async def use_recovery_code(db: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    """Use up an unused recovery code of the user (one conditional UPDATE)."""
    used = await db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_sha256 == recovery_digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.now())
    )
    return rowcount(used) == 1


async def _verify(db: AsyncSession, kit: AuthKit, user: User, code: str) -> str | None:
    """The method ``code`` was accepted as, or None."""
    method = method_of(code)
    if method == factors.TOTP:
        factor = await db.scalar(
            select(TotpFactor).where(
                TotpFactor.user_id == user.id,
                TotpFactor.org_id == user.org_id,
                TotpFactor.confirmed_at.is_not(None),
            )
        )
        return method if factor is not None and await accept_totp(db, kit, factor, code) else None
    if method == factors.RECOVERY_CODE:
        return method if await use_recovery_code(db, user.id, code) else None
    return None


# -- the login's second step ------------------------------------------------------------------


def _open(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """A challenge that can still complete a login: not used, not expired."""
    return LoginChallenge.used_at.is_(None), LoginChallenge.expires_at > now


async def authenticate(db: AsyncSession, kit: AuthKit, data: AuthenticateIn) -> TokenPair:
    """Finish a login with a TOTP or recovery code. The challenge is used up by one conditional
    UPDATE, so it completes one login even when raced."""
    now = clock.now()
    challenge = await db.scalar(
        select(LoginChallenge).where(
            LoginChallenge.token_sha256 == security.sha256_hex(data.challenge_token),
            *_open(now),
            LoginChallenge.failed_attempts < MAX_CHALLENGE_FAILURES,
        )
    )
    user = await db.get(User, challenge.user_id) if challenge is not None else None
    if challenge is None or user is None or not user.is_active or user.org_id != challenge.org_id:
        raise Unauthorized(INVALID_CHALLENGE, code="INVALID_CHALLENGE")
    limiter = kit.limiter
    await _reserve_attempt(kit, user.id)
    # The challenge's attempt is taken before the code is looked at, by one conditional UPDATE:
    # concurrent guesses on one challenge cannot all pass a count read before any was recorded.
    reserved = await db.execute(
        update(LoginChallenge)
        .where(
            LoginChallenge.id == challenge.id,
            *_open(now),
            LoginChallenge.failed_attempts < MAX_CHALLENGE_FAILURES,
        )
        .values(failed_attempts=LoginChallenge.failed_attempts + 1)
    )
    if rowcount(reserved) != 1:
        raise Unauthorized(INVALID_CHALLENGE, code="INVALID_CHALLENGE", commit=True)
    method = method_of(data.code)
    if method in challenge.methods:
        method = await _verify(db, kit, user, data.code)
    else:
        method = None
    if method is None:
        await _failed(db, user, "user.login_2fa_failed")
        raise Unauthorized(INVALID_CODE, code="INVALID_2FA_CODE", commit=True)
    used = await db.execute(
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge.id, *_open(now))
        .values(used_at=now)
    )
    if rowcount(used) != 1:  # a concurrent request completed it: undo this one's code use
        raise Unauthorized(INVALID_CHALLENGE, code="INVALID_CHALLENGE")
    await limiter.clear(limiter.two_factor_failures, _FAILURES, str(user.id))
    return await auth.complete_login(db, kit, user, method=method)


async def _reserve_attempt(kit: AuthKit, user_id: uuid.UUID) -> None:
    """Count an attempt in the user's failure bucket before the code is checked (429 when it is
    spent); a success clears the bucket. Counted first, so concurrent guesses cannot all pass
    a check made before any of them failed."""
    limiter = kit.limiter
    await limiter.hit(limiter.two_factor_failures, _FAILURES, str(user_id))


async def _failed(db: AsyncSession, user: User, action: str) -> None:
    await audit.record_user(
        db,
        action,
        user,
        resource_type="user",
        resource_id=user.id,
    )


# -- disable ------------------------------------------------------------------------------------


async def disable(db: AsyncSession, kit: AuthKit, who: Principal, data: DisableIn) -> None:
    """Remove the TOTP factor and its recovery codes, with the password and a current code.
    Refused while the org requires 2FA and no passkey would be left."""
    factors.refuse_api_tokens(who)
    limiter = kit.limiter
    user = await factors.lock_user(db, who)
    factor = await _factor(db, who)
    if factor is None or factor.confirmed_at is None:
        raise Conflict("Two-factor authentication is not enabled.", code="2FA_NOT_ENABLED")
    org = await db.get_one(Org, who.org_id)
    if org.require_2fa and factors.WEBAUTHN not in await factors.methods_for(db, user):
        raise Conflict(
            "Your organization requires two-factor authentication: register a passkey before "
            "removing the authenticator app.",
            code="2FA_REQUIRED_BY_ORGANIZATION",
        )
    await _reserve_attempt(kit, user.id)
    if not security.verify_password(kit.hasher, user.password_hash, data.password):
        await _failed(db, user, "user.2fa_disable_failed")
        raise BadRequest("The password is not correct.", code="INVALID_PASSWORD", commit=True)
    if await _verify(db, kit, user, data.code) is None:
        await _failed(db, user, "user.2fa_disable_failed")
        raise BadRequest(INVALID_CODE, code="INVALID_2FA_CODE", commit=True)
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == who.user_id))
    await db.delete(factor)
    await factors.refresh_two_factor(db, user)
    await audit.record(
        db,
        "user.2fa_disabled",
        who=who,
        resource_type="user",
        resource_id=who.user_id,
        details={"method": factors.TOTP},
    )
    await limiter.clear(limiter.two_factor_failures, _FAILURES, str(who.user_id))
