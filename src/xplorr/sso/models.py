import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, IdMixin, OrgOwned


class SsoConfig(OrgOwned, Base):
    """An organization's SAML identity provider (one per org). The IdP certificate is pinned
    here: signatures are checked against it only, never against a KeyInfo in the message."""

    __tablename__ = "sso_configs"
    audit_resource: ClassVar[str] = "sso_config"
    __table_args__ = (UniqueConstraint("org_id"),)
    idp_entity_id: Mapped[str] = mapped_column(String(1024))
    sso_url: Mapped[str] = mapped_column(String(2048))
    x509_cert: Mapped[str] = mapped_column(Text)
    enforce: Mapped[bool] = mapped_column(default=False)
    default_role: Mapped[str] = mapped_column(String(16), default="member")

    @property
    def audit_name(self) -> str | None:
        return self.idp_entity_id


class SsoDomain(OrgOwned, Base):
    """An email domain claimed by an org's SSO configuration. A claim governs nothing (no login
    routing, no enforcement, no just-in-time users) until it is verified: the org published
    ``verification_token`` in a DNS TXT record of the domain. Several orgs may hold a pending
    claim on one domain; one at most holds it verified (the partial unique index)."""

    __tablename__ = "sso_domains"
    audit_resource: ClassVar[str] = "sso_domain"
    __table_args__ = (
        UniqueConstraint("org_id", "domain"),
        Index(
            "uq_sso_domains_verified_domain",
            "domain",
            unique=True,
            sqlite_where=text("verified_at IS NOT NULL"),
            postgresql_where=text("verified_at IS NOT NULL"),
        ),
    )
    domain: Mapped[str] = mapped_column(String(253))
    verification_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    # Why the last check did not verify the claim (no record, another value, taken...).
    last_check_error: Mapped[str | None] = mapped_column(String(300))

    @property
    def audit_name(self) -> str | None:
        return self.domain


class SsoIdentity(OrgOwned, Base):
    """An external identity, keyed by (IdP entity id, NameID) within its org (ASVS 6.8.1), and
    the local user it logs in as."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("org_id", "idp_entity_id", "name_id"),)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    idp_entity_id: Mapped[str] = mapped_column(String(1024))
    name_id: Mapped[str] = mapped_column(String(512))
    last_login_at: Mapped[datetime | None]


class SamlRequest(OrgOwned, Base):
    """An AuthnRequest we sent: a response must answer one (InResponseTo), once, in time, posted
    by the browser that started it (``browser_sha256``: SHA-256 of its binding cookie)."""

    __tablename__ = "saml_requests"
    request_id: Mapped[str] = mapped_column(String(100), unique=True)
    relay_state: Mapped[str | None] = mapped_column(String(2048))
    browser_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SamlReplay(IdMixin, Base):
    """Assertion ids already consumed, kept until their NotOnOrAfter (python3-saml does not
    stop replays itself)."""

    __tablename__ = "saml_replays"
    __table_args__ = (UniqueConstraint("org_id", "assertion_id"),)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    assertion_id: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime]
