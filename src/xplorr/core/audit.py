"""``record()``: the one way to write an audit row (product-notes.md section 24).

Details are redacted before they are stored: any key that names a secret (password, token, key,
secret, authorization, credential) is replaced, and control characters (CR, LF, ANSI escapes) in
strings are escaped so an entry can never forge a line in a log or a CSV export.
"""

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import clock, context
from xplorr.core.models import Base, IdMixin, JSONType
from xplorr.core.tenancy import Principal


class AuditEntry(IdMixin, Base):
    """One security-relevant event (product-notes.md section 24). Append-only: no API edits it.
    Core owns the table because every area writes it (``record``); the ``audit_log`` area
    reads it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_id_created_at", "org_id", "created_at"),)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    actor_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    resource_name: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Audited(Protocol):
    """A row an audit entry is about (``record(..., target=row)``): its model names the resource
    type once (``audit_resource``) and which of its values names the row (``audit_name``)."""

    audit_resource: ClassVar[str]

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def audit_name(self) -> str | None: ...


class Actor(Protocol):
    """A user acting on their own account (``record_user``): a ``users.models.User``."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def org_id(self) -> uuid.UUID: ...

    @property
    def email(self) -> str: ...


REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(r"pass|token|secret|key|authorization|credential|otp|code", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_secret_key(name: str) -> bool:
    """A details key whose value the audit log redacts."""
    return _SECRET_KEY.search(name) is not None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)[:1000]
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def redact(details: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): (REDACTED if is_secret_key(str(k)) else _clean(v)) for k, v in details.items()}


async def record(
    db: AsyncSession,
    action: str,
    *,
    who: Principal | None = None,
    target: Audited | None = None,
    org_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
    actor_email: str | None = None,
    resource_type: str | None = None,
    resource_id: object | None = None,
    resource_name: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the caller's unit of work (it commits or rolls back with it).
    ``target``: the row acted on, which gives the resource type, id and name (explicit
    ``resource_*`` arguments are for what is not a row, or not one of its own names)."""
    if target is not None:
        resource_type = resource_type or type(target).audit_resource
        resource_id = target.id if resource_id is None else resource_id
        resource_name = resource_name or target.audit_name
    ctx = context.get()
    entry = AuditEntry(
        org_id=who.org_id if who else org_id,
        actor_user_id=who.user_id if who else actor_user_id,
        actor_email=who.email if who else actor_email,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        resource_name=_clean(resource_name) if resource_name else None,
        ip=ctx.ip if ctx else None,
        details=redact(details or {}),
    )
    db.add(entry)
    return entry


async def record_user(
    db: AsyncSession,
    action: str,
    user: Actor,
    *,
    target: Audited | None = None,
    resource_type: str | None = None,
    resource_id: object | None = None,
    resource_name: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """An audit row of ``user`` acting on their own account before a principal exists (login,
    logout, joining, 2FA and passkey events): their org, id and email as the actor."""
    return await record(
        db,
        action,
        org_id=user.org_id,
        actor_user_id=user.id,
        actor_email=user.email,
        target=target,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        details=details,
    )
