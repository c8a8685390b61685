"""SAML single sign-on: which org an email signs in through, the SP-initiated login (AuthnRequest
out, Response in), the SP metadata, and an org's IdP configuration.

A response is accepted only as the answer to an AuthnRequest we sent (``SamlRequest``, found by
its InResponseTo before anything else of the response is read), for that request's org, once:
the request is used up with a conditional UPDATE and the assertion id is kept until its
NotOnOrAfter (``SamlReplay``; python3-saml does not stop replays). External identities are keyed
by (org, IdP entity id, NameID) and never attach to a user of another org (ASVS 6.8.1).
"""

import functools
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn
from urllib.parse import urlsplit

import anyio
import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth import service as auth_service
from xplorr.auth.schemas import TokenPair
from xplorr.core import audit, clock, security
from xplorr.core.deps import AuthKit
from xplorr.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
    XplorrError,
)
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, org_select
from xplorr.orgs.models import Org
from xplorr.sso import policy, saml
from xplorr.sso.models import SamlReplay, SamlRequest, SsoConfig, SsoDomain, SsoIdentity
from xplorr.sso.schemas import SsoCheckOut, SsoConfigOut, SsoConfigUpdate
from xplorr.users import service as users
from xplorr.users.models import Role, User

log = structlog.get_logger("xplorr.sso")

REQUEST_TTL = timedelta(minutes=10)
# python3-saml accepts Conditions up to ALLOWED_CLOCK_DRIFT (300 s) past NotOnOrAfter: a replayed
# assertion id is kept at least that long after it.
_REPLAY_MARGIN = timedelta(seconds=300)
_REPLAY_DEFAULT = timedelta(hours=24)  # an assertion without NotOnOrAfter
_BINDING_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # security.new_opaque_token(): 32 bytes
INVALID_RESPONSE = "The single sign-on response could not be accepted. Please sign in again."
EMAIL_ATTRIBUTES = (
    "email",
    "mail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
NAME_ATTRIBUTES = (
    "name",
    "displayName",
    "http://schemas.microsoft.com/identity/claims/displayname",
)


def _not_configured() -> NotFound:
    return NotFound(
        "Single sign-on is not configured for this organization.", code="SSO_NOT_CONFIGURED"
    )


def _idp(config: SsoConfig) -> saml.IdpConfig:
    return saml.IdpConfig(
        entity_id=config.idp_entity_id, sso_url=config.sso_url, x509_cert=config.x509_cert
    )


# --- domain check -----------------------------------------------------------------------------


async def check(db: AsyncSession, email: str) -> SsoCheckOut:
    """Whether ``email``'s domain signs in through an org's IdP (and must, when enforced)."""
    found = await policy.sso_org_for(db, email)
    if found is None:
        return SsoCheckOut(sso_enabled=False, sso_required=False, org_slug=None)
    org, config = found
    return SsoCheckOut(sso_enabled=True, sso_required=config.enforce, org_slug=org.slug)


# --- SP-initiated login -----------------------------------------------------------------------


def safe_relay_state(redirect_to: str | None) -> str | None:
    """Only a path of this application: one leading "/", no scheme, host or backslash (an
    open redirect otherwise: ``//evil.example``, ``/\\evil.example``, ``https://...``)."""
    if redirect_to is None or redirect_to == "":
        return None
    parts = urlsplit(redirect_to)
    if (
        not redirect_to.startswith("/")
        or redirect_to.startswith("//")
        or "\\" in redirect_to
        or parts.scheme
        or parts.netloc
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in redirect_to)
        or len(redirect_to) > 2048
    ):
        raise ValidationFailed(
            "redirect_to must be a path of this application, starting with a single '/'.",
            details=[{"field": "redirect_to", "message": "Must be a relative path."}],
        )
    return redirect_to


