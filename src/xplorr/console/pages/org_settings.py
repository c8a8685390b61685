"""The organization's settings (everyone reads them; admins change them), its name and
numbers, closing it (the owner, with the password and the organization's name typed out), and
each person's own email notification switches (``/settings/notifications``)."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.auth import browser
from xplorr.console.api import ApiError, all_of
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (
    NavItem("Settings", "Organization settings", "/settings", 40),
    NavItem("Settings", "Notifications", "/settings/notifications", 50),
)

TEXT_FIELDS = ("default_currency", "timezone", "approval_threshold", "anomaly_min_delta")
SWITCHES = ("anomaly_detect_drops", "digest_enabled", "weekly_summary_enabled")
CHOICES = ("digest_time", "commitment_term", "commitment_payment_option")
NOTIFICATIONS = (
    ("welcome", "Welcome email"),
    ("sync_complete", "A cloud account finished syncing"),
    ("sync_failed", "A sync failed"),
    ("anomaly_detected", "A cost anomaly was found"),
    ("budget_alert", "A budget crossed a threshold"),
    ("projected_overrun", "A budget is projected to overrun"),
    ("weekly_digest", "Weekly digest"),
    ("ri_sp_expiration", "A reservation or savings plan expires soon"),
)
CLOSE_HEADER = "DELETE_MY_ORGANIZATION"  # the API's confirmation, sent once the name is typed


async def _page(c: Console, status: int = 200, **extra: Any) -> Response:
    try:
        org, stats = await all_of(
            c.api.get("/organizations/current"),
            c.api.get("/organizations/stats") if c.is_admin else _nothing(),
        )
    except ApiError as error:
        return c.error_page(error)
    context: dict[str, Any] = {
        "org": org,
        "stats": stats,
        "s": c.org_settings,
        "values": None,
        "errors": {},
        "error": None,
        "section": None,
    }
    context.update(extra)
    return c.render("org/settings.html", status=status, **context)


async def _nothing() -> None:
    return None


@router.get("/settings")
async def settings_page(c: Signed) -> Response:
    return await _page(c)


@router.post("/settings")
async def save_settings(c: Signed) -> Response:
    form = await c.form()
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in (*TEXT_FIELDS, *CHOICES)}
    values.update({k: form.get(k) == "on" for k in SWITCHES})
    body: dict[str, Any] = {k: v for k, v in values.items() if v != ""}
    if values["default_currency"] == "":
        body["default_currency"] = None  # "the one most accounts bill in"
    try:
        await c.api.patch("/settings", body)
    except ApiError as error:
        return await _page(
            c,
            status=error.status,
            values=values,
            errors=error.field_errors(),
            error=error,
            section="settings",
        )
    return c.redirect("/settings", notice="Settings saved.")


@router.post("/settings/name")
async def rename(c: Signed) -> Response:
    name = str((await c.form()).get("name") or "").strip()
    try:
        await c.api.patch("/organizations/current", {"name": name})
    except ApiError as error:
        return await _page(
            c, status=error.status, errors=error.field_errors(), error=error, section="name"
        )
    return c.redirect("/settings", notice=f"The organization is now called {name}.")


@router.post("/settings/close")
async def close(c: Signed) -> Response:
    form = await c.form()
    org_name = str((c.me.get("organization") or {}).get("name") or "")
    if str(form.get("confirm_name") or "").strip() != org_name:
        error = ApiError(
            422,
            "CONFIRMATION_REQUIRED",
            f"Type the organization's name, {org_name}, exactly, to close it.",
        )
        return await _page(c, status=422, error=error, section="close")
    try:
        await c.api.raw(
            "DELETE",
            "/organizations/close",
            json_body={"password": str(form.get("password") or "")},
            headers={"x-confirm-close": CLOSE_HEADER},
        )
    except ApiError as error:
        return await _page(c, status=error.status, error=error, section="close")
    response = c.redirect("/login", notice=f"{org_name} is closed; its data is being deleted.")
    browser.clear_login_cookie(response, c.kit)
    return response


# --- notifications --------------------------------------------------------------------------


@router.get("/settings/notifications")
async def notifications_page(c: Signed) -> Response:
    try:
        prefs = await c.api.get("/users/notification-preferences")
    except ApiError as error:
        return c.error_page(error)
    return c.render("org/notifications.html", prefs=prefs, items=NOTIFICATIONS, error=None)


@router.post("/settings/notifications")
async def save_notifications(c: Signed) -> Response:
    form = await c.form()
    body = {key: form.get(key) == "on" for key, _ in NOTIFICATIONS}
    try:
        await c.api.patch("/users/notification-preferences", body)
    except ApiError as error:
        return c.render(
            "org/notifications.html",
            status=error.status,
            prefs=body,
            items=NOTIFICATIONS,
            error=error,
        )
    return c.redirect("/settings/notifications", notice="Your email notifications are saved.")
