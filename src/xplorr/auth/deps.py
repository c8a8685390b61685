"""Who is calling: ``CurrentUser`` (401), ``WriterUser`` (403 for viewers), ``AdminUser`` (403 for
members and viewers), ``OwnerUser``. Also the app-wide rate-limit dependency, which needs to
know the caller to key its bucket by user rather than by IP."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from xplorr.auth import service
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


async def get_setup_principal(request: Request, who: OptionalUser) -> Principal:
    """The caller, even one who must still set up 2FA: only for the endpoints that set it up."""
    if who is None:
        sent = bearer_value(request) is not None
        raise Unauthorized("Invalid or expired token." if sent else "Authentication required.")
    return who


SetupUser = Annotated[Principal, Depends(get_setup_principal)]


async def get_principal(who: SetupUser) -> Principal:
    if who.two_factor_setup_required:
        raise Forbidden(
            "Your organization requires two-factor authentication. Set up an authenticator app "
            "(POST /auth/2fa/setup) or a passkey first.",
            code="2FA_SETUP_REQUIRED",
        )
    return who


CurrentUser = Annotated[Principal, Depends(get_principal)]


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
    """App-wide dependency: count this request in its route's bucket (see core.ratelimit)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    limiter = kit.limiter
    rule = limiter.rule_for(route)
    ident = (
        f"user:{who.user_id}" if who and rule.key == "auto" else f"ip:{limiter.client_ip(request)}"
    )
    await limiter.hit(rule.item, route.path, ",".join(sorted(route.methods or ())), ident)