async def _configured_org(db: AsyncSession, org_slug: str) -> tuple[Org, SsoConfig]:
    row = (
        await db.execute(
            select(Org, SsoConfig)
            .join(SsoConfig, SsoConfig.org_id == Org.id)
            .where(Org.slug == org_slug)
        )
    ).first()
    if row is None:
        raise _not_configured()
    return row[0], row[1]


def browser_binding(presented: str | None) -> str:
    """The value of the browser's binding cookie: the one it already holds (several logins in
    several tabs share it), or a new 256-bit one."""
    if presented is not None and _BINDING_SHAPE.fullmatch(presented):
        return presented
    return security.new_opaque_token()


async def start_login(
    db: AsyncSession, settings: Settings, org_slug: str, redirect_to: str | None, browser: str
) -> str:
    """Build the AuthnRequest, remember it (10 minutes, single use, bound to ``browser``: the
    binding cookie the response must come back with) and return the IdP URL."""
    relay_state = safe_relay_state(redirect_to)
    org, config = await _configured_org(db, org_slug)
    url, request_id = saml.authn_request(settings, org.slug, _idp(config), relay_state or "/")
    now = clock.now()
    await db.execute(
        delete(SamlRequest).where(SamlRequest.org_id == org.id, SamlRequest.expires_at <= now)
    )
    db.add(
        SamlRequest(
            org_id=org.id,
            request_id=request_id,
            relay_state=relay_state,
            browser_sha256=security.sha256_hex(browser),
            expires_at=now + REQUEST_TTL,
        )
    )
    return url


@dataclass(frozen=True, slots=True)
class SamlLogin:
    tokens: TokenPair
    relay_state: str | None


async def _refuse(
    db: AsyncSession,
    org: Org | None,
    reason: str,
    *,
    email: str | None = None,
    error: XplorrError | None = None,
) -> NoReturn:
    """Audit ``sso_login_failed`` with the reason (never the assertion) and answer generically."""
    log.warning("sso_login_failed", org_id=str(org.id) if org else None, reason=reason[:300])
    await audit.record(
        db,
        "sso_login_failed",
        org_id=org.id if org else None,
        actor_email=email,
        resource_type="organization" if org else None,
        resource_id=org.id if org else None,
        details={"reason": reason[:300]},
    )
    raise error or Unauthorized(INVALID_RESPONSE, code="SSO_INVALID_RESPONSE", commit=True)


async def _outstanding_request(db: AsyncSession, request_id: str) -> SamlRequest | None:
    return await db.scalar(
        select(SamlRequest).where(
            SamlRequest.request_id == request_id,
            SamlRequest.used_at.is_(None),
            SamlRequest.expires_at > clock.now(),
        )
    )


async def finish_login(
    db: AsyncSession, kit: AuthKit, saml_response: str, browser: str | None
) -> SamlLogin:
    """Validate an IdP's response to one of our AuthnRequests, posted by the browser that
    started it (``browser``: its binding cookie), and log its user in."""
    request_id = saml.in_response_to(saml_response)
    if request_id is None:
        await _refuse(db, None, "no InResponseTo: unsolicited (IdP-initiated) or unreadable")
    pending = await _outstanding_request(db, request_id)
    if pending is None:
        await _refuse(db, None, "InResponseTo names no outstanding request")
    org = await db.get_one(Org, pending.org_id)
    if browser is None or not hmac.compare_digest(
        security.sha256_hex(browser), pending.browser_sha256
    ):
        # Login CSRF: someone's own valid response, posted from another browser, would sign
        # that browser into their account. The request stays usable by its own browser.
        await _refuse(db, org, "posted from another browser than the one that started the login")
    config = await db.scalar(select(SsoConfig).where(SsoConfig.org_id == org.id))
    if config is None:
        await _refuse(db, org, "single sign-on is no longer configured")
    validate = functools.partial(
        saml.validate_response, kit.settings, org.slug, _idp(config), saml_response, request_id
    )
    try:
        assertion = await anyio.to_thread.run_sync(validate)  # xmlsec + XSD: off the loop
    except saml.SamlInvalid as exc:
        await _refuse(db, org, exc.reason)
    if assertion.issuer != config.idp_entity_id:  # python3-saml checked it too; never trust one
        await _refuse(db, org, "issuer is not the organization's IdP")
    await _consume(db, org, pending, assertion)
    email = _email_of(assertion)
    domains = await _domains(db, org)
    if email is None or policy.email_domain(email) not in domains:
        await _refuse(
            db,
            org,
            "email missing or outside the organization's claimed domains",
            email=email,
            error=Forbidden(
                "This account's email domain is not allowed for this organization's single "
                "sign-on.",
                code="SSO_DOMAIN_NOT_ALLOWED",
                commit=True,
            ),
        )
    user = await _user_for(db, org, config, assertion, email)
    tokens = await auth_service.complete_login(db, kit, user, method="saml")
    return SamlLogin(tokens=tokens, relay_state=pending.relay_state)


