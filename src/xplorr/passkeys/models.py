import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, IdMixin, JSONType, OrgOwned


class WebAuthnCredential(OrgOwned, Base):
    """A registered passkey or security key (WebAuthn L3). ``credential_id`` is the
    base64url credential id, unique across the installation: one credential never belongs to
    two users (security guide 1.5)."""

    __tablename__ = "webauthn_credentials"
    audit_resource: ClassVar[str] = "webauthn_credential"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSONType, default=list)
    name: Mapped[str] = mapped_column(String(100))
    aaguid: Mapped[str | None] = mapped_column(String(36))
    backed_up: Mapped[bool] = mapped_column(default=False)
    last_used_at: Mapped[datetime | None]

    @property
    def audit_name(self) -> str | None:
        return self.name


class WebAuthnChallenge(IdMixin, Base):
    """An outstanding ceremony challenge (32 random bytes). Looked up by the SHA-256 of the
    challenge the client signed, deleted when used (single use), bound to its ceremony
    (``registration``/``authentication``) and, for registration, to the user."""

    __tablename__ = "webauthn_challenges"
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ceremony: Mapped[str] = mapped_column(String(16))
    challenge_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime]
