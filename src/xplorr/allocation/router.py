import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from xplorr.allocation import service
from xplorr.allocation.schemas import (
    AllocationRuleCreate,
    AllocationRuleOut,
    AllocationRuleUpdate,
    PreviewOut,
)
from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.pagination import Page, Pagination

router = APIRouter(prefix="/allocation-rules", tags=["allocation"])
ROUTE_ORDER = 130  # mounting order under /api/v1 (core.areas.routers)

PreviewFlag = Annotated[
    bool,
    Query(
        description="true: answer what saving would move over the last full month (200), "
        "value by value of the target tag key, and save nothing."
    ),
]
_PREVIEW: dict[int | str, dict[str, Any]] = {
    200: {"model": PreviewOut, "description": "preview=true: what would move; nothing saved."},
    409: {"model": ErrorEnvelope, "description": "A rule with this name exists."},
}


def _preview(out: PreviewOut) -> JSONResponse:
    return JSONResponse(out.model_dump(mode="json"), status_code=200)


@router.get("", response_model=Page[AllocationRuleOut])
async def list_allocation_rules(
    db: DbSession, who: CurrentUser, page: Pagination
) -> Page[AllocationRuleOut]:
    """List the organization's allocation rules in the order they apply (priority, name)."""
    return await service.list_rules(db, who, page)


@router.post("", status_code=201, response_model=AllocationRuleOut, responses=_PREVIEW)
async def create_allocation_rule(
    body: AllocationRuleCreate, db: DbSession, who: AdminUser, preview: PreviewFlag = False
) -> AllocationRuleOut | JSONResponse:
    """Create an allocation rule (admin): which shared cost (``source``) is split across the
    values of ``target_tag_key``, by ``fixed`` percentages, ``proportional`` to each value's
    own daily cost, or ``even``ly. Applied by ``GET /costs?groupBy=tag:<key>&allocate=true``.
    With ``preview=true``: the effect over the last full month, nothing saved."""
    if preview:
        return _preview(await service.preview(db, who, body))
    return service.to_out(await service.create_rule(db, who, body))


@router.patch("/{rule_id}", response_model=AllocationRuleOut, responses=_PREVIEW)
async def update_allocation_rule(
    rule_id: uuid.UUID,
    body: AllocationRuleUpdate,
    db: DbSession,
    who: AdminUser,
    preview: PreviewFlag = False,
) -> AllocationRuleOut | JSONResponse:
    """Change an allocation rule (admin); the rule as changed is validated as a whole. With
    ``preview=true``: the effect of the change over the last full month, nothing saved."""
    if preview:
        return _preview(await service.preview_update(db, who, rule_id, body))
    return service.to_out(await service.update_rule(db, who, rule_id, body))


@router.delete("/{rule_id}", status_code=204)
async def delete_allocation_rule(rule_id: uuid.UUID, db: DbSession, who: AdminUser) -> Response:
    """Delete an allocation rule (admin)."""
    await service.delete_rule(db, who, rule_id)
    return Response(status_code=204)