async def _consume(
    db: AsyncSession, org: Org, pending: SamlRequest, assertion: saml.ValidAssertion
) -> None:
    """Once only: the assertion id (unique per org) and the request (conditional UPDATE)."""
    now = clock.now()
    if assertion.not_on_or_after is not None:
        until = datetime.fromtimestamp(assertion.not_on_or_after, UTC) + _REPLAY_MARGIN
    else:
        until = now + _REPLAY_DEFAULT
    await db.execute(
        delete(SamlReplay).where(SamlReplay.org_id == org.id, SamlReplay.expires_at <= now)
    )
    try:
        async with db.begin_nested():
            db.add(SamlReplay(org_id=org.id, assertion_id=assertion.assertion_id, expires_at=until))
    except IntegrityError:
        await _refuse(db, org, "assertion already used (replay)")
    used = await db.execute(
        update(SamlRequest)
        .where(SamlRequest.id == pending.id, SamlRequest.used_at.is_(None))
        .values(used_at=now)
        .returning(SamlRequest.id)
    )
    if used.first() is None:
        await _refuse(db, org, "request already answered")


def _email_of(assertion: saml.ValidAssertion) -> str | None:
    """The NameID when it is an emailAddress, else the first email attribute."""
    candidates: list[str] = []
    if assertion.name_id_format == saml.NAMEID_EMAIL:
        candidates.append(assertion.name_id)
    else:
        for name in EMAIL_ATTRIBUTES:
            candidates.extend(assertion.attributes.get(name, [])[:1])
    for value in candidates[:1]:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            return None
        return users.normalise_email(checked.normalized)
    return None


async def _domains(db: AsyncSession, org: Org) -> set[str]:
    rows = await db.scalars(select(SsoDomain.domain).where(SsoDomain.org_id == org.id))
    return set(rows.all())


async def _user_for(
    db: AsyncSession, org: Org, config: SsoConfig, assertion: saml.ValidAssertion, email: str
) -> User:
    """The identity's user; else this org's user with that email (linked); else a new member
    (just in time). A user of another org with that email is a conflict, never linked."""
    now = clock.now()
    identity = await db.scalar(
        select(SsoIdentity).where(
            SsoIdentity.org_id == org.id,
            SsoIdentity.idp_entity_id == config.idp_entity_id,
            SsoIdentity.name_id == assertion.name_id,
        )
    )
    if identity is not None:
        linked = await db.get_one(User, identity.user_id)
        if not linked.is_active:
            await _refuse(db, org, "user is deactivated", email=linked.email)
        await _refuse_owner(db, org, linked)
        identity.last_login_at = now
        return linked
    user = await users.find_by_email(db, email)
    if user is not None and user.org_id == org.id:  # never linked if refused here
        if not user.is_active:
            await _refuse(db, org, "user is deactivated", email=user.email)
        await _refuse_owner(db, org, user)
    if user is not None and user.org_id != org.id:
        await _refuse(
            db,
            org,
            "email belongs to a user of another organization",
            email=email,
            error=Conflict(
                "An account with this email exists outside this organization; it cannot be "
                "signed in through this organization's identity provider.",
                code="SSO_ACCOUNT_CONFLICT",
                commit=True,
            ),
        )
    if user is None:
        role = Role(config.default_role)
        user = await users.provision_sso_user(
            db,
            org,
            email=email,
            name=_display_name(assertion, email),
            role=Role.MEMBER if role == Role.OWNER else role,
        )
        await audit.record_user(
            db,
            "user.joined",
            user,
            resource_type="user",
            resource_id=user.id,
            details={"via": "saml", "role": user.role.value},
        )
    try:
        async with db.begin_nested():  # two first logins at once: the unique key decides
            db.add(
                SsoIdentity(
                    org_id=org.id,
                    user_id=user.id,
                    idp_entity_id=config.idp_entity_id,
                    name_id=assertion.name_id,
                    last_login_at=now,
                )
            )
    except IntegrityError:
        await _refuse(db, org, "identity linked concurrently")
    return user


