"""Signing in and out: password, then the second factor when one is due (an authenticator code
or a recovery code); the login becomes the browser's session cookie (``auth.browser``)."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.auth import browser
from xplorr.console.api import ApiError
from xplorr.console.web import Anyone, Console, NavItem, safe_next
from xplorr.core import security

router = APIRouter()
NAV: tuple[NavItem, ...] = ()

CHALLENGE_COOKIE = "xplorr_2fa_challenge"  # the 2FA challenge token, never in the page
REFRESH_COOKIE = browser.REFRESH_COOKIE  # sent only to /logout, which revokes the login with it


def start_browser_session(c: Console, pair: dict[str, Any], target: str) -> Response:
    """Turn a token pair the API answered into the browser's login cookie and go to ``target``.
    The access token is read here and dropped; the refresh token is kept only for /logout."""
    claims = security.decode_access_token(c.kit.jwt, str(pair["access_token"]))
    if claims is None or claims.session_id is None:
        return c.error_page(ApiError(500, "LOGIN_FAILED", "The login could not be completed."))
    response = c.redirect(target)
    login = browser.BrowserLogin(claims.user_id, claims.org_id, claims.session_id)
    expires = browser.default_lifetime(c.kit)
    browser.set_login_cookie(response, c.kit, login, expires)
    browser.set_refresh_cookie(response, c.kit, str(pair["refresh_token"]), expires)
    response.delete_cookie(CHALLENGE_COOKIE, path="/login")
    return response


@router.get("/login")
async def login_page(c: Anyone) -> Response:
    if c.login is not None:
        return c.redirect(safe_next(c.query("next")))
    return c.render("signin/login.html", next=safe_next(c.query("next")), email="", error=None)


@router.post("/login")
async def login(c: Anyone) -> Response:
    form = await c.form()
    email = str(form.get("email") or "").strip()
    target = safe_next(str(form.get("next") or "/"))
    try:
        answer = await c.api.post(
            "/auth/login", {"email": email, "password": str(form.get("password") or "")}
        )
    except ApiError as error:
        return c.render(
            "signin/login.html", status=error.status, next=target, email=email, error=error
        )
    if answer.get("requires_2fa"):
        response = c.render(
            "signin/second_factor.html", next=target, methods=answer["methods"], error=None
        )
        response.set_cookie(
            CHALLENGE_COOKIE,
            str(answer["challenge_token"]),
            max_age=int(answer.get("expires_in") or 300),
            path="/login",
            secure=browser.secure_cookies(c.kit),
            httponly=True,
            samesite="strict",
        )
        return response
    return start_browser_session(c, answer, target)


@router.post("/login/second-factor")
async def second_factor(c: Anyone) -> Response:
    form = await c.form()
    target = safe_next(str(form.get("next") or "/"))
    challenge = c.request.cookies.get(CHALLENGE_COOKIE)
    if not challenge:
        return c.redirect("/login", notice="The sign-in took too long. Enter your password again.")
    try:
        pair = await c.api.post(
            "/auth/2fa/authenticate",
            {"challenge_token": challenge, "code": str(form.get("code") or "").strip()},
        )
    except ApiError as error:
        if error.code == "INVALID_CHALLENGE":
            return c.redirect("/login", notice=error.message)
        return c.render(
            "signin/second_factor.html", status=error.status, next=target, methods=[], error=error
        )
    return start_browser_session(c, pair, target)


@router.post("/logout")
async def logout(c: Anyone) -> Response:
    refresh = c.request.cookies.get(REFRESH_COOKIE)
    if refresh:
        try:
            await c.api.post("/auth/logout", {"refresh_token": refresh})
        except ApiError as error:
            if error.status >= 500:
                return c.error_page(error)
            # A login already ended (expired, revoked elsewhere) needs no second ending.
    response = c.redirect("/login", notice="You are signed out.")
    browser.clear_login_cookie(response, c.kit)
    response.delete_cookie(REFRESH_COOKIE, path="/logout")
    return response
