"""The kit every console page uses: who is signed in, the API on their behalf, CSRF, rendering
with the security headers, redirects with a notice, and the navigation the pages declare.

A page module (``console/pages/<name>.py``) has a ``router`` and a ``NAV`` tuple; both are
found, so adding a page edits no shared list. A handler takes ``Signed`` (a signed-in person;
anyone else is sent to the login page) or ``Anyone`` (login, sign-up, the emailed links), calls
``c.api`` and returns ``c.render(...)`` or ``c.redirect(...)``. Unsafe methods are refused
without a valid CSRF token before the handler runs.
"""

import asyncio
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from limits import parse
from markupsafe import Markup
from starlette.datastructures import FormData

from xplorr.auth import browser
from xplorr.console import format as fmt
from xplorr.console.api import ApiError, ConsoleApi
from xplorr.core.deps import AuthKit
from xplorr.core.errors import RateLimited, RespondWith

# No inline script or style anywhere: every script and stylesheet is a file of this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NOTICE_COOKIE = "xplorr_notice"
ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the side navigation: ``section`` groups links, ``order`` sorts them, and a
    role below ``role`` does not see it (it could only be refused there)."""

    section: str
    label: str
    path: str
    order: int
    role: str = "viewer"


SECTIONS = ("Costs", "Savings", "Resources", "Allocation", "Reports", "Settings")


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("xplorr.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=fmt.money,
        number=fmt.number,
        percent=fmt.percent,
        day=fmt.day,
        tojson_attr=lambda value: json.dumps(value, default=str),
    )
    return env


def safe_next(target: str | None) -> str:
    """Only a path of this site (one leading slash): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Console:
    request: Request
    kit: AuthKit
    api: ConsoleApi
    login: browser.BrowserLogin | None
    csrf_nonce: str
    csrf_is_new: bool
    me: dict[str, Any] = field(default_factory=dict)
    org_settings: dict[str, Any] = field(default_factory=dict)

    # --- who ---------------------------------------------------------------------------------

    @property
    def role(self) -> str:
        return str(self.me.get("role") or "viewer")

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]

    @property
    def can_write(self) -> bool:
        return self.at_least("member")

    @property
    def is_admin(self) -> bool:
        return self.at_least("admin")

    @property
    def timezone(self) -> str:
        return str(self.org_settings.get("timezone") or "UTC")

    @property
    def currency(self) -> str:
        return str(self.org_settings.get("default_currency") or "USD")

    @property
    def csrf_token(self) -> str:
        return browser.csrf_token(self.kit, self.csrf_nonce)

    # --- answers -----------------------------------------------------------------------------

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        notice = unquote(self.request.cookies.get(NOTICE_COOKIE) or "")
        page = (
            templates()
            .get_template(template)
            .render(
                c=self,
                request=self.request,
                nav=navigation(self) if self.me else [],
                notice=notice,
                when=lambda value: fmt.when(value, self.timezone),
                csrf_field=Markup(  # noqa: S704 - a hex HMAC, nothing of the user's
                    f'<input type="hidden" name="{browser.CSRF_FIELD}" value="{self.csrf_token}">'
                ),
                **context,
            )
        )
        response = HTMLResponse(page, status_code=status)
        self.finish(response)
        if notice:
            response.delete_cookie(NOTICE_COOKIE, path="/")
        return response

    def redirect(self, target: str, notice: str | None = None, status: int = 303) -> Response:
        response = RedirectResponse(safe_next(target), status_code=status)
        self.finish(response)
        if notice:
            response.set_cookie(
                NOTICE_COOKIE,
                quote(notice[:300]),
                max_age=60,
                path="/",
                httponly=True,
                samesite="lax",
                secure=browser.secure_cookies(self.kit),
            )
        return response

    def finish(self, response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if self.csrf_is_new:
            browser.set_csrf_cookie(response, self.kit, self.csrf_nonce)
        return response

    def error_page(self, error: ApiError) -> HTMLResponse:
        response = self.render("error.html", status=error.status, error=error)
        if error.retry_after:
            response.headers["retry-after"] = error.retry_after
        return response

    # --- input -------------------------------------------------------------------------------

    async def form(self) -> FormData:
        return await self.request.form()

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def url_with(self, **changes: Any) -> str:
        """This page's URL with some query parameters changed (None removes one)."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k not in changes]
        for key, value in changes.items():
            if value is None:
                continue
            values = value if isinstance(value, list | tuple) else [value]
            params.extend((key, str(v)) for v in values)
        return self.request.url.path + (f"?{urlencode(params)}" if params else "")


def navigation(c: Console) -> list[tuple[str, list[NavItem]]]:
    from xplorr.console.pages import nav_items

    items = [i for i in nav_items() if c.at_least(i.role)]
    return [
        (section, sorted((i for i in items if i.section == section), key=lambda i: i.order))
        for section in SECTIONS
        if any(i.section == section for i in items)
    ]


async def _console(request: Request) -> Console:
    kit: AuthKit = request.app.state.kit
    login = browser.decode_login(kit, request.cookies.get(browser.SESSION_COOKIE))
    nonce = request.cookies.get(browser.CSRF_COOKIE)
    c = Console(
        request=request,
        kit=kit,
        api=ConsoleApi(request, kit, login),
        login=login,
        csrf_nonce=nonce or browser.new_csrf_nonce(),
        csrf_is_new=nonce is None,
    )
    if request.method not in SAFE_METHODS:
        await _check_csrf(c)
    await _count_page_view(c)
    return c


async def _count_page_view(c: Console) -> None:
    """One page view in the console's bucket (``auth.browser.CONSOLE_PAGE_LIMIT``), per person
    (per address before sign-in); over it, a page that says when to come back."""
    limiter = c.kit.limiter
    who = f"user:{c.login.user_id}" if c.login else f"ip:{limiter.client_ip(c.request)}"
    try:
        await limiter.hit(parse(browser.CONSOLE_PAGE_LIMIT), "console", who)
    except RateLimited as exc:
        retry = (exc.headers or {}).get("Retry-After")
        error = ApiError(429, "RATE_LIMITED", "Too many pages in a short time.", retry_after=retry)
        raise RespondWith(c.error_page(error)) from exc


async def _check_csrf(c: Console) -> None:
    request = c.request
    sent = request.headers.get(browser.CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = str((await request.form()).get(browser.CSRF_FIELD) or "")
    nonce = request.cookies.get(browser.CSRF_COOKIE)
    if not browser.csrf_valid(c.kit, nonce, sent):
        c.csrf_is_new = nonce is None
        raise RespondWith(
            c.render(
                "error.html",
                status=403,
                error=ApiError(
                    403,
                    "CSRF_FAILED",
                    "This form has expired or did not come from this site. Go back, reload the "
                    "page and try again.",
                ),
            )
        )


async def anyone(request: Request) -> Console:
    return await _console(request)


def login_redirect(c: Console) -> Response:
    here = c.request.url.path + (f"?{c.request.url.query}" if c.request.url.query else "")
    response = c.redirect(f"/login?{urlencode({'next': here})}" if here != "/" else "/login")
    browser.clear_login_cookie(response, c.kit)
    return response


async def signed_in(request: Request) -> Console:
    c = await _console(request)
    if c.login is None:
        raise RespondWith(login_redirect(c))
    try:
        c.me, c.org_settings = await asyncio.gather(c.api.get("/auth/me"), c.api.get("/settings"))
    except ApiError as error:
        if error.status == 401:
            raise RespondWith(login_redirect(c)) from error
        if error.code == "2FA_SETUP_REQUIRED":
            if request.url.path.startswith("/security"):
                return c
            raise RespondWith(c.redirect("/security", notice=error.message)) from error
        raise RespondWith(c.error_page(error)) from error
    return c


Anyone = Annotated[Console, Depends(anyone)]
Signed = Annotated[Console, Depends(signed_in)]
