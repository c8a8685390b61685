import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, IdMixin, JSONType, OrgOwned


class AuthSession(OrgOwned, Base):
    """A login: one refresh-token family (RFC 9700 4.14.2). Access JWTs carry its id as ``sid``,
    so revoking the family stops its access tokens at the next request."""

    __tablename__ = "auth_sessions"
    audit_resource: ClassVar[str] = "session"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    @property
    def audit_name(self) -> str | None:
        return None  # a login has no name of its own


class RefreshToken(IdMixin, Base):
    """One opaque refresh token of a family; only its SHA-256 is stored."""

    __tablename__ = "refresh_tokens"
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[uuid.UUID | None]
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a password)


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class OneTimeToken(OrgOwned, Base):
    """An emailed single-use token (verification, password reset): 256 bits from the CSPRNG,
    only its SHA-256 stored (security guide 1.8)."""

    __tablename__ = "one_time_tokens"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, length=20, values_callable=_values)
    )
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Invitation(OrgOwned, Base):
    """An invitation to join an organization with a role (and optionally only some cloud
    accounts). Bound to org, email and role; the emailed token is stored as its SHA-256."""

    __tablename__ = "invitations"
    audit_resource: ClassVar[str] = "invitation"
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16))
    account_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    invited_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def audit_name(self) -> str | None:
        return self.email
