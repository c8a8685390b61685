"""SAML single sign-on: domain check, login through the IdP, SP metadata, configuration."""

from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import EmailStr

from xplorr.auth import browser as browser_login
from xplorr.auth.deps import AdminUser
from xplorr.auth.schemas import TokenPair
from xplorr.core import security
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings, AuthKit, Kit
from xplorr.core.errors import ErrorEnvelope, PayloadTooLarge, ValidationFailed
from xplorr.core.ratelimit import limit
from xplorr.sso import saml, service
from xplorr.sso.schemas import SamlInitOut, SsoCheckOut, SsoConfigOut, SsoConfigUpdate

router = APIRouter(prefix="/auth", tags=["auth"])
ROUTE_ORDER = 40  # mounting order under /api/v1 (core.areas.routers)

SSO_LIMIT = "20/15 minutes"  # the reference's "Login / Auth" limit
VERIFY_LIMIT = "10/minute"  # each call is a DNS lookup per pending domain
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BROWSER_COOKIE = "xplorr_saml_browser"  # binds an AuthnRequest to the browser that started it
_REDIRECT: dict[int | str, dict[str, Any]] = {
    303: {"description": "Browser redirect (the default without Accept: JSON)."}
}
_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["SAMLResponse"],
                    "properties": {
                        "SAMLResponse": {"type": "string", "minLength": 1},
                        "RelayState": {"type": "string"},
                    },
                }
            }
        },
    }
}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.get("/sso/check", response_model=SsoCheckOut, openapi_extra=limit(SSO_LIMIT, key="ip"))
async def sso_check(email: Annotated[EmailStr, Query()], db: DbSession) -> SsoCheckOut:
    """Whether this email's domain signs in through an organization's identity provider
    (``sso_enabled``), whether password login is refused for it (``sso_required``), and the
    ``org_slug`` to start the login with (``GET /auth/saml/init?org_slug=``). Only a domain
    claim proven by DNS counts, and the address of another organization's user is never sent
    to the claiming organization's IdP."""
    return await service.check(db, email)