async def _refuse_owner(db: AsyncSession, org: Org, user: User) -> None:
    """The owner never signs in through SAML. An admin can point the org's SSO at an IdP of
    their own; logging in as the owner through it would make them the owner (skipping the
    owner's password and second factor). The owner keeps password login as break-glass."""
    if user.role == Role.OWNER:
        await _refuse(
            db,
            org,
            "the organization owner signs in with a password, never through SAML",
            email=user.email,
            error=Forbidden(
                "The organization owner signs in with a password, not through single sign-on.",
                code="SSO_OWNER_PASSWORD_LOGIN",
                commit=True,
            ),
        )


def _display_name(assertion: saml.ValidAssertion, email: str) -> str:
    for name in NAME_ATTRIBUTES:
        values = assertion.attributes.get(name)
        if values and values[0].strip():
            return values[0].strip()
    given = (assertion.attributes.get("givenName") or [""])[0]
    family = (assertion.attributes.get("sn") or assertion.attributes.get("surname") or [""])[0]
    return f"{given} {family}".strip() or email.split("@", 1)[0]


# --- SP metadata ------------------------------------------------------------------------------


async def metadata(db: AsyncSession, settings: Settings, org_slug: str) -> str:
    """The org's SP metadata, also before an IdP is configured."""
    org = await db.scalar(select(Org).where(Org.slug == org_slug))
    if org is None:
        raise NotFound.of("Organization", org_slug)
    return saml.sp_metadata(settings, org.slug)


# --- configuration (admin) --------------------------------------------------------------------


async def _config_out(
    db: AsyncSession, settings: Settings, who: Principal, config: SsoConfig
) -> SsoConfigOut:
    org = await db.get_one(Org, who.org_id)
    urls = saml.sp_urls(settings, org.slug)
    domains = await db.scalars(
        org_select(SsoDomain, who).order_by(SsoDomain.domain).with_only_columns(SsoDomain.domain)
    )
    return SsoConfigOut(
        idp_entity_id=config.idp_entity_id,
        sso_url=config.sso_url,
        x509_cert=config.x509_cert,
        email_domains=list(domains.all()),
        enforce=config.enforce,
        default_role=config.default_role,
        sp_entity_id=urls.entity_id,
        acs_url=urls.acs_url,
        metadata_url=urls.metadata_url,
        created_at=config.created_at,
        updated_at=config.updated_at,
    )


