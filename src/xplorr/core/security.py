"""Passwords, access JWTs and opaque tokens (security guide 1.1, 1.7, 1.8).

- Passwords: argon2id, length 12..128 as typed (no truncation, no composition rules),
  refused when on the shipped common-password list or built from the user's own email
  (ASVS 6.2.x).
- Access JWTs: HS256 only (pinned on decode), ``iss``, ``aud``, ``typ=access``,
  ``exp``/``nbf``/``iat`` required, lifetime <= 15 min.
- Opaque tokens (refresh, reset, invite): 256-bit CSPRNG values; only their SHA-256 is stored.
- API tokens: ``xplorr_`` + 32 base62 random characters (190 bits) + a 6-character base62 CRC32
  checksum (GitHub's format), so a malformed token is refused without touching the database.
"""

import hashlib
import hmac
import secrets
import string
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from xplorr.core import clock

JWT_ALGORITHM = "HS256"
ACCESS_TYP = "access"
PASSWORD_MIN, PASSWORD_MAX = 12, 128
API_TOKEN_PREFIX = "xplorr_"  # noqa: S105 (a public prefix, not a secret)
_BASE62 = string.digits + string.ascii_letters
_API_RANDOM_LEN, _API_CHECK_LEN = 32, 6


# --- passwords ---------------------------------------------------------------------------------


def make_hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def verify_password(hasher: PasswordHasher, stored: str | None, password: str) -> bool:
    """Constant work whether or not the user exists: an unknown email still pays one verify."""
    try:
        return hasher.verify(stored or _dummy_hash(hasher), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _data_lines(name: str) -> frozenset[str]:
    text = resources.files("xplorr.data").joinpath(name).read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why a new password is refused, or None. Checked on signup, change and reset."""
    if len(password) < PASSWORD_MIN:
        return f"Password must be at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Password must be at most {PASSWORD_MAX} characters."
    lowered = password.lower()
    if lowered in _data_lines("common_passwords.txt") or len(set(password)) < 4:
        return "This password is too common; choose another one."
    if email:
        local = email.split("@", 1)[0].lower()
        if lowered in {email.lower(), local} or (len(local) >= 5 and local in lowered):
            return "Password must not contain your email address."
    return None


def is_free_email_domain(email: str) -> bool:
    domain = email.rsplit("@", 1)[-1].lower().rstrip(".")
    return domain in _data_lines("free_email_domains.txt")


# --- opaque tokens -----------------------------------------------------------------------------


def new_opaque_token() -> str:
    """256 bits from the CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        out.append(_BASE62[rem])
    return "".join(reversed(out))


def new_api_token() -> str:
    body = "".join(secrets.choice(_BASE62) for _ in range(_API_RANDOM_LEN))
    return API_TOKEN_PREFIX + body + _b62(zlib.crc32(body.encode()), _API_CHECK_LEN)


def api_token_well_formed(token: str) -> bool:
    if not token.startswith(API_TOKEN_PREFIX):
        return False
    rest = token[len(API_TOKEN_PREFIX) :]
    if len(rest) != _API_RANDOM_LEN + _API_CHECK_LEN or any(c not in _BASE62 for c in rest):
        return False
    body, check = rest[:_API_RANDOM_LEN], rest[_API_RANDOM_LEN:]
    return hmac.compare_digest(_b62(zlib.crc32(body.encode()), _API_CHECK_LEN), check)


def api_token_display_prefix(token: str) -> str:
    return token[: len(API_TOKEN_PREFIX) + 6]


# --- access JWTs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    org_id: uuid.UUID
    session_id: uuid.UUID | None  # refresh family (``sid``) for logins
    api_token_id: uuid.UUID | None  # ``tid`` for JWTs minted by /tokens/exchange
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class JwtConfig:
    key: str
    issuer: str
    audience: str
    ttl: timedelta


def issue_access_token(
    cfg: JwtConfig,
    *,
    user_id: uuid.UUID,
    org_id: uuid.UUID,
    session_id: uuid.UUID | None = None,
    api_token_id: uuid.UUID | None = None,
) -> str:
    issued = clock.now()
    claims: dict[str, Any] = {
        "iss": cfg.issuer,
        "aud": cfg.audience,
        "typ": ACCESS_TYP,
        "sub": str(user_id),
        "user_id": str(user_id),
        "org_id": str(org_id),
        "iat": issued,
        "nbf": issued,
        "exp": issued + cfg.ttl,
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    if api_token_id is not None:
        claims["tid"] = str(api_token_id)
    return jwt.encode(claims, cfg.key, algorithm=JWT_ALGORITHM, headers={"typ": "JWT"})


def decode_access_token(cfg: JwtConfig, token: str) -> AccessClaims | None:
    """Claims of a valid access token, or None (bad signature, alg, iss, aud, typ, time)."""
    try:
        claims = jwt.decode(
            token,
            cfg.key,
            algorithms=[JWT_ALGORITHM],
            audience=cfg.audience,
            issuer=cfg.issuer,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "typ"]},
            leeway=5,
        )
        if claims.get("typ") != ACCESS_TYP or ("sid" in claims) == ("tid" in claims):
            return None
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            org_id=uuid.UUID(claims["org_id"]),
            session_id=uuid.UUID(claims["sid"]) if "sid" in claims else None,
            api_token_id=uuid.UUID(claims["tid"]) if "tid" in claims else None,
            expires_at=datetime.fromtimestamp(claims["exp"], clock.now().tzinfo),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None
