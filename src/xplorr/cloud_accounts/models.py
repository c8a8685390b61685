"""Connected cloud accounts, their encrypted credentials, and per-user account grants."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Enum, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import secrets
from xplorr.core.models import Base, OrgOwned


class Provider(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    FOCUS = "focus"  # FOCUS export files in a local directory (or one file)
    DEMO = "demo"  # generated data (xplorr demo)


class AccountStatus(StrEnum):
    ACTIVE = "active"
    ERROR = "error"  # the last sync failed; the next good one clears it


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class CloudAccount(OrgOwned, Base):
    """One connected billing source. Deleting it deletes its cost data (foreign keys cascade)."""

    __tablename__ = "cloud_accounts"
    audit_resource: ClassVar[str] = "cloud_account"
    __table_args__ = (UniqueConstraint("org_id", "provider", "provider_account_id"),)
    tenancy_account_column = "id"  # a member limited to some accounts sees only those
    provider: Mapped[Provider] = mapped_column(
        Enum(Provider, native_enum=False, length=16, values_callable=_values)
    )
    name: Mapped[str] = mapped_column(String(200))
    provider_account_id: Mapped[str] = mapped_column(String(200))
    # AES-256-GCM under the org's data key (core.crypto), bound to org and account ids.
    credentials_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    credentials_key_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[AccountStatus] = mapped_column(
        Enum(AccountStatus, native_enum=False, length=16, values_callable=_values),
        default=AccountStatus.ACTIVE,
    )
    last_synced_at: Mapped[datetime | None]

    @property
    def audit_name(self) -> str | None:
        return self.name


secrets.register(
    secrets.SealedColumn(
        CloudAccount,
        "credentials_encrypted",
        "credentials_key_version",
        purpose=secrets.CREDENTIALS,
        label="accounts",
    )
)


class AccountGrant(OrgOwned, Base):
    """A user limited to some cloud accounts sees only those (no grant at all: every account)."""

    __tablename__ = "user_account_grants"
    __table_args__ = (UniqueConstraint("user_id", "cloud_account_id"),)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
