"""Your security: the authenticator app (set up once, with its secret and QR code shown only
then, and the recovery codes shown only after confirming), passkeys, your password; and for
admins the organization's 2FA requirement and its single sign-on configuration.

A person whose organization requires 2FA and who has none is sent here by ``signed_in`` with
no navigation (every other page would refuse them): the page reads only what the API answers in
that state and offers the setup and sign-out."""

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.auth import browser
from xplorr.console.api import ApiError, all_of
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Settings", "Security", "/security", 30),)

ROLES = ("admin", "member", "viewer")


async def _optional(call: Any) -> Any:
    try:
        return await call
    except ApiError as error:
        if error.status in (403, 404):
            return None
        raise


async def _page(c: Console, status: int = 200, **extra: Any) -> Response:
    pending = not c.me  # the organization's 2FA requirement is not met yet
    try:
        me = c.me or await c.api.get("/auth/me")
        passkeys, org, sso = await all_of(
            _optional(c.api.get("/auth/webauthn/credentials", {"limit": 100})),
            _optional(c.api.get("/organizations/current")) if c.is_admin else _none(),
            _optional(c.api.get("/auth/sso/config")) if c.is_admin else _none(),
        )
    except ApiError as error:
        return c.error_page(error)
    context: dict[str, Any] = {
        "me": me,
        "pending": pending,
        "passkeys": (passkeys or {}).get("data", []),
        "org": org,
        "sso": sso,
        "roles": ROLES,
        "setup": None,
        "recovery_codes": None,
        "errors": {},
        "error": None,
        "section": None,
        "sso_values": None,
    }
    context.update(extra)
    return c.render("security/index.html", status=status, **context)


async def _none() -> None:
    return None


async def _failed(c: Console, error: ApiError, section: str, **extra: Any) -> Response:
    return await _page(
        c, status=error.status, error=error, errors=error.field_errors(), section=section, **extra
    )


@router.get("/security")
async def security_page(c: Signed) -> Response:
    return await _page(c)


# --- authenticator app ------------------------------------------------------------------------


@router.post("/security/2fa/setup")
async def setup_2fa(c: Signed) -> Response:
    try:
        setup = await c.api.post("/auth/2fa/setup")
    except ApiError as error:
        return await _failed(c, error, "2fa")
    return await _page(c, setup=setup)


@router.post("/security/2fa/confirm")
async def confirm_2fa(c: Signed) -> Response:
    form = await c.form()
    # The secret shown a moment ago comes back with the code, so a mistyped code shows the
    # same secret and QR code again (a new setup would start over with another secret).
    setup = {k: str(form.get(k) or "") for k in ("secret", "otpauth_uri", "qr_code")}
    if not setup["qr_code"].startswith("data:image/"):
        setup["qr_code"] = ""
    try:
        answer = await c.api.post(
            "/auth/2fa/confirm", {"code": str(form.get("code") or "").replace(" ", "")}
        )
    except ApiError as error:
        return await _failed(c, error, "2fa", setup=setup)
    if not c.me:  # the organization's requirement is met now: the navigation comes back
        c.me = await _optional(c.api.get("/auth/me")) or {}
    return await _page(c, recovery_codes=answer["recovery_codes"])


@router.post("/security/2fa/disable")
async def disable_2fa(c: Signed) -> Response:
    form = await c.form()
    body = {"password": str(form.get("password") or ""), "code": str(form.get("code") or "")}
    try:
        await c.api.post("/auth/2fa/disable", body)
    except ApiError as error:
        return await _failed(c, error, "2fa-off")
    return c.redirect("/security", notice="Two-factor authentication is off.")


# --- passkeys -----------------------------------------------------------------------------------


@router.get("/security/passkeys/options")
async def passkey_options(c: Signed) -> Response:
    """The WebAuthn creation options for ``navigator.credentials.create`` (console.js)."""
    headers = {"cache-control": "no-store"}
    try:
        options = await c.api.raw("GET", "/auth/webauthn/register/options")
    except ApiError as error:
        body = json.dumps({"message": error.message})
        return Response(
            body, status_code=error.status, media_type="application/json", headers=headers
        )
    return Response(options.content, media_type="application/json", headers=headers)


