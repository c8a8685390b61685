"""Logins of a browser (the web console): a cookie tied to the login session, and CSRF tokens.

The cookie holds no credential the API would accept: it is a signed claim naming the login
session (``AuthSession``), checked again on every request through the same path as an access
token (``auth.service.resolve_principal``), so logout, a password change, revoked sessions and a
deactivated user end it at once. It is HttpOnly (never readable by JavaScript), SameSite=Lax,
and Secure except on a plain-http loopback address (a laptop trying Xplorr).

Unsafe requests carry a CSRF token: ``csrf_token(kit, nonce)``, an HMAC of a random nonce kept
in a cookie of its own, so a page of another site can neither read nor forge it. Here rather
than in the console, because the SAML assertion consumer (``sso``) also starts browser logins.
"""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import jwt
from starlette.responses import Response

from xplorr.core import clock
from xplorr.core.deps import AuthKit

SESSION_COOKIE = "xplorr_session"
CSRF_COOKIE = "xplorr_csrf"
CSRF_FIELD = "csrf_token"  # form field
CSRF_HEADER = "x-csrf-token"  # htmx and fetch() requests
_TYP = "console+jwt"
_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class BrowserLogin:
    user_id: uuid.UUID
    org_id: uuid.UUID
    session_id: uuid.UUID


def secure_cookies(kit: AuthKit) -> bool:
    """Secure cookies unless the installation is served over plain http on a loopback address
    (``XPLORR_BASE_URL=http://127.0.0.1:8000``), where a browser would drop them."""
    parts = urlsplit(kit.settings.base_url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return True


def encode_login(kit: AuthKit, login: BrowserLogin, expires_at: datetime) -> str:
    claims: dict[str, Any] = {
        "iss": kit.jwt.issuer,
        "aud": f"{kit.jwt.audience}:console",
        "typ": _TYP,
        "sub": str(login.user_id),
        "org": str(login.org_id),
        "sid": str(login.session_id),
        "iat": clock.now(),
        "exp": expires_at,
    }
    return jwt.encode(claims, kit.jwt.key, algorithm=_ALGORITHM)


def decode_login(kit: AuthKit, value: str | None) -> BrowserLogin | None:
    """The login a cookie names, or None (absent, forged, expired, another kind of token)."""
    if not value:
        return None
    try:
        claims = jwt.decode(
            value,
            kit.jwt.key,
            algorithms=[_ALGORITHM],
            audience=f"{kit.jwt.audience}:console",
            issuer=kit.jwt.issuer,
            options={"require": ["exp", "iat", "sub", "sid", "org", "typ"]},
        )
        if claims["typ"] != _TYP:
            return None
        return BrowserLogin(
            user_id=uuid.UUID(claims["sub"]),
            org_id=uuid.UUID(claims["org"]),
            session_id=uuid.UUID(claims["sid"]),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None


def set_login_cookie(
    response: Response, kit: AuthKit, login: BrowserLogin, expires_at: datetime
) -> None:
    """Sign ``login`` into the session cookie, for as long as the login session lives."""
    max_age = max(1, int((expires_at - clock.now()).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        encode_login(kit, login, expires_at),
        max_age=max_age,
        path="/",
        secure=secure_cookies(kit),
        httponly=True,
        samesite="lax",
    )


def clear_login_cookie(response: Response, kit: AuthKit) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure_cookies(kit), httponly=True, samesite="lax"
    )


def default_lifetime(kit: AuthKit) -> datetime:
    return clock.now() + timedelta(days=kit.settings.refresh_token_ttl_days)


# --- the console's reads of the API ------------------------------------------------------------

INTERNAL_READ_HEADER = "x-xplorr-console-read"
CONSOLE_PAGE_LIMIT = "60/minute"  # page views a person may load, whatever each page reads


def internal_read_proof(kit: AuthKit) -> str:
    """What the console sends on its in-process GETs; derived from the signing key, so no
    client outside the process can send it."""
    return hmac.new(kit.jwt.key.encode(), b"console-internal-read", hashlib.sha256).hexdigest()


def is_internal_read(kit: AuthKit, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(internal_read_proof(kit), str(sent))


# --- CSRF ---------------------------------------------------------------------------------------


def new_csrf_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(kit: AuthKit, nonce: str) -> str:
    mac = hmac.new(kit.jwt.key.encode(), f"csrf:{nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()


def csrf_valid(kit: AuthKit, nonce: str | None, sent: str | None) -> bool:
    if not nonce or not sent:
        return False
    return hmac.compare_digest(csrf_token(kit, nonce), sent)


def set_csrf_cookie(response: Response, kit: AuthKit, nonce: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        path="/",
        secure=secure_cookies(kit),
        httponly=True,
        samesite="lax",
    )
