import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Enum, ForeignKey, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned
from xplorr.core.tenancy import Role


class UserStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class User(OrgOwned, Base):
    __tablename__ = "users"
    audit_resource: ClassVar[str] = "user"
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=_values)
    )
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, native_enum=False, length=16, values_callable=_values),
        default=UserStatus.ACTIVE,
    )
    email_verified_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # True once an admin limited the user to specific cloud accounts: from then on only the
    # granted accounts are visible, so when a granted account is disconnected (its grant goes
    # with it) the user sees fewer accounts, never every account. Cleared only by an admin
    # revoking the last grant ("no grants = all accounts").
    account_access_restricted: Mapped[bool] = mapped_column(default=False, server_default=false())
    # True while the user has a confirmed TOTP authenticator or a passkey; kept by
    # ``twofa.factors.refresh_two_factor`` from those tables, read on every request to enforce an
    # organization's 2FA requirement without another query.
    two_factor_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    # WebAuthn user handle: 64 random bytes, no PII (WebAuthn 14.6.1); set at first registration.
    webauthn_user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64), unique=True)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE

    @property
    def audit_name(self) -> str | None:
        return self.email


class NotificationPreference(OrgOwned, Base):
    """A user's email notification switches (product-notes.md section 25); only the types the
    user changed are stored, the rest follow the documented defaults."""

    __tablename__ = "notification_preferences"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    settings: Mapped[dict[str, bool]] = mapped_column(JSONType, default=dict)
