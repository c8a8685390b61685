"""Who is calling: ``CurrentUser`` (401; 403 ``READ_ONLY_TOKEN`` when a read-only API token
writes), ``WriterUser`` (403 for viewers), ``AdminUser`` (403 for members and viewers),
``OwnerUser``. Also the app-wide rate-limit dependency, which needs to
know the caller to key its bucket by user rather than by IP."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from xplorr.auth import browser, service
from xplorr.core.db import DbSession
from xplorr.core.deps import Kit
from xplorr.core.errors import Forbidden, Unauthorized
from xplorr.core.tenancy import Principal, Role


def bearer_value(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else ""


async def get_optional_principal(request: Request, db: DbSession, kit: Kit) -> Principal | None:
    """The caller, or None when no valid credentials were sent (public routes don't mind)."""
    token = bearer_value(request)
    who = await service.resolve_principal(db, kit, token) if token else None
    request.state.principal = who
    return who


OptionalUser = Annotated[Principal | None, Depends(get_optional_principal)]


# Methods a read-only API token may use: they change nothing (RFC 9110 "safe" methods).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_authenticated(request: Request, who: OptionalUser) -> Principal:
    """The caller (401 without valid credentials), whatever its token's scope."""
    if who is None:
        sent = bearer_value(request) is not None
        raise Unauthorized("Invalid or expired token." if sent else "Authentication required.")
    return who


Authenticated = Annotated[Principal, Depends(get_authenticated)]


async def get_setup_principal(request: Request, who: Authenticated) -> Principal:
    """The caller, even one who must still set up 2FA: only for the endpoints that set it up.
    A read-only API token is refused here for anything but a safe method, so every route
    behind ``CurrentUser`` (and its role aliases) is closed to it without a per-route check."""
    if who.read_only and request.method not in SAFE_METHODS:
        raise Forbidden(
            "This API token is read-only: it may only read (GET). "
            'Create a token with scope "write" to make changes.',
            code="READ_ONLY_TOKEN",
        )
    return who


SetupUser = Annotated[Principal, Depends(get_setup_principal)]


def _require_2fa_done(who: Principal) -> Principal:
    if who.two_factor_setup_required:
        raise Forbidden(
            "Your organization requires two-factor authentication. Set up an authenticator app "
            "(POST /auth/2fa/setup) or a passkey first.",
            code="2FA_SETUP_REQUIRED",
        )
    return who


async def get_principal(who: SetupUser) -> Principal:
    return _require_2fa_done(who)


CurrentUser = Annotated[Principal, Depends(get_principal)]


async def get_any_scope_principal(who: Authenticated) -> Principal:
    """``CurrentUser`` that a read-only token may also reach with a POST: only for a POST that
    writes nothing (the token exchange, whose JWT keeps the token's read-only scope)."""
    return _require_2fa_done(who)


AnyScopeUser = Annotated[Principal, Depends(get_any_scope_principal)]


async def require_writer(who: CurrentUser) -> Principal:
    if who.role == Role.VIEWER:
        raise Forbidden("Viewers have read-only access.")
    return who


async def require_admin(who: CurrentUser) -> Principal:
    if not who.is_admin:
        raise Forbidden("This action requires an owner or admin.")
    return who


async def require_owner(who: CurrentUser) -> Principal:
    if who.role != Role.OWNER:
        raise Forbidden("This action requires the organization owner.")
    return who


WriterUser = Annotated[Principal, Depends(require_writer)]
AdminUser = Annotated[Principal, Depends(require_admin)]
OwnerUser = Annotated[Principal, Depends(require_owner)]


async def enforce_rate_limit(request: Request, who: OptionalUser, kit: Kit) -> None:
    """App-wide dependency: count this request in its route's bucket (see core.ratelimit).

    The web console's own reads are not counted here: a page view is counted once, in the
    console's bucket, however many reads its page makes (``auth.browser.internal_read_proof``
    marks them; only this process can make the mark). Its writes count as any API call."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    if request.method == "GET" and browser.is_internal_read(
        kit, request.headers.get(browser.INTERNAL_READ_HEADER)
    ):
        return
    limiter = kit.limiter
    rule = limiter.rule_for(route)
    ident = (
        f"user:{who.user_id}" if who and rule.key == "auto" else f"ip:{limiter.client_ip(request)}"
    )
    await limiter.hit(rule.item, route.path, ",".join(sorted(route.methods or ())), ident)
