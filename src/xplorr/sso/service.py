"""SAML single sign-on: which org an email signs in through, the SP-initiated login (AuthnRequest
out, Response in), the SP metadata, and an org's IdP configuration.

A response is accepted only as the answer to an AuthnRequest we sent (``SamlRequest``, found by
its InResponseTo before anything else of the response is read), for that request's org, once:
the request is used up with a conditional UPDATE and the assertion id is kept until its
NotOnOrAfter (``SamlReplay``; python3-saml does not stop replays). External identities are keyed
by (org, IdP entity id, NameID) and never attach to a user of another org (ASVS 6.8.1).
"""

import contextlib
import functools
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn
from urllib.parse import urlsplit

import anyio
import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, or_, select, update
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
    Upstream,
    ValidationFailed,
    XplorrError,
)
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Role, org_select
from xplorr.notifications import notify
from xplorr.notifications.events import Welcome
from xplorr.orgs.models import Org
from xplorr.sso import policy, saml, verification
from xplorr.sso.models import SamlReplay, SamlRequest, SsoConfig, SsoDomain, SsoIdentity
from xplorr.sso.schemas import SsoCheckOut, SsoConfigOut, SsoConfigUpdate, SsoDomainClaimOut
from xplorr.users import service as users
from xplorr.users.models import User, UserStatus

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
    """Whether ``email``'s domain signs in through an org's IdP (and must, when enforced): only
    a verified claim routes, and never the user of another organization (whose address is at
    that domain) to this organization's IdP; their login stays their own org's, as in
    ``policy.enforcing_org``."""
    found = await policy.sso_org_for(db, email)
    if found is not None:
        user = await users.find_by_email(db, email)
        if user is not None and user.org_id != found[0].id:
            found = None
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
        raise ValidationFailed.on(
            "redirect_to",
            "Must be a relative path.",
            summary="redirect_to must be a path of this application, starting with a single '/'.",
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
            "email missing or outside the organization's verified domains",
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
    """The org's verified domains: a pending claim proves nothing, so its IdP may not mint
    users (or take addresses) there."""
    rows = await db.scalars(
        select(SsoDomain.domain).where(
            SsoDomain.org_id == org.id, SsoDomain.verified_at.is_not(None)
        )
    )
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
        await db.flush()
        await notify(
            db,
            Welcome(org_id=org.id, user_id=user.id, user_name=user.name, org_name=org.name),
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
    claims = (
        await db.scalars(
            org_select(SsoDomain, who)
            .order_by(SsoDomain.domain)
            .execution_options(populate_existing=True)  # verification updates are Core UPDATEs
        )
    ).all()
    return SsoConfigOut(
        idp_entity_id=config.idp_entity_id,
        sso_url=config.sso_url,
        x509_cert=config.x509_cert,
        email_domains=[claim.domain for claim in claims],
        domain_claims=[_claim_out(claim) for claim in claims],
        enforce=config.enforce,
        default_role=config.default_role,
        sp_entity_id=urls.entity_id,
        acs_url=urls.acs_url,
        metadata_url=urls.metadata_url,
        created_at=config.created_at,
        updated_at=config.updated_at,
    )


def _claim_out(claim: SsoDomain) -> SsoDomainClaimOut:
    return SsoDomainClaimOut(
        domain=claim.domain,
        status="verified" if claim.verified_at is not None else "pending",
        txt_record_name=verification.record_name(claim.domain),
        txt_record_value=verification.record_value(claim.verification_token),
        verified_at=claim.verified_at,
        last_checked_at=claim.last_checked_at,
        last_check_error=claim.last_check_error,
    )


async def get_config(db: AsyncSession, settings: Settings, who: Principal) -> SsoConfigOut:
    config = await db.scalar(org_select(SsoConfig, who))
    if config is None:
        raise _not_configured()
    return await _config_out(db, settings, who, config)


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    if domain.startswith("@"):
        domain = domain[1:]
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValidationFailed.on(
            "email_domains", f"'{value[:60]}' is not a valid domain."
        ) from exc
    labels = ascii_domain.split(".")
    if (
        len(ascii_domain) > verification.MAX_DOMAIN_LENGTH
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationFailed.on("email_domains", f"'{value[:60]}' is not a valid domain.")
    if security.is_free_email_domain(f"x@{ascii_domain}"):
        raise ValidationFailed.on(
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
                raise ValidationFailed.on(
                    field, "Required when single sign-on is first configured."
                )
    if "sso_url" in changes:
        try:
            changes["sso_url"] = saml.check_sso_url(changes["sso_url"])
        except ValueError as exc:
            raise ValidationFailed.on("sso_url", str(exc)) from exc
    if "x509_cert" in changes:
        try:
            changes["x509_cert"] = saml.normalise_certificate(changes["x509_cert"])
        except ValueError as exc:
            raise ValidationFailed.on("x509_cert", str(exc)) from exc
    domains = sorted({_domain(d) for d in changes.pop("email_domains", [])}) or None
    if domains is not None:  # before anything changes: a refusal commits only its audit row
        await _check_new_claims(db, who, domains)
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
        target=config,
        details={
            "created": created,
            "fields": sorted([*changes, *(["email_domains"] if domains else [])]),
            "email_domains": domains or [],
            "enforce": config.enforce,
            "default_role": config.default_role,
        },
    )
    return await _config_out(db, settings, who, config)


def _address_forms(domain: str) -> set[str]:
    """The domain as user addresses may spell it: claims are stored in IDNA form, addresses
    keep what the user typed (``bücher.example`` or ``xn--bcher-kva.example``)."""
    forms = {domain}
    with contextlib.suppress(UnicodeError):  # not valid IDNA: only the stored form can match
        forms.add(domain.encode("ascii").decode("idna"))
    return forms


async def _claim_conflict(db: AsyncSession, org_id: uuid.UUID, domain: str) -> Conflict | None:
    """Why the org may not hold ``domain`` (checked when claiming and again when
    verifying): another org holds it verified, or has users there. A claim over another org's
    users would route them to this org's IdP and, enforced, lock that org out of its own
    domain. Those users are active ones with a verified address (an unverified sign-up with
    someone else's address must not block the domain's real owner)."""
    taken = await db.scalar(
        select(SsoDomain.id).where(
            SsoDomain.domain == domain,
            SsoDomain.org_id != org_id,
            SsoDomain.verified_at.is_not(None),
        )
    )
    if taken is not None:
        return Conflict(
            f"The domain '{domain}' is already claimed by another organization.",
            code="SSO_DOMAIN_TAKEN",
            commit=True,
        )
    at_domain = or_(
        *(User.email.endswith(f"@{form}", autoescape=True) for form in _address_forms(domain))
    )
    in_use = await db.scalar(
        select(User.id)
        .where(
            User.org_id != org_id,
            User.status == UserStatus.ACTIVE,
            User.email_verified_at.is_not(None),
            at_domain,
        )
        .limit(1)
    )
    if in_use is not None:
        return Conflict(
            f"Users of another organization have email addresses at '{domain}': it cannot "
            "be claimed for this organization's single sign-on.",
            code="SSO_DOMAIN_IN_USE",
            commit=True,
        )
    return None


async def _check_new_claims(db: AsyncSession, who: Principal, domains: list[str]) -> None:
    """Refuse (409, audited) a domain the org does not hold yet that it may not claim."""
    have = set(
        (await db.scalars(org_select(SsoDomain, who).with_only_columns(SsoDomain.domain))).all()
    )
    for domain in domains:
        if domain in have:
            continue
        conflict = await _claim_conflict(db, who.org_id, domain)
        if conflict is not None:
            await audit.record(
                db,
                "sso.domain_claim_refused",
                who=who,
                resource_type="sso_domain",
                resource_name=domain,
                details={"domain": domain, "reason": conflict.error_code},
            )
            raise conflict


async def _claim_domains(db: AsyncSession, who: Principal, domains: list[str]) -> None:
    """Replace the org's domains. A new claim starts pending, with a fresh token to publish."""
    claims = (await db.scalars(org_select(SsoDomain, who))).all()
    for claim in claims:
        if claim.domain not in domains:
            await db.delete(claim)
            await audit.record(
                db,
                "sso.domain_released",
                who=who,
                target=claim,
                details={"domain": claim.domain, "was_verified": claim.verified_at is not None},
            )
    have = {claim.domain for claim in claims}
    added = [
        SsoDomain(
            org_id=who.org_id,
            domain=domain,
            verification_token=security.new_opaque_token(),
        )
        for domain in domains
        if domain not in have
    ]
    try:
        async with db.begin_nested():
            db.add_all(added)
    except IntegrityError as exc:
        raise Conflict(
            "The organization's domains were changed at the same time; please try again."
        ) from exc
    for claim in added:
        await audit.record(
            db,
            "sso.domain_claimed",
            who=who,
            target=claim,
            details={"domain": claim.domain, "record": verification.record_name(claim.domain)},
        )


async def verify_domains(db: AsyncSession, settings: Settings, who: Principal) -> SsoConfigOut:
    """The admin's explicit check of the org's pending claims (``verify_pending_claims``); when
    DNS gives no answer, nothing changes: 502 ``SSO_DNS_UNAVAILABLE``."""
    config = await db.scalar(org_select(SsoConfig, who))
    if config is None:
        raise _not_configured()
    try:
        await verify_pending_claims(db, settings, who.org_id, who=who)
    except verification.DnsUnavailable as exc:
        raise Upstream(
            "The DNS lookup of the verification records got no answer; nothing was changed. "
            "Please try again later.",
            code="SSO_DNS_UNAVAILABLE",
        ) from exc
    return await _config_out(db, settings, who, config)


async def verify_pending_claims(
    db: AsyncSession,
    settings: Settings,
    org_id: uuid.UUID,
    *,
    who: Principal | None = None,
    audit_failures: bool = True,
) -> None:
    """Look up the TXT record of each of the org's pending claims and verify those whose record
    holds their value, unless another org holds the domain verified or has users there
    (checked again here: they may have come since the claim). Each check is recorded on its
    claim (``last_checked_at``, ``last_check_error``) and audited (failures only when
    ``audit_failures``). ``DnsUnavailable`` when any lookup got no answer: then nothing was
    changed."""
    pending = (
        await db.execute(
            select(SsoDomain.id, SsoDomain.domain, SsoDomain.verification_token).where(
                SsoDomain.org_id == org_id, SsoDomain.verified_at.is_(None)
            )
        )
    ).all()
    try:
        found = await verification.txt_values(settings, [row.domain for row in pending])
    except verification.DnsUnavailable as exc:
        log.warning("sso_domain_dns_unavailable", org_id=str(org_id), error=str(exc))
        raise
    now = clock.now()
    for claim_id, domain, token in pending:
        error = _record_error(domain, verification.record_value(token), found[domain])
        if error is None and (conflict := await _claim_conflict(db, org_id, domain)) is not None:
            error = conflict.message
        if error is None:
            error = await _mark_verified(db, org_id, claim_id, now)
        if error is not None:
            await db.execute(
                update(SsoDomain)
                .where(SsoDomain.id == claim_id, SsoDomain.org_id == org_id)
                .values(last_checked_at=now, last_check_error=error)
            )
        if error is not None and not audit_failures:
            continue
        await audit.record(
            db,
            "sso.domain_verification_failed" if error else "sso.domain_verified",
            who=who,
            org_id=org_id,
            resource_type="sso_domain",
            resource_id=claim_id,
            resource_name=domain,
            details={"domain": domain, **({"reason": error} if error else {})},
        )


def _record_error(domain: str, expected: str, values: list[str]) -> str | None:
    name = verification.record_name(domain)
    if not values:
        return f"No TXT record found at {name}."
    if expected not in {value.strip() for value in values}:  # published: no secret to time
        return f"The TXT records at {name} do not hold this organization's value."
    return None


async def _mark_verified(
    db: AsyncSession, org_id: uuid.UUID, claim_id: uuid.UUID, now: datetime
) -> str | None:
    """Verify the claim; the partial unique index decides a race with another org verifying
    the same domain (its message, or None)."""
    try:
        async with db.begin_nested():
            await db.execute(
                update(SsoDomain)
                .where(
                    SsoDomain.id == claim_id,
                    SsoDomain.org_id == org_id,
                    SsoDomain.verified_at.is_(None),
                )
                .values(verified_at=now, last_checked_at=now, last_check_error=None)
            )
    except IntegrityError:
        return "The domain was just verified by another organization."
    return None


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
        target=config,
    )