async def get_config(db: AsyncSession, settings: Settings, who: Principal) -> SsoConfigOut:
    config = await db.scalar(org_select(SsoConfig, who))
    if config is None:
        raise _not_configured()
    return await _config_out(db, settings, who, config)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid {field}: {message}", details=[{"field": field, "message": message}]
    )


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    if domain.startswith("@"):
        domain = domain[1:]
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _invalid("email_domains", f"'{value[:60]}' is not a valid domain.") from exc
    labels = ascii_domain.split(".")
    if (
        len(ascii_domain) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise _invalid("email_domains", f"'{value[:60]}' is not a valid domain.")
    if security.is_free_email_domain(f"x@{ascii_domain}"):
        raise _invalid(
            "email_domains", f"'{ascii_domain}' is a free email provider and cannot be claimed."
        )
    return ascii_domain


async def update_config(
    db: AsyncSession, settings: Settings, who: Principal, data: SsoConfigUpdate
) -> SsoConfigOut:
    """Create or update the org's IdP configuration and its claimed email domains."""
    changes = data.model_dump(exclude_none=True)
    config = await db.scalar(org_select(SsoConfig, who).with_for_update())
    created = config is None
    if created:
        for field in ("idp_entity_id", "sso_url", "x509_cert", "email_domains"):
            if field not in changes:
                raise _invalid(field, "Required when single sign-on is first configured.")
    if "sso_url" in changes:
        try:
            changes["sso_url"] = saml.check_sso_url(changes["sso_url"])
        except ValueError as exc:
            raise _invalid("sso_url", str(exc)) from exc
    if "x509_cert" in changes:
        try:
            changes["x509_cert"] = saml.normalise_certificate(changes["x509_cert"])
        except ValueError as exc:
            raise _invalid("x509_cert", str(exc)) from exc
    domains = sorted({_domain(d) for d in changes.pop("email_domains", [])}) or None
    if config is None:
        config = SsoConfig(org_id=who.org_id, enforce=False, default_role=Role.MEMBER.value)
        db.add(config)
    for field, value in changes.items():
        setattr(config, field, value)
    if domains is not None:
        await _claim_domains(db, who, domains)
    await db.flush()
    await audit.record(
        db,
        "sso.configured",
        who=who,
        resource_type="sso_config",
        resource_id=config.id,
        resource_name=config.idp_entity_id,
        details={
            "created": created,
            "fields": sorted([*changes, *(["email_domains"] if domains else [])]),
            "email_domains": domains or [],
            "enforce": config.enforce,
            "default_role": config.default_role,
        },
    )
    return await _config_out(db, settings, who, config)


async def _claim_domains(db: AsyncSession, who: Principal, domains: list[str]) -> None:
    """Replace the org's domains; a domain claimed by another org is 409 SSO_DOMAIN_TAKEN (the
    unique constraint decides a race)."""
    taken = await db.scalar(
        select(SsoDomain.domain).where(
            SsoDomain.domain.in_(domains), SsoDomain.org_id != who.org_id
        )
    )
    if taken is not None:
        raise Conflict(
            f"The domain '{taken}' is already claimed by another organization.",
            code="SSO_DOMAIN_TAKEN",
        )
    await db.execute(
        delete(SsoDomain).where(SsoDomain.org_id == who.org_id, SsoDomain.domain.not_in(domains))
    )
    have = set(
        (await db.scalars(org_select(SsoDomain, who).with_only_columns(SsoDomain.domain))).all()
    )
    try:
        async with db.begin_nested():
            db.add_all(SsoDomain(org_id=who.org_id, domain=d) for d in domains if d not in have)
    except IntegrityError as exc:
        raise Conflict(
            "One of these domains was just claimed by another organization.",
            code="SSO_DOMAIN_TAKEN",
        ) from exc


async def delete_config(db: AsyncSession, who: Principal) -> None:
    """Remove the configuration and its domains; identities stay, so re-enabling SSO keeps the
    links to their users."""
    config = await db.scalar(org_select(SsoConfig, who).with_for_update())
    if config is None:
        raise _not_configured()
    await db.execute(delete(SsoDomain).where(SsoDomain.org_id == who.org_id))
    await db.delete(config)
    await audit.record(
        db,
        "sso.disabled",
        who=who,
        resource_type="sso_config",
        resource_id=config.id,
        resource_name=config.idp_entity_id,
    )
