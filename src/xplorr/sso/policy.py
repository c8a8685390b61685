"""Whether an email must sign in through its organization's identity provider."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.orgs.models import Org
from xplorr.sso.models import SsoConfig, SsoDomain


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower().rstrip(".")


async def sso_org_for(db: AsyncSession, email: str) -> tuple[Org, SsoConfig] | None:
    """The organization that claimed ``email``'s domain for SSO, and its configuration."""
    row = (
        await db.execute(
            select(Org, SsoConfig)
            .join(SsoDomain, SsoDomain.org_id == Org.id)
            .join(SsoConfig, SsoConfig.org_id == Org.id)
            .where(SsoDomain.domain == email_domain(email))
        )
    ).first()
    return (row[0], row[1]) if row else None
