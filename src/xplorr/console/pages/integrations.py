"""Integrations: Slack and Teams (install through the provider's OAuth page, the installation,
uninstall, and the result banner the OAuth callback lands with), the channels notifications go
to, the organization's webhook URLs and the Slack test post. Views over /slack, /teams,
/channels and /settings."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from xplorr.console.api import ApiError
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Settings", "Integrations", "/settings/integrations", 5),)
PAGE = "/settings/integrations"
APPS = {"slack": "Slack", "teams": "Microsoft Teams"}
NOTIFY = (
    ("digest", "Weekly digest"),
    ("alerts", "Alerts and failed syncs"),
    ("anomalies", "Anomalies"),
    ("budgets", "Budgets"),
    ("recommendations", "Recommendations and approvals"),
)
SCOPES = (
    ("all", "Everything"),
    ("accounts", "Some cloud accounts"),
    ("tags", "Some tags (key:value)"),
    ("services", "Some services"),
)
REASONS = {
    "OAUTH_STATE_INVALID": "the install link expired or was already used; start the install again",
    "OAUTH_CONSENT_DENIED": "the permission was not granted",
    "SLACK_TEAM_IN_USE": "this Slack workspace is already connected to another organization",
    "SLACK_API_ERROR": "Slack refused the install; try again",
    "SLACK_NOT_CONFIGURED": "the server's Slack app is not configured",
    "TEAMS_TENANT_INVALID": "the consent named no Microsoft tenant",
    "TEAMS_API_ERROR": "Microsoft refused the install; try again",
    "TEAMS_NOT_CONFIGURED": "the server's Teams app is not configured",
    "FORBIDDEN": "only an owner or an admin can install it",
}


def banner(c: Console) -> dict[str, str] | None:
    """The install's outcome from the callback's ``?provider=&result=&reason=``, in words."""
    provider = APPS.get(c.query("provider"))
    result = c.query("result")
    if provider is None or result not in ("installed", "denied", "error"):
        return None
    if result == "installed":
        return {"kind": "notice", "text": f"{provider} is connected."}
    reason = c.query("reason")
    why = REASONS.get(reason, f"the provider answered {reason}" if reason else "")
    verb = "was cancelled" if result == "denied" else "failed"
    return {"kind": "error", "text": f"The {provider} install {verb}{': ' + why if why else ''}."}


async def _page(
    c: Console,
    *,
    status: int = 200,
    error: ApiError | None = None,
    form_name: str | None = None,
    values: dict[str, Any] | None = None,
    slack_test: dict[str, Any] | None = None,
) -> Response:
    try:
        slack, teams = await asyncio.gather(
            c.api.get("/slack/installation"), c.api.get("/teams/installation")
        )
        channels = (await c.api.get("/channels", {"limit": 100}))["data"] if c.is_admin else []
    except ApiError as failed:
        return c.error_page(failed)
    return c.render(
        "integrations/page.html",
        status=status,
        banner=banner(c),
        slack=slack,
        teams=teams,
        channels=channels,
        apps=APPS,
        notify=NOTIFY,
        scopes=SCOPES,
        error=error,
        errors=error.field_errors() if error else {},
        form_name=form_name,
        values=values or NEW_CHANNEL | {"timezone": c.timezone},
        slack_test=slack_test,
    )


NEW_CHANNEL: dict[str, Any] = {
    "provider": "slack",
    "channel_id": "",
    "channel_name": "",
    "scope_type": "all",
    "scope_values": "",
    "is_default": False,
    **{f"notify_{k}": True for k, _ in NOTIFY},
}


@router.get(PAGE)
async def integrations(c: Signed) -> Response:
    return await _page(c)


@router.post(PAGE + "/{app}/install")
async def install(c: Signed, app: str) -> Response:
    if app not in APPS:
        return c.error_page(ApiError(404, "NOT_FOUND", "There is no such integration."))
    try:
        answer = await c.api.get(f"/{app}/install")
    except ApiError as error:
        return await _page(c, status=error.status, error=error, form_name=app)
    # The provider's authorize page: the only redirect off this site, to the URL the API built.
    return c.finish(RedirectResponse(str(answer["redirect_url"]), status_code=303))


@router.post(PAGE + "/{app}/uninstall")
async def uninstall(c: Signed, app: str) -> Response:
    if app not in APPS:
        return c.error_page(ApiError(404, "NOT_FOUND", "There is no such integration."))
    try:
        await c.api.delete(f"/{app}/installation")
    except ApiError as error:
        return await _page(c, status=error.status, error=error, form_name=app)
    return c.redirect(PAGE, notice=f"{APPS[app]} is disconnected.")


@router.post(PAGE + "/slack-test")
async def slack_test(c: Signed) -> Response:
    try:
        result = await c.api.post("/settings/slack/test")
    except ApiError as error:
        return await _page(c, status=error.status, error=error, form_name="webhooks")
    return await _page(c, slack_test=result)


@router.post(PAGE + "/webhooks")
async def webhooks(c: Signed) -> Response:
    form = await c.form()
    body: dict[str, Any] = {}
    for name in ("slack_webhook_url", "teams_webhook_url"):
        value = str(form.get(name) or "").strip()
        if form.get(f"clear_{name}") == "on":
            body[name] = None
        elif value:
            body[name] = value
    if not body:
        return c.redirect(PAGE, notice="Nothing to change: the webhook URLs are as they were.")
    try:
        await c.api.patch("/settings", body)
    except ApiError as error:
        return await _page(c, status=error.status, error=error, form_name="webhooks")
    return c.redirect(PAGE, notice="Webhook URLs saved.")


def _channel_body(form: FormData, *, create: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel_name": str(form.get("channel_name") or ""),
        "scope_type": str(form.get("scope_type") or "all"),
        "scope_values": [
            v.strip() for v in str(form.get("scope_values") or "").split(",") if v.strip()
        ],
        "notify": {k: form.get(f"notify_{k}") == "on" for k, _ in NOTIFY},
        "timezone": str(form.get("timezone") or "UTC").strip(),
        "is_default": form.get("is_default") == "on",
    }
    if create:
        body["provider"] = str(form.get("provider") or "")
        body["channel_id"] = str(form.get("channel_id") or "")
    return body


def _channel_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    for key in ("is_default", *(f"notify_{k}" for k, _ in NOTIFY)):
        values[key] = form.get(key) == "on"
    return NEW_CHANNEL | values


@router.post(PAGE + "/channels")
async def channel_create(c: Signed) -> Response:
    form = await c.form()
    try:
        made = await c.api.post("/channels", _channel_body(form, create=True))
    except ApiError as error:
        return await _page(
            c, status=error.status, error=error, form_name="channel", values=_channel_values(form)
        )
    return c.redirect(PAGE, notice=f"Channel {made['channel_name']} added.")


async def _channel_page(
    c: Console, channel_id: str, *, status: int = 200, error: ApiError | None = None,
    values: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    try:
        channels = (await c.api.get("/channels", {"limit": 100}))["data"]
    except ApiError as failed:
        return c.error_page(failed)
    channel = next((ch for ch in channels if ch["id"] == channel_id), None)
    if channel is None:
        return c.error_page(ApiError(404, "NOT_FOUND", "There is no such channel."))
    current = {
        **channel,
        "scope_values": ", ".join(channel["scope_values"]),
        **{f"notify_{k}": bool(channel["notify"].get(k)) for k, _ in NOTIFY},
    }
    return c.render(
        "integrations/channel.html",
        status=status,
        channel=channel,
        apps=APPS,
        notify=NOTIFY,
        scopes=SCOPES,
        error=error,
        errors=error.field_errors() if error else {},
        values=values or current,
    )


@router.get(PAGE + "/channels/{channel_id}")
async def channel_detail(c: Signed, channel_id: str) -> Response:
    return await _channel_page(c, channel_id)


@router.post(PAGE + "/channels/{channel_id}")
async def channel_update(c: Signed, channel_id: str) -> Response:
    form = await c.form()
    try:
        await c.api.patch(f"/channels/{channel_id}", _channel_body(form, create=False))
    except ApiError as error:
        return await _channel_page(
            c, channel_id, status=error.status, error=error, values=_channel_values(form)
        )
    return c.redirect(PAGE, notice="Channel saved.")


@router.post(PAGE + "/channels/{channel_id}/delete")
async def channel_delete(c: Signed, channel_id: str) -> Response:
    try:
        await c.api.delete(f"/channels/{channel_id}")
    except ApiError as error:
        return await _channel_page(c, channel_id, status=error.status, error=error)
    return c.redirect(PAGE, notice="Channel removed.")
