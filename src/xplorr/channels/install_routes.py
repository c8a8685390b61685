"""The HTTP answers of a chat app's OAuth install (Slack, Teams, and the next app), for their
routers: ``GET /<app>/install`` and ``GET /<app>/oauth_redirect`` answer JSON to a client that
asks for it (``Accept: application/json``) and send a browser on with a 303; neither is ever
cached. A failed callback sends the browser to the console with ``result=denied`` or ``error``
and the error's code as ``reason``; a JSON client gets the error itself. A callback that ends a
first leg (``NextLeg``: Teams' admin consent) answers like ``install``: the next page at the
provider.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels.models import ChatProvider
from xplorr.channels.oauth_state import ConsentDenied, NextLeg, console_url
from xplorr.channels.schemas import OAuthResultOut
from xplorr.core.errors import ErrorEnvelope, XplorrError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REDIRECT: dict[int | str, dict[str, Any]] = {
    303: {"description": "Browser redirect (the default without Accept: application/json)."}
}

T = TypeVar("T")


def callback_responses(
    *, conflict: str, upstream: str, bad_request: str | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of an app's ``oauth_redirect``: the state and consent refusals
    are the same for every app; ``conflict`` (409), ``upstream`` (502) and ``bad_request``
    (more 400s) name the app's own."""
    refused = "OAUTH_STATE_INVALID, OAUTH_CONSENT_DENIED"
    return {
        **REDIRECT,
        400: {
            "model": ErrorEnvelope,
            "description": f"{refused}, {bad_request}" if bad_request else refused,
        },
        403: {"model": ErrorEnvelope, "description": "The state's admin is no longer one."},
        409: {"model": ErrorEnvelope, "description": conflict},
        502: {"model": ErrorEnvelope, "description": upstream},
    }


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def install_answer(request: Request, authorize_url: str) -> Response:
    """The app's authorize page: ``{"redirect_url"}``, or a 303 to it."""
    if _wants_json(request):
        return JSONResponse({"redirect_url": authorize_url}, headers=NO_STORE)
    return _redirect(authorize_url)


async def callback_answer(
    request: Request,
    db: AsyncSession,
    base_url: str,
    provider: ChatProvider,
    install: Awaitable[T | NextLeg],
    installed_name: Callable[[T], str | None],
) -> Response:
    """The callback's outcome: ``install`` is the app service's ``finish_install(...)``,
    awaited here so that its refusals reach a browser as a redirect. JSON: ``OAuthResultOut``
    naming what was connected (``installed_name`` of the stored row), ``{"redirect_url"}``
    when the install goes on at the provider (``NextLeg``), or the error. An error's changes
    are rolled back unless it keeps them (``commit``: the state stays spent)."""
    try:
        row = await install
    except XplorrError as exc:
        if _wants_json(request):
            raise
        result = "denied" if isinstance(exc, ConsentDenied) else "error"
        if not exc.commit:
            await db.rollback()
        return _redirect(console_url(base_url, provider.value, result, exc.error_code))
    if isinstance(row, NextLeg):
        return install_answer(request, row.url)
    if _wants_json(request):
        out = OAuthResultOut(
            provider=provider.value, result="installed", team_name=installed_name(row)
        )
        return JSONResponse(out.model_dump(mode="json"), headers=NO_STORE)
    return _redirect(console_url(base_url, provider.value, "installed"))