@router.get(
    "/saml/init",
    response_model=SamlInitOut,
    openapi_extra=limit(SSO_LIMIT, key="ip"),
    responses={**_REDIRECT, 404: {"model": ErrorEnvelope, "description": "SSO_NOT_CONFIGURED"}},
)
async def saml_init(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    org_slug: Annotated[str, Query(min_length=1, max_length=80)],
    redirect_to: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Start a login through the organization's identity provider: answers 303 to the IdP with
    a SAML AuthnRequest (HTTP-Redirect binding), or ``{"redirect_url"}`` when the client sends
    ``Accept: application/json``. The request is valid 10 minutes and answers once, and only
    to the browser that started it: the answer sets the ``xplorr_saml_browser`` cookie
    (HttpOnly, Secure, SameSite=None), which the IdP's POST to the ACS must carry back.

    ``redirect_to`` (a path of this application, starting with one "/") is handed back after the
    login; anything else is 422 (no open redirect). 404 ``SSO_NOT_CONFIGURED`` for an unknown
    organization or one without single sign-on."""
    browser = service.browser_binding(request.cookies.get(BROWSER_COOKIE))
    url = await service.start_login(db, settings, org_slug, redirect_to, browser)
    response: Response
    if _wants_json(request):
        response = JSONResponse(SamlInitOut(redirect_url=url).model_dump(), headers=NO_STORE)
    else:
        response = RedirectResponse(url, status_code=303, headers=NO_STORE)
    # The IdP's POST to the ACS is a cross-site request: only a SameSite=None cookie rides
    # along, and browsers keep those only when Secure (http://localhost counts as secure).
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=int(service.REQUEST_TTL.total_seconds()),
        path=saml.browser_cookie_path(settings),
        secure=True,
        httponly=True,
        samesite="none",
    )
    return response


async def _saml_form(request: Request) -> str:
    """The posted ``SAMLResponse`` (urlencoded form, read without python-multipart)."""
    body = await request.body()
    if len(body) > 4 * saml.MAX_RESPONSE_BYTES // 3 + 4096:
        raise PayloadTooLarge("The SAML response is too large.")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise ValidationFailed.on(
            "SAMLResponse",
            "Field required.",
            summary="Post the IdP's response as an application/x-www-form-urlencoded form.",
        )
    try:
        form = parse_qs(body.decode("ascii"), max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed.on(
            "SAMLResponse", "Unreadable form.", summary="The form could not be read."
        ) from exc
    values = form.get("SAMLResponse") or []
    if len(values) != 1 or not values[0].strip():
        raise ValidationFailed.on("SAMLResponse", "Field required.")
    return values[0]


@router.post(
    "/saml/acs",
    response_model=TokenPair,
    openapi_extra={**limit("30/minute", key="ip"), **_FORM_BODY},
    responses={
        **_REDIRECT,
        403: {
            "model": ErrorEnvelope,
            "description": "SSO_DOMAIN_NOT_ALLOWED, SSO_OWNER_PASSWORD_LOGIN",
        },
        409: {"model": ErrorEnvelope, "description": "SSO_ACCOUNT_CONFLICT, EMAIL_TAKEN"},
    },
)
async def saml_acs(request: Request, db: DbSession, kit: Kit) -> Response:
    """Assertion consumer service: the IdP posts its SAML response here (HTTP-POST binding).

    Only a response to an AuthnRequest of ``/auth/saml/init`` is accepted (IdP-initiated ones are
    refused), once, with a signed assertion from the organization's IdP for this service, in its
    time window, posted by the browser that started the login (its ``xplorr_saml_browser``
    cookie); anything else is 401 ``SSO_INVALID_RESPONSE``. The user is found by their IdP
    identity, linked by email within the organization, or created as the configured default
    role (member). 403 ``SSO_DOMAIN_NOT_ALLOWED`` for an email outside the organization's
    domains, 403 ``SSO_OWNER_PASSWORD_LOGIN`` for the organization's owner (password only),
    409 ``SSO_ACCOUNT_CONFLICT`` for an email of another organization's user.

    With ``Accept: application/json`` the answer is the token pair. Otherwise, by default (the
    web console of this server is the callback), the answer signs the browser in itself: it sets
    the console's HttpOnly login cookie (tied to the new login session, as a password login in
    the console does) and answers 303 to the stored ``redirect_to`` path (``/`` without one), so
    no token is ever in a URL or handed to JavaScript. When ``XPLORR_SSO_REDIRECT_URL`` is set
    (an application of your own receives the login), 303 to it with the tokens in the URL
    fragment (``#access_token=...&refresh_token=...&expires_in=...&redirect_to=...``), so they
    never reach a server log. The posted RelayState is ignored: the one stored with the request
    is used."""
    saml_response = await _saml_form(request)
    done = await service.finish_login(db, kit, saml_response, request.cookies.get(BROWSER_COOKIE))
    if _wants_json(request):
        return JSONResponse(done.tokens.model_dump(mode="json"), headers=NO_STORE)
    if not kit.settings.sso_redirect_url:
        return _sign_in_console(kit, done)
    fragment = {
        "access_token": done.tokens.access_token,
        "refresh_token": done.tokens.refresh_token,
        "token_type": done.tokens.token_type,
        "expires_in": str(done.tokens.expires_in),
    }
    if done.relay_state:
        fragment["redirect_to"] = done.relay_state
    url = f"{kit.settings.sso_callback_url}#{urlencode(fragment)}"
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def _sign_in_console(kit: AuthKit, done: service.SamlLogin) -> Response:
    """The browser's console login from the tokens just issued: the login cookie names the new
    login session (read from the access token, which is then dropped), the refresh token is kept
    only in the cookie the console's sign-out sends to revoke the login."""
    claims = security.decode_access_token(kit.jwt, done.tokens.access_token)
    if claims is None or claims.session_id is None:  # pragma: no cover - we just issued it
        raise RuntimeError("the issued access token names no login session")
    response = RedirectResponse(done.relay_state or "/", status_code=303, headers=NO_STORE)
    expires = browser_login.default_lifetime(kit)
    login = browser_login.BrowserLogin(claims.user_id, claims.org_id, claims.session_id)
    browser_login.set_login_cookie(response, kit, login, expires)
    browser_login.set_refresh_cookie(response, kit, done.tokens.refresh_token, expires)
    return response


@router.get(
    "/saml/metadata/{org_slug}",
    response_class=Response,
    openapi_extra=limit(SSO_LIMIT, key="ip"),
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
async def saml_metadata(org_slug: str, db: DbSession, settings: AppSettings) -> Response:
    """The organization's SAML service-provider metadata (entity id, ACS URL, NameID format
    emailAddress), to give to the identity provider; served also before an IdP is configured.
    404 for an unknown organization."""
    xml = await service.metadata(db, settings, org_slug)
    return Response(content=xml, media_type="application/xml")


@router.get(
    "/sso/config",
    response_model=SsoConfigOut,
    responses={404: {"model": ErrorEnvelope, "description": "SSO_NOT_CONFIGURED"}},
)
async def get_sso_config(db: DbSession, settings: AppSettings, who: AdminUser) -> SsoConfigOut:
    """The organization's identity provider configuration (owner/admin), with the values the IdP
    needs: ``sp_entity_id``, ``acs_url``, ``metadata_url``. 404 ``SSO_NOT_CONFIGURED`` if none."""
    return await service.get_config(db, settings, who)


@router.patch(
    "/sso/config",
    response_model=SsoConfigOut,
    responses={409: {"model": ErrorEnvelope, "description": "SSO_DOMAIN_TAKEN, SSO_DOMAIN_IN_USE"}},
)
async def update_sso_config(
    body: SsoConfigUpdate, db: DbSession, settings: AppSettings, who: AdminUser
) -> SsoConfigOut:
    """Create or update single sign-on (owner/admin): ``idp_entity_id``, ``sso_url`` (https),
    ``x509_cert`` (the IdP's signing certificate, PEM or base64 DER; the only key trusted),
    ``email_domains`` (claimed for this organization; no free email providers; 409
    ``SSO_DOMAIN_TAKEN`` for a domain another organization holds verified, 409
    ``SSO_DOMAIN_IN_USE`` for one where another organization has users), ``enforce`` (password
    login refused for those domains, except the owner's) and ``default_role`` of new users
    (admin, member or viewer; member by default). The first four are required to create.

    A new domain claim is ``pending`` in ``domain_claims``, with the TXT record that proves it
    (``txt_record_name``, ``txt_record_value``); it routes no login, is not enforced and
    provisions no user until ``POST /auth/sso/domains/verify`` found that record."""
    return await service.update_config(db, settings, who, body)


@router.post(
    "/sso/domains/verify",
    response_model=SsoConfigOut,
    openapi_extra=limit(VERIFY_LIMIT),
    responses={
        404: {"model": ErrorEnvelope, "description": "SSO_NOT_CONFIGURED"},
        502: {"model": ErrorEnvelope, "description": "SSO_DNS_UNAVAILABLE"},
    },
)
async def verify_sso_domains(db: DbSession, settings: AppSettings, who: AdminUser) -> SsoConfigOut:
    """Prove the organization's pending domain claims (owner/admin): looks up the DNS TXT record
    ``txt_record_name`` of each and verifies the claims whose record holds their
    ``txt_record_value``. A claim stays ``pending`` with the reason in ``last_check_error`` when
    the record is missing or holds another value, when another organization holds the domain
    verified, or when another organization has users there. 502 ``SSO_DNS_UNAVAILABLE`` when DNS
    gives no answer (nothing changes). Answers the configuration, as ``GET /auth/sso/config``.
    Audit ``sso.domain_verified``, ``sso.domain_verification_failed``."""
    return await service.verify_domains(db, settings, who)


@router.delete(
    "/sso/config",
    status_code=204,
    responses={404: {"model": ErrorEnvelope, "description": "SSO_NOT_CONFIGURED"}},
)
async def delete_sso_config(db: DbSession, who: AdminUser) -> Response:
    """Turn single sign-on off (owner/admin): the configuration and its domains are removed;
    linked identities stay, so turning it on again keeps them."""
    await service.delete_config(db, who)
    return Response(status_code=204)
