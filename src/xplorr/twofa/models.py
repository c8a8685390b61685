import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import secrets
from xplorr.core.models import Base, JSONType, OrgOwned

TOTP_PURPOSE = "totp"  # what TOTP seeds are sealed for (bound into each ciphertext)


class TotpFactor(OrgOwned, Base):
    """A user's TOTP authenticator (RFC 6238). The base32 seed is encrypted under the org's data
    key (core.crypto, security guide 1.9). ``confirmed_at`` is None while setup is pending.
    ``last_step`` is the last accepted time step: a code is accepted only for a later step, with
    one conditional UPDATE, so a code never works twice (RFC 6238 5.2)."""

    __tablename__ = "totp_factors"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)


secrets.register(
    secrets.SealedColumn(
        TotpFactor,
        "secret_encrypted",
        "key_version",
        purpose=TOTP_PURPOSE,
        label="authenticator_apps",
    )
)


class RecoveryCode(OrgOwned, Base):
    """A one-time recovery code: only its SHA-256 is stored (the code has 80 random bits)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_sha256"),)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_sha256: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class LoginChallenge(OrgOwned, Base):
    """The second step of a login: the password was right, a second factor is due. The token
    is opaque (not a JWT: useless as an access token), only its SHA-256 is stored, it lives a
    few minutes and is used up by the login it completes."""

    __tablename__ = "login_challenges"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    methods: Mapped[list[str]] = mapped_column(JSONType, default=list)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(default=0)
