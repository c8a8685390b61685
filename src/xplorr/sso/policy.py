"""Whether an email must sign in through its organization's identity provider."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.errors import Forbidden
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.sso.models import SsoConfig, SsoDomain
from xplorr.users.models import User


def email_domain(email: str) -> str:
    """The domain in the ASCII (IDNA) form claimed domains are stored in, so an
    internationalised address matches its organization's claim (and its SSO enforcement)."""
    domain = email.rsplit("@", 1)[-1].strip().lower().rstrip(".")
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN: it can match no claimed domain as it is
        return domain


async def sso_org_for(db: AsyncSession, email: str) -> tuple[Org, SsoConfig] | None:
    """The organization whose verified claim covers ``email``'s domain, and its configuration.
    A pending claim (no DNS proof yet) governs nothing: several orgs may hold one."""
    row = (
        await db.execute(
            select(Org, SsoConfig)
            .join(SsoDomain, SsoDomain.org_id == Org.id)
            .join(SsoConfig, SsoConfig.org_id == Org.id)
            .where(SsoDomain.domain == email_domain(email), SsoDomain.verified_at.is_not(None))
        )
    ).first()
    return (row[0], row[1]) if row else None


async def enforcing_org(db: AsyncSession, email: str, user: User | None) -> Org | None:
    """The organization whose enforced SSO this login (password or passkey) must go through
    instead, or None. A user of another organization is not governed by it; the org's owner
    keeps logging in without the IdP (break-glass)."""
    sso = await sso_org_for(db, email)
    if sso is None or not sso[1].enforce:
        return None
    org = sso[0]
    if user is not None and (user.org_id != org.id or user.role == Role.OWNER):
        return None
    return org


def sso_required(org: Org, *, commit: bool = False) -> Forbidden:
    return Forbidden(
        "Your organization requires single sign-on. Sign in through your identity provider.",
        code="SSO_REQUIRED",
        details=[{"field": "org_slug", "message": org.slug}],
        commit=commit,
    )
