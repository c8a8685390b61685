"""Reading the audit log: the caller's organization only, newest first, filtered."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.audit_log.schemas import AuditActionsOut, AuditOut
from xplorr.core import audit, csvexport
from xplorr.core.audit import AuditEntry
from xplorr.core.errors import ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal

EXPORT_MAX_ROWS = 10_000
CSV_HEADER = (
    "timestamp",
    "user_email",
    "action",
    "resource_type",
    "resource_id",
    "resource_name",
    "ip_address",
    "details",
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    user_email: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_entries(
    db: AsyncSession, who: Principal, f: AuditFilter, page: PageParams
) -> Page[AuditOut]:
    """One page of the entries ``f`` selects, newest first."""
    return await paginate(db, _entries(who, f), page, to_out)


def _entries(who: Principal, f: AuditFilter) -> Select[AuditEntry]:
    if f.since and f.until and f.since > f.until:
        raise ValidationFailed.on(
            "from", "Must not be after 'to'.", summary="'from' must not be after 'to'."
        )
    stmt = select(AuditEntry).where(AuditEntry.org_id == who.org_id)
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.user_email:
        stmt = stmt.where(func.lower(AuditEntry.actor_email) == f.user_email.strip().lower())
    if f.since:
        stmt = stmt.where(AuditEntry.created_at >= f.since)
    if f.until:
        stmt = stmt.where(AuditEntry.created_at <= f.until)
    return stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id)


def to_out(entry: AuditEntry) -> AuditOut:
    return AuditOut(
        id=entry.id,
        timestamp=entry.created_at,
        user_email=entry.actor_email,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        resource_name=entry.resource_name,
        ip_address=entry.ip,
        details=entry.details or {},
    )


async def actions(db: AsyncSession, who: Principal) -> AuditActionsOut:
    rows = await db.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.org_id == who.org_id)
        .distinct()
        .order_by(AuditEntry.action)
    )
    return AuditActionsOut(actions=list(rows.all()))


async def export_csv(db: AsyncSession, who: Principal, f: AuditFilter) -> str:
    """At most EXPORT_MAX_ROWS entries, newest first; the export itself is audited."""
    import json

    rows = (await db.scalars(_entries(who, f).limit(EXPORT_MAX_ROWS))).all()
    await audit.record(
        db,
        "audit.exported",
        who=who,
        resource_type="audit_log",
        details={
            "rows": len(rows),
            "action": f.action,
            "user_email": f.user_email,
            "from": f.since.isoformat() if f.since else None,
            "to": f.until.isoformat() if f.until else None,
        },
    )
    return csvexport.to_csv(
        CSV_HEADER,
        (
            (
                e.created_at,
                e.actor_email,
                e.action,
                e.resource_type,
                e.resource_id,
                e.resource_name,
                e.ip,
                json.dumps(e.details or {}, sort_keys=True),
            )
            for e in rows
        ),
    )
