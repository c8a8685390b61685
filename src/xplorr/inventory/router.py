"""``/inventory``: the resources collectors found, filtered and paginated; filter values; CSV."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from xplorr.auth.deps import CurrentUser
from xplorr.core import clock
from xplorr.core.db import DbSession
from xplorr.core.pagination import Page, Pagination
from xplorr.core.ratelimit import limit
from xplorr.inventory import service
from xplorr.inventory.schemas import InventoryFiltersOut, InventoryItemOut, InventoryProvider

router = APIRouter(prefix="/inventory", tags=["inventory"])
ROUTE_ORDER = 74  # mounting order under /api/v1 (core.areas.routers)

EXPORT_LIMIT = "10/15 minutes"  # the reference's "Report Generation" class: exports are costly
_TEXT = r"^[^\x00-\x1f\x7f]*$"


def inventory_filter(
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Only this cloud account (404 if not visible)."),
    ] = None,
    provider: Annotated[InventoryProvider | None, Query(description="aws, azure or gcp.")] = None,
    region: Annotated[str | None, Query(max_length=100, pattern=_TEXT)] = None,
    type_: Annotated[
        str | None,
        Query(
            alias="type",
            max_length=100,
            pattern=_TEXT,
            description="e.g. Virtual Machine (every cloud's); a provider's own name for a type "
            "also works (EC2 Instance, AWS::EC2::Instance, Microsoft.Compute/disks).",
        ),
    ] = None,
    status: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=_TEXT,
            description="e.g. Running, Stopped; Deleted lists the resources gone from the cloud "
            "in the last 30 days (otherwise they are left out).",
        ),
    ] = None,
    search: Annotated[
        str | None,
        Query(max_length=200, pattern=_TEXT, description="Part of the name or id (any case)."),
    ] = None,
) -> service.InventoryFilter:
    return service.InventoryFilter(
        account_id=account_id,
        provider=provider,
        region=region,
        type=type_,
        status=status,
        search=search,
    )


Filter = Annotated[service.InventoryFilter, Depends(inventory_filter)]


@router.get("", response_model=Page[InventoryItemOut])
async def list_inventory(
    db: DbSession, who: CurrentUser, page: Pagination, f: Filter
) -> Page[InventoryItemOut]:
    """Resources of the organization's cloud accounts (members: their granted accounts), with
    their tags, attributes and cost over the last 30 days from the bill. Filters: accountId,
    provider, region, type, status, search (name or id); page and limit (at most 100)."""
    return await service.list_resources(db, who, f, page)


@router.get("/filters", response_model=InventoryFiltersOut)
async def inventory_filters(db: DbSession, who: CurrentUser) -> InventoryFiltersOut:
    """The distinct values of each inventory filter with their resource counts (dropdowns)."""
    return await service.filters(db, who)


@router.get(
    "/export",
    response_class=StreamingResponse,
    openapi_extra=limit(EXPORT_LIMIT),
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_inventory(db: DbSession, who: CurrentUser, f: Filter) -> StreamingResponse:
    """The inventory of the same filters as CSV (at most 50,000 rows), streamed. Text cells a
    spreadsheet would evaluate (starting with = + - @) are prefixed with ``'``."""
    rows = await service.export_rows(db, who, f)
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        service.csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="xplorr-inventory-{stamp}.csv"'},
    )
