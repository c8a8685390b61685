"""The public account pages and the links the emails send: sign-up, forgotten and reset
password, email verification, accepting an invitation, single sign-on (start and callback) and
signing in with a passkey. Each ends, where the API answers a login, in the browser's session
cookie (``signin.start_browser_session``); no token reaches a URL or the page."""

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from xplorr.auth import browser
from xplorr.console.api import ApiError
from xplorr.console.pages.signin import start_browser_session
from xplorr.console.web import NOTICE_COOKIE, Anyone, Console, NavItem, safe_next

router = APIRouter()
NAV: tuple[NavItem, ...] = ()

SAML_BROWSER_COOKIE = "xplorr_saml_browser"  # set by /auth/saml/init, carried back to the ACS


def with_notice(c: Console, response: Response, notice: str) -> Response:
    """A notice for the next page on a response made elsewhere (a fresh login's redirect)."""
    response.set_cookie(
        NOTICE_COOKIE,
        quote(notice[:300]),
        max_age=60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=browser.secure_cookies(c.kit),
    )
    return response


async def _me(c: Console) -> dict[str, Any] | None:
    """The signed-in person on a public page (None when signed out or the login ended)."""
    if c.login is None:
        return None
    try:
        me: dict[str, Any] = await c.api.get("/auth/me")
    except ApiError:
        return None
    return me


# --- sign-up --------------------------------------------------------------------------------


@router.get("/signup")
async def signup_page(c: Anyone) -> Response:
    if c.login is not None and await _me(c):
        return c.redirect("/")
    return c.render("account/signup.html", values={}, errors={}, error=None)


@router.post("/signup")
async def signup(c: Anyone) -> Response:
    form = await c.form()
    values = {k: str(form.get(k) or "").strip() for k in ("name", "organization_name", "email")}
    body = {**values, "password": str(form.get("password") or "")}
    try:
        pair = await c.api.post("/auth/signup", body)
    except ApiError as error:
        return c.render(
            "account/signup.html",
            status=error.status,
            values=values,
            errors=error.field_errors(),
            error=error,
        )
    response = start_browser_session(c, pair, "/")
    return with_notice(
        c,
        response,
        f"Welcome to Xplorr. We sent a link to {values['email']} to verify your address.",
    )


# --- forgotten / reset password ---------------------------------------------------------------


@router.get("/forgot-password")
async def forgot_page(c: Anyone) -> Response:
    return c.render("account/forgot.html", email="", error=None, sent=None)


@router.post("/forgot-password")
async def forgot(c: Anyone) -> Response:
    email = str((await c.form()).get("email") or "").strip()
    try:
        answer = await c.api.post("/auth/forgot-password", {"email": email})
    except ApiError as error:
        return c.render(
            "account/forgot.html", status=error.status, email=email, error=error, sent=None
        )
    return c.render("account/forgot.html", email=email, error=None, sent=answer["message"])


@router.get("/reset-password")
async def reset_page(c: Anyone) -> Response:
    return c.render("account/reset.html", token=c.query("token"), errors={}, error=None)


@router.post("/reset-password")
async def reset(c: Anyone) -> Response:
    form = await c.form()
    token = str(form.get("token") or "")
    password = str(form.get("new_password") or "")
    if password != str(form.get("confirm_password") or ""):
        errors = {"confirm_password": "The two passwords are not the same."}
        return c.render("account/reset.html", status=422, token=token, errors=errors, error=None)
    try:
        await c.api.post("/auth/reset-password", {"token": token, "new_password": password})
    except ApiError as error:
        return c.render(
            "account/reset.html",
            status=error.status,
            token=token,
            errors=error.field_errors(),
            error=error,
        )
    response = c.redirect("/login", notice="Your password is changed. Sign in with it.")
    browser.clear_login_cookie(response, c.kit)
    return response


# --- email verification ---------------------------------------------------------------------


@router.get("/verify-email")
async def verify_page(c: Anyone) -> Response:
    """The emailed link opens a page with a button: a mail scanner that fetches the link
    verifies nothing; the person's click does."""
    return c.render(
        "account/verify.html", token=c.query("token"), me=await _me(c), error=None, done=False
    )


@router.post("/verify-email")
async def verify(c: Anyone) -> Response:
    token = str((await c.form()).get("token") or "")
    me = await _me(c)
    try:
        await c.api.post("/auth/verify-email", {"token": token})
    except ApiError as error:
        return c.render(
            "account/verify.html", status=error.status, token=token, me=me, error=error, done=False
        )
    if me is not None:
        return c.redirect("/", notice="Your email address is verified.")
    return c.redirect("/login", notice="Your email address is verified. Sign in to continue.")


@router.post("/verify-email/resend")
async def resend_verification(c: Anyone) -> Response:
    me = await _me(c)
    if me is None:
        return c.redirect("/login?next=/verify-email", notice="Sign in to get a new link.")
    try:
        answer = await c.api.post("/auth/resend-verification", {"email": me["email"]})
    except ApiError as error:
        return c.render(
            "account/verify.html", status=error.status, token="", me=me, error=error, done=False
        )
    return c.redirect("/verify-email", notice=str(answer["message"]))


