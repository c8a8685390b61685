"""The audit log API (admin): list with filters, the distinct actions, CSV export."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from xplorr.audit_log import service
from xplorr.audit_log.schemas import AuditActionsOut, AuditOut
from xplorr.auth.deps import AdminUser
from xplorr.core import clock
from xplorr.core.db import DbSession
from xplorr.core.errors import ValidationFailed
from xplorr.core.pagination import Page, Pagination
from xplorr.core.ratelimit import limit

router = APIRouter(prefix="/audit", tags=["audit"])
ROUTE_ORDER = 110  # mounting order under /api/v1 (core.areas.routers)

EXPORT_LIMIT = "10/15 minutes"  # the reference's "Report Generation" class: exports are costly


# ISO 8601 date or date-time; numbers (which pydantic would read as Unix time) are refused.
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"


def audit_filter(
    action: Annotated[str | None, Query(max_length=64)] = None,
    user_email: Annotated[str | None, Query(max_length=320)] = None,
    since: Annotated[str | None, Query(alias="from", pattern=_ISO, max_length=40)] = None,
    until: Annotated[str | None, Query(alias="to", pattern=_ISO, max_length=40)] = None,
) -> service.AuditFilter:
    """``from``/``to`` are ISO 8601 dates or timestamps; without an offset they are UTC."""
    return service.AuditFilter(
        action=action,
        user_email=user_email,
        since=_parse(since, "from"),
        until=_parse(until, "to"),
    )


def _parse(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC now: 9999-12-31T23:59-05:00 or 0001-01-01T00:00+05:00 cannot be (OverflowError).
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed.on(
            field,
            "Not an ISO 8601 timestamp in range.",
            summary=f"Invalid {field}: not an ISO 8601 timestamp in range.",
        ) from exc


Filter = Annotated[service.AuditFilter, Depends(audit_filter)]


@router.get("", response_model=Page[AuditOut])
async def list_audit_logs(
    db: DbSession, who: AdminUser, page: Pagination, f: Filter
) -> Page[AuditOut]:
    """Audit entries of the organization, newest first (admin). Filters: ``action``,
    ``user_email``, ``from``, ``to``."""
    return await service.list_entries(db, who, f, page)


@router.get("/actions", response_model=AuditActionsOut)
async def list_audit_actions(db: DbSession, who: AdminUser) -> AuditActionsOut:
    """The distinct action names recorded for the organization (filter dropdown; admin)."""
    return await service.actions(db, who)


@router.get(
    "/export",
    response_class=Response,
    openapi_extra=limit(EXPORT_LIMIT),
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_audit_logs(db: DbSession, who: AdminUser, f: Filter) -> Response:
    """Export the audit entries as CSV (at most 10,000, newest first; same filters as the list;
    admin). Text cells that a spreadsheet would evaluate are prefixed with ``'``."""
    body = await service.export_csv(db, who, f)
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="xplorr-audit-{stamp}.csv"'},
    )