@router.post("/security/passkeys")
async def add_passkey(c: Signed) -> Response:
    form = await c.form()
    try:
        credential = json.loads(str(form.get("credential") or ""))
        if not isinstance(credential, dict):
            raise ValueError
    except ValueError:
        error = ApiError(400, "INVALID_PASSKEY", "The browser sent no passkey. Try again.")
        return await _failed(c, error, "passkeys")
    name = str(form.get("name") or "").strip() or "Passkey"
    try:
        await c.api.post("/auth/webauthn/register/verify", {"credential": credential, "name": name})
    except ApiError as error:
        return await _failed(c, error, "passkeys")
    return c.redirect("/security", notice=f"Passkey “{name}” added.")


@router.post("/security/passkeys/{credential_id}/delete")
async def delete_passkey(credential_id: str, c: Signed) -> Response:
    try:
        await c.api.delete(f"/auth/webauthn/credentials/{credential_id}")
    except ApiError as error:
        return await _failed(c, error, "passkeys")
    return c.redirect("/security", notice="Passkey removed.")


# --- password -----------------------------------------------------------------------------------


@router.post("/security/password")
async def change_password(c: Signed) -> Response:
    form = await c.form()
    new = str(form.get("new_password") or "")
    if new != str(form.get("confirm_password") or ""):
        error = ApiError(
            422,
            "VALIDATION_ERROR",
            "The two new passwords are not the same.",
            [{"field": "confirm_password", "message": "Not the same password."}],
        )
        return await _failed(c, error, "password")
    body = {
        "current_password": str(form.get("current_password") or ""),
        "new_password": new,
        "end_this_session": True,  # the next sign-in proves the new password
    }
    try:
        await c.api.post("/auth/change-password", body)
    except ApiError as error:
        return await _failed(c, error, "password")
    response = c.redirect("/login", notice="Your password is changed. Sign in with the new one.")
    browser.clear_login_cookie(response, c.kit)
    response.delete_cookie(browser.REFRESH_COOKIE, path="/logout")
    return response


# --- organization (admin) -----------------------------------------------------------------------


@router.post("/security/require-2fa")
async def require_2fa(c: Signed) -> Response:
    required = (await c.form()).get("required") == "true"
    try:
        await c.api.patch("/organizations/require-2fa", {"required": required})
    except ApiError as error:
        return await _failed(c, error, "org")
    return c.redirect(
        "/security",
        notice="Two-factor authentication is now required for everyone."
        if required
        else "Two-factor authentication is no longer required.",
    )


@router.post("/security/sso")
async def save_sso(c: Signed) -> Response:
    form = await c.form()
    values: dict[str, Any] = {
        "idp_entity_id": str(form.get("idp_entity_id") or "").strip(),
        "sso_url": str(form.get("sso_url") or "").strip(),
        "x509_cert": str(form.get("x509_cert") or "").strip(),
        "email_domains": str(form.get("email_domains") or ""),
        "enforce": form.get("enforce") == "on",
        "default_role": str(form.get("default_role") or "member"),
    }
    body: dict[str, Any] = {
        k: v for k, v in values.items() if k not in ("email_domains", "x509_cert") and v != ""
    }
    domains = [d.strip() for d in str(values["email_domains"]).replace("\n", ",").split(",")]
    body["email_domains"] = [d for d in domains if d]
    if values["x509_cert"]:
        body["x509_cert"] = values["x509_cert"]
    try:
        await c.api.patch("/auth/sso/config", body)
    except ApiError as error:
        return await _failed(c, error, "sso", sso_values=values)
    return c.redirect("/security", notice="Single sign-on is saved.")


@router.post("/security/sso/verify")
async def verify_sso_domains(c: Signed) -> Response:
    try:
        await c.api.post("/auth/sso/domains/verify")
    except ApiError as error:
        return await _failed(c, error, "sso")
    return c.redirect("/security", notice="The domains' DNS records were checked.")


@router.post("/security/sso/delete")
async def delete_sso(c: Signed) -> Response:
    try:
        await c.api.delete("/auth/sso/config")
    except ApiError as error:
        return await _failed(c, error, "sso")
    return c.redirect("/security", notice="Single sign-on is off.")