# --- invitations ----------------------------------------------------------------------------


async def _invitation(c: Console, token: str) -> tuple[dict[str, Any] | None, ApiError | None]:
    if not token:
        return None, ApiError(404, "INVITATION_NOT_FOUND", "This invitation link is incomplete.")
    try:
        return await c.api.get(f"/auth/invitation/{quote(token, safe='')}"), None
    except ApiError as error:
        return None, error


@router.get("/accept-invitation")
async def invitation_page(c: Anyone) -> Response:
    token = c.query("token")
    invitation, error = await _invitation(c, token)
    return c.render(
        "account/accept.html",
        status=error.status if error else 200,
        token=token,
        invitation=invitation,
        values={},
        errors={},
        error=error,
    )


@router.post("/accept-invitation")
async def accept_invitation(c: Anyone) -> Response:
    form = await c.form()
    token = str(form.get("token") or "")
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    invitation, error = await _invitation(c, token)
    if error is None and password != str(form.get("confirm_password") or ""):
        error = ApiError(
            422,
            "VALIDATION_ERROR",
            "The two passwords are not the same.",
            [{"field": "confirm_password", "message": "Not the same password."}],
        )
    if error is None:
        try:
            pair = await c.api.post(
                "/auth/accept-invitation", {"token": token, "name": name, "password": password}
            )
        except ApiError as failed:
            error = failed
        else:
            org = (invitation or {}).get("organization_name", "the organization")
            return with_notice(c, start_browser_session(c, pair, "/"), f"Welcome to {org}.")
    assert error is not None
    return c.render(
        "account/accept.html",
        status=error.status,
        token=token,
        invitation=invitation,
        values={"name": name},
        errors=error.field_errors(),
        error=error,
    )


# --- single sign-on ---------------------------------------------------------------------------


@router.get("/login/sso")
async def sso_page(c: Anyone) -> Response:
    return c.render(
        "account/sso.html", who=c.query("who"), next=safe_next(c.query("next")), error=None
    )


@router.post("/login/sso")
async def sso_start(c: Anyone) -> Response:
    """Find the organization (an email's verified domain, or its slug), then ask the API for
    the IdP's address. The API's browser-binding cookie is handed to the browser, which must
    carry it back to the ACS. The IdP is another site: the page links there (and the script
    follows the link), since a form's redirect to it would break the form-action policy."""
    form = await c.form()
    who = str(form.get("who") or "").strip()
    target = safe_next(str(form.get("next") or "/"))
    try:
        slug = who
        if "@" in who:
            check = await c.api.get("/auth/sso/check", {"email": who})
            if not check.get("sso_enabled") or not check.get("org_slug"):
                raise ApiError(
                    404,
                    "SSO_NOT_CONFIGURED",
                    "Single sign-on is not set up for this address. Sign in with your password.",
                )
            slug = str(check["org_slug"])
        answer = await c.api.raw(
            "GET",
            "/auth/saml/init",
            params={"org_slug": slug, **({"redirect_to": target} if target != "/" else {})},
        )
    except ApiError as error:
        return c.render("account/sso.html", status=error.status, who=who, next=target, error=error)
    response = c.render("account/sso_go.html", url=answer.json()["redirect_url"])
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(SAML_BROWSER_COOKIE + "="):
            response.headers.append("set-cookie", header)
    return response


@router.get("/sso/callback")
async def sso_callback(c: Anyone) -> Response:
    """Where a single sign-on lands when the console is the callback: the ACS has already set
    the login cookie, so a signed-in browser goes on to the overview."""
    if c.login is not None and await _me(c) is not None:
        return c.redirect("/")
    response = c.redirect(
        "/login", notice="The single sign-on did not complete. Sign in again, please."
    )
    browser.clear_login_cookie(response, c.kit)
    return response


# --- passkey sign-in ------------------------------------------------------------------------


@router.get("/login/passkey/options")
async def passkey_options(c: Anyone) -> Response:
    """The WebAuthn request options for ``navigator.credentials.get`` (console.js)."""
    try:
        options = await c.api.raw("GET", "/auth/webauthn/authenticate/options")
    except ApiError as error:
        return JSONResponse(
            {"message": error.message},
            status_code=error.status,
            headers={"cache-control": "no-store"},
        )
    return Response(
        options.content, media_type="application/json", headers={"cache-control": "no-store"}
    )


@router.post("/login/passkey")
async def passkey_login(c: Anyone) -> Response:
    form = await c.form()
    target = safe_next(str(form.get("next") or "/"))
    try:
        credential = json.loads(str(form.get("credential") or ""))
        if not isinstance(credential, dict):
            raise ValueError
    except ValueError:
        error = ApiError(400, "INVALID_PASSKEY", "The browser sent no passkey. Try again.")
        return c.render("signin/login.html", status=400, next=target, email="", error=error)
    try:
        pair = await c.api.post("/auth/webauthn/authenticate/verify", {"credential": credential})
    except ApiError as error:
        return c.render(
            "signin/login.html", status=error.status, next=target, email="", error=error
        )
    return start_browser_session(c, pair, target)
