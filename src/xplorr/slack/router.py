from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response

from xplorr.auth.deps import AdminUser, CurrentUser, OptionalUser
from xplorr.channels import install_routes
from xplorr.channels.models import ChatProvider
from xplorr.channels.schemas import InstallUrlOut, OAuthResultOut
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings
from xplorr.core.errors import ErrorEnvelope, PayloadTooLarge
from xplorr.core.ratelimit import limit
from xplorr.slack import interactions, service
from xplorr.slack.schemas import InteractionOut, SlackInstallationOut

router = APIRouter(prefix="/slack", tags=["integrations"])
ROUTE_ORDER = 141  # mounting order under /api/v1 (core.areas.routers)

_NOT_CONFIGURED: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "SLACK_NOT_CONFIGURED: the operator has not set the Slack app's "
        "XPLORR_SLACK_* settings.",
    }
}
_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "properties": {"payload": {"type": "string", "minLength": 1}},
                }
            }
        },
    }
}


@router.get(
    "/install",
    response_model=InstallUrlOut,
    responses={**install_routes.REDIRECT, **_NOT_CONFIGURED},
)
async def slack_install(
    request: Request, db: DbSession, who: AdminUser, settings: AppSettings
) -> Response:
    """Start installing the Slack app (owners and admins): 303 to Slack's OAuth v2 authorize
    page with the bot scopes the features need and a ``state`` bound to this organization and
    admin (single use, 10 minutes); ``{"redirect_url"}`` with ``Accept: application/json``.
    409 ``SLACK_NOT_CONFIGURED`` names the settings the operator must set."""
    url = await service.start_install(db, who, settings)
    return install_routes.install_answer(request, url)


@router.get(
    "/oauth_redirect",
    response_model=OAuthResultOut,
    openapi_extra=limit("30/minute", key="ip"),
    responses=install_routes.callback_responses(
        conflict="SLACK_NOT_CONFIGURED, SLACK_TEAM_IN_USE",
        upstream="SLACK_API_ERROR: Slack refused.",
    ),
)
async def slack_oauth_redirect(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    caller: OptionalUser,
    code: Annotated[str | None, Query(max_length=500)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Slack's OAuth callback: the state is checked and spent (once, 10 minutes, for the
    organization and admin who started), then the code is exchanged with ``oauth.v2.access``
    and the bot token stored encrypted with the workspace and the incoming webhook if granted.
    A browser is sent to the console's integrations page with ``result=installed`` (or
    ``denied``/``error`` and a ``reason`` code); with ``Accept: application/json`` the result
    or the error itself is answered. A workspace connected to another organization is refused
    (409 ``SLACK_TEAM_IN_USE``)."""
    install = service.finish_install(
        db, settings, state=state, code=code, error=error, caller=caller
    )
    return await install_routes.callback_answer(
        request, db, settings.base_url, ChatProvider.SLACK, install, lambda row: row.team_name
    )


@router.get("/installation", response_model=SlackInstallationOut)
async def get_slack_installation(db: DbSession, who: CurrentUser) -> SlackInstallationOut:
    """The organization's Slack app: workspace, the incoming webhook's channel, who installed
    it and when, the granted scopes (``installed`` false when there is none). Tokens are never
    shown."""
    return await service.get_installation(db, who)


@router.delete(
    "/installation",
    status_code=204,
    responses={
        404: {"model": ErrorEnvelope, "description": "SLACK_NOT_INSTALLED"},
        502: {"model": ErrorEnvelope, "description": "SLACK_API_ERROR: not revoked, kept."},
    },
)
async def delete_slack_installation(
    db: DbSession, who: AdminUser, settings: AppSettings
) -> Response:
    """Disconnect Slack (owners and admins): the bot token is revoked with ``auth.revoke`` and
    deleted (audited). If Slack cannot be reached, nothing is deleted (502): retry."""
    await service.uninstall(db, who, settings)
    return Response(status_code=204)


@router.post(
    "/interactions",
    response_model=InteractionOut,
    openapi_extra={**limit("300/minute", key="ip"), **_FORM_BODY},
    responses={
        401: {
            "model": ErrorEnvelope,
            "description": "SLACK_SIGNATURE_INVALID, SLACK_REQUEST_EXPIRED",
        },
        409: {"model": ErrorEnvelope, "description": "SLACK_NOT_CONFIGURED"},
    },
)
async def slack_interactions(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    background: BackgroundTasks,
    x_slack_request_timestamp: Annotated[str | None, Header()] = None,
    x_slack_signature: Annotated[str | None, Header()] = None,
) -> InteractionOut:
    """Slack's interactivity endpoint (set it as the app's Request URL; not part of the API
    reference): the buttons of Xplorr's messages. Each request must carry a valid Slack
    signature made within the last 5 minutes (401 otherwise). The clicking Slack user acts as
    the Xplorr user of the installing organization with the same verified email, through the
    same services and role checks as the API: a viewer's click is refused, and the user is
    told why in Slack. Buttons: Acknowledge (anomalies: ``PATCH /anomalies/{id}``), Apply
    (in progress; above the approval threshold it requests an approval instead), Snooze 7d and
    Dismiss (recommendations), Approve and Reject (approvals: admins)."""
    if int(request.headers.get("content-length") or 0) > interactions.MAX_BODY_BYTES:
        raise PayloadTooLarge("A Slack interaction is at most 64 KiB.")
    body = await request.body()
    if len(body) > interactions.MAX_BODY_BYTES:
        raise PayloadTooLarge("A Slack interaction is at most 64 KiB.")
    interactions.verify(settings, body, x_slack_request_timestamp, x_slack_signature)
    outcome = await interactions.handle(db, settings, interactions.parse(body))
    background.add_task(interactions.answer, settings, outcome)
    return InteractionOut(ok=outcome.ok, action=outcome.action, message=outcome.message)
