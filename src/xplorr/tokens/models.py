import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"


class ApiToken(OrgOwned, Base):
    """A personal API token (``xplorr_...``): acts as its user; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    audit_resource: ClassVar[str] = "api_token"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # "write" (everything its user may do) or "read" (GET only: READ_ONLY_TOKEN on any write).
    scope: Mapped[str] = mapped_column(String(8), default="write", server_default="write")
    # None: every account its user sees; else only these (intersected with the user's grants
    # at each request, so revoking a grant narrows the token at once). Stored as id strings.
    account_ids: Mapped[list[str] | None] = mapped_column(JSONType, default=None)

    @property
    def audit_name(self) -> str | None:
        return self.name
