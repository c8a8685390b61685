import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from xplorr.auth.deps import CurrentUser, WriterUser
from xplorr.core.dates import DateRangeQuery
from xplorr.core.db import DbSession
from xplorr.core.errors import ErrorEnvelope, PayloadTooLarge
from xplorr.core.text import NO_CONTROL_CHARACTERS
from xplorr.unit_economics import service
from xplorr.unit_economics.schemas import (
    MAX_BULK,
    BulkResult,
    MetricNamesOut,
    UnitEconomicsOut,
    UnitMetricIn,
    UnitMetricOut,
)

router = APIRouter(prefix="/unit-economics", tags=["unit economics"])
ROUTE_ORDER = 140  # mounting order under /api/v1 (core.areas.routers)

MetricBody = Annotated[
    UnitMetricIn | Annotated[list[UnitMetricIn], Body(max_length=MAX_BULK)],
    Body(description=f"One value, or a list of at most {MAX_BULK} (a back-fill)."),
]
_REPLACED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": UnitMetricOut | BulkResult,
        "description": "The day's value was replaced (one value), or a list was stored.",
    }
}
_CSV: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "name,metric_type,value,date\n"
                "Active Customers,customers,1247,2026-03-21\n",
            }
        },
    }
}


@router.post(
    "/metrics", status_code=201, response_model=UnitMetricOut | BulkResult, responses=_REPLACED
)
async def record_unit_metric(
    body: MetricBody, db: DbSession, who: WriterUser, response: Response
) -> UnitMetricOut | BulkResult:
    """Record a business metric's value for one day (``metric_type``: api_calls, transactions,
    customers, requests, custom). One value per name and day: 201 for a new day, 200 when it
    replaces the day's value. A list stores many at once (200, with counts)."""
    if isinstance(body, list):
        response.status_code = 200
        return await service.record_many(db, who, body)
    out = await service.record(db, who, body)
    if not out.created:
        response.status_code = 200
    return out


@router.post(
    "/metrics/csv",
    response_model=BulkResult,
    openapi_extra=_CSV,
    responses={413: {"model": ErrorEnvelope, "description": "Larger than 1 MiB."}},
)
async def upload_unit_metrics_csv(request: Request, db: DbSession, who: WriterUser) -> BulkResult:
    """Back-fill values from a CSV body (``Content-Type: text/csv``, UTF-8, at most 1 MiB and
    5,000 rows): a header ``name,metric_type,value,date`` (``metric_type`` may be left out:
    custom), then one row per name and day; a day already stored is replaced. A bad row is a
    422 naming its line and column; nothing is stored then."""
    body = await request.body()
    if len(body) > service.MAX_CSV_BYTES:
        raise PayloadTooLarge("The CSV is larger than 1 MiB.")
    return await service.record_many(db, who, service.parse_csv(body))


@router.get("/metrics", response_model=MetricNamesOut)
async def list_unit_metrics(db: DbSession, who: CurrentUser) -> MetricNamesOut:
    """The business metrics the organization records, by name: the kind of the newest value,
    how many days have one, the first and last day (at most 500 names, alphabetical)."""
    return await service.metric_names(db, who)


@router.get("", response_model=UnitEconomicsOut)
async def get_unit_economics(
    db: DbSession,
    who: CurrentUser,
    dates: DateRangeQuery,
    metric_name: Annotated[
        str,
        Query(
            alias="metricName",
            min_length=1,
            max_length=200,
            pattern=NO_CONTROL_CHARACTERS,
            description="The metric to divide cost by.",
        ),
    ],
    account_id: Annotated[
        uuid.UUID | None,
        Query(
            alias="accountId", description="Only this cloud account's cost (404 if not visible)."
        ),
    ] = None,
    service_name: Annotated[
        str | None,
        Query(
            alias="service",
            min_length=1,
            max_length=200,
            pattern=NO_CONTROL_CHARACTERS,
            description="Only this ServiceName's cost.",
        ),
    ] = None,
    tag: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=701,
            pattern=NO_CONTROL_CHARACTERS,
            description="Only cost tagged key:value.",
        ),
    ] = None,
    currency: Annotated[
        str | None,
        Query(pattern=r"^[A-Z]{3}$", description="ISO 4217 code (default: as /costs)."),
    ] = None,
) -> UnitEconomicsOut:
    """Cost per unit over a date range: per day with a value, that day's cost (in scope:
    accountId, service, tag), the units and cost / units; the period's totals; and the trend
    (cost per unit of the first half of those days against the second half: beyond 5 % either
    way increasing or decreasing, else stable). Days without a value are left out."""
    return await service.unit_costs(
        db,
        who,
        start=dates.start,
        end=dates.end,
        metric_name=metric_name.strip(),
        account_id=account_id,
        service=service_name,
        tag=tag,
        currency=currency,
    )
