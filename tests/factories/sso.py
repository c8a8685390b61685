"""Typed factories for SSO configurations (add, commit, return)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tests.sso.idp import TestIdp
from xplorr.core import clock, security
from xplorr.orgs.models import Org
from xplorr.sso import saml
from xplorr.sso.models import SsoConfig, SsoDomain
from xplorr.users.models import User


def org_domain(org: Org) -> str:
    """The domain ``make_user`` gives an org's users."""
    return f"{org.slug}.example.com"


async def make_sso_config(
    db: AsyncSession,
    org: Org,
    idp: TestIdp,
    *,
    domains: list[str] | None = None,
    enforce: bool = False,
    default_role: str = "member",
    verified: bool = True,
) -> SsoConfig:
    """An org's IdP configuration and its domain claims (``org_domain`` unless ``domains``),
    verified as if their TXT records had been found, unless ``verified=False``."""
    config = SsoConfig(
        org_id=org.id,
        idp_entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        x509_cert=saml.normalise_certificate(idp.cert_pem),
        enforce=enforce,
        default_role=default_role,
    )
    db.add(config)
    for domain in domains if domains is not None else [org_domain(org)]:
        db.add(
            SsoDomain(
                org_id=org.id,
                domain=domain,
                verification_token=security.new_opaque_token(),
                verified_at=clock.now() if verified else None,
            )
        )
    await db.commit()
    return config


async def _tenant_sso_config(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_sso_config(db, org, TestIdp("a"))).id


TENANT_FACTORIES = {SsoConfig: _tenant_sso_config}
