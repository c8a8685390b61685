from typing import Any

from fastapi import APIRouter

from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.ratelimit import limit
from xplorr.settings import service
from xplorr.settings.schemas import SettingsOut, SettingsUpdate, SlackTestOut

router = APIRouter(prefix="/settings", tags=["settings"])
ROUTE_ORDER = 167  # mounting order under /api/v1 (core.areas.routers)

_TEST_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "No Slack webhook is set and the Slack app has nowhere to post "
        "(SLACK_NOT_CONFIGURED).",
    },
    502: {
        "model": ErrorEnvelope,
        "description": "Slack could not be reached (UPSTREAM_ERROR, SLACK_API_ERROR).",
    },
}


@router.get("", response_model=SettingsOut)
async def get_settings(db: DbSession, who: CurrentUser) -> SettingsOut:
    """The organization's settings (every role reads them): the approval threshold, default
    currency, time zone, anomaly noise floor and drop detection, digest defaults, the Slack
    and Teams webhooks, masked, and the base AWS keys' id, masked (their secret never). An
    organization that never saved any gets the defaults (``updated_at`` null)."""
    return await service.read_settings(db, who)


@router.patch("", response_model=SettingsOut)
async def update_settings(
    body: SettingsUpdate, db: DbSession, who: AdminUser, settings: AppSettings
) -> SettingsOut:
    """Change some settings (owner or admin); the fields not sent keep their value, null
    clears default_currency, a webhook or the base AWS keys (sent as a pair: both set or both
    null). Webhook URLs must be https and reach a public address
    (a Slack one: hooks.slack.com); a refused one is a 422 naming the field and nothing
    changes. Audited (settings.updated; webhook and key values never written)."""
    return await service.update_settings(db, settings, who, body)


@router.post(
    "/slack/test",
    response_model=SlackTestOut,
    responses=_TEST_ERRORS,
    openapi_extra=limit("5/minute"),
)
async def test_slack_webhook(db: DbSession, who: AdminUser, settings: AppSettings) -> SlackTestOut:
    """Post a test message where the organization's Slack notifications go (owner or admin)
    and answer what Slack said: to its Slack webhook when one is set; otherwise, with the Slack
    app installed, to the default channel through the bot, else to the incoming webhook the
    install granted (``via`` says which). ``ok`` false with the HTTP status and Slack's error
    word when it refused the message. 5 per minute."""
    return await service.send_slack_test(db, settings, who)
