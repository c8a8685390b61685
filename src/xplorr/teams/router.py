from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from xplorr.auth.deps import AdminUser, CurrentUser, OptionalUser
from xplorr.channels import install_routes
from xplorr.channels.models import ChatProvider
from xplorr.channels.schemas import InstallUrlOut, OAuthResultOut
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.ratelimit import limit
from xplorr.teams import service
from xplorr.teams.schemas import TeamsInstallationOut

router = APIRouter(prefix="/teams", tags=["integrations"])
ROUTE_ORDER = 142  # mounting order under /api/v1 (core.areas.routers)


@router.get(
    "/install",
    response_model=InstallUrlOut,
    responses={
        **install_routes.REDIRECT,
        409: {"model": ErrorEnvelope, "description": "TEAMS_NOT_CONFIGURED"},
    },
)
async def teams_install(
    request: Request, db: DbSession, who: AdminUser, settings: AppSettings
) -> Response:
    """Start installing the Teams app (owners and admins): 303 to the Microsoft identity
    platform's admin consent page, where a directory admin grants the Graph scopes (post to
    channels, read teams and channels) for the whole tenant, with a state bound to this
    organization, this admin and that step (single use, 10 minutes); ``{"redirect_url"}`` with
    ``Accept: application/json``. 409 ``TEAMS_NOT_CONFIGURED`` names the settings the operator
    must set."""
    url = await service.start_install(db, who, settings)
    return install_routes.install_answer(request, url)


@router.get(
    "/oauth_redirect",
    response_model=OAuthResultOut | InstallUrlOut,
    openapi_extra=limit("30/minute", key="ip"),
    responses=install_routes.callback_responses(
        conflict="TEAMS_NOT_CONFIGURED",
        upstream="TEAMS_API_ERROR: Microsoft refused, or issued tokens for another tenant.",
        bad_request="TEAMS_TENANT_INVALID: the admin consent named no tenant.",
    ),
)
async def teams_oauth_redirect(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    caller: OptionalUser,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    admin_consent: Annotated[str | None, Query(max_length=10)] = None,
    tenant: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The Microsoft identity platform's callback, for both legs of the install. After the
    admin consent (``admin_consent=True&tenant=``): the state is checked and spent, and the
    browser sent on (303, or ``{"redirect_url"}``) to that tenant's authorize page with a new
    state. With the code: the state is checked and spent, the code exchanged at the tenant's
    token endpoint, the ID token's tenant checked against the consented one, the access and
    refresh tokens stored encrypted. A browser lands on the console's integrations page with
    the result; ``Accept: application/json`` answers the result or the error."""
    install = service.finish_install(
        db, settings, state=state, code=code, error=error, admin_consent=admin_consent,
        tenant=tenant, caller=caller,
    )  # fmt: skip
    return await install_routes.callback_answer(
        request, db, settings.base_url, ChatProvider.TEAMS, install, lambda row: row.tenant_id
    )


@router.get("/installation", response_model=TeamsInstallationOut)
async def get_teams_installation(db: DbSession, who: CurrentUser) -> TeamsInstallationOut:
    """The organization's Teams app: tenant, granted scopes, who consented and when
    (``installed`` false when there is none). Tokens are never shown."""
    row = await service.installation_of(db, who.org_id)
    if row is None:
        return TeamsInstallationOut(installed=False)
    return TeamsInstallationOut(
        installed=True,
        tenant_id=row.tenant_id,
        scopes=[s for s in row.scopes.split(" ") if s],
        installed_by=row.installed_by,
        installed_at=row.installed_at,
    )


@router.delete(
    "/installation",
    status_code=204,
    responses={404: {"model": ErrorEnvelope, "description": "TEAMS_NOT_INSTALLED"}},
)
async def delete_teams_installation(db: DbSession, who: AdminUser) -> Response:
    """Disconnect Teams (owners and admins; audited): the tokens are deleted. Microsoft's v2
    endpoint revokes no single token: remove the app's consent in Entra ID to end the refresh
    token there as well."""
    await service.uninstall(db, who)
    return Response(status_code=204)
