import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ForeignKey, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import secrets
from xplorr.core.models import Base, OrgOwned


class TeamsInstallation(OrgOwned, Base):
    """The org's Microsoft Teams app consent (one per org): the Entra ID tenant, and the
    delegated tokens of the admin who consented, sealed under the org's data key. The access
    token is refreshed with the refresh token when it is about to expire."""

    __tablename__ = "teams_installations"
    __table_args__ = (UniqueConstraint("org_id"),)
    audit_resource: ClassVar[str] = "teams_installation"

    tenant_id: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(1000))
    access_token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    access_token_key_version: Mapped[int] = mapped_column(SmallInteger)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    expires_at: Mapped[datetime]
    installed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    installed_at: Mapped[datetime]

    @property
    def audit_name(self) -> str | None:
        return f"tenant {self.tenant_id}"


ACCESS_TOKEN = secrets.register(
    secrets.SealedColumn(
        TeamsInstallation,
        "access_token_encrypted",
        "access_token_key_version",
        purpose="teams_access_token",
        label="teams_installations",
    )
)
REFRESH_TOKEN = secrets.register(
    secrets.SealedColumn(
        TeamsInstallation,
        "refresh_token_encrypted",
        "refresh_token_key_version",
        purpose="teams_refresh_token",
        label="teams_installation_renewals",
    )
)
