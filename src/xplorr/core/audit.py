"""``record()``: the one way to write an audit row (product-notes.md section 24).

Details are redacted before they are stored: any key that names a secret (password, token, key,
secret, authorization, credential) is replaced, and control characters (CR, LF, ANSI escapes) in
strings are escaped so an entry can never forge a line in a log or a CSV export.
"""

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.audit_log.models import AuditEntry
from xplorr.core import context
from xplorr.core.tenancy import Principal
from xplorr.users.models import User

REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(r"pass|token|secret|key|authorization|credential|otp|code", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    return {
        str(k): (REDACTED if _SECRET_KEY.search(str(k)) else _clean(v)) for k, v in details.items()
    }


async def record(
    db: AsyncSession,
    action: str,
    *,
    who: Principal | None = None,
    org_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
    actor_email: str | None = None,
    resource_type: str | None = None,
    resource_id: object | None = None,
    resource_name: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the caller's unit of work (it commits or rolls back with it)."""
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
    user: User,
    *,
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
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        details=details,
    )
