import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from xplorr.allocation.service import share_rules
from xplorr.auth.deps import CurrentUser
from xplorr.core.dates import DateRange, EndDate, StartDate
from xplorr.core.db import DbSession
from xplorr.costs import service
from xplorr.costs.query import CostMetric, Metric
from xplorr.costs.schemas import CostBreakdownOut, CostTrendOut
from xplorr.costs.service import CostFilters, CostProvider

router = APIRouter(prefix="/costs", tags=["costs"])
ROUTE_ORDER = 70  # mounting order under /api/v1 (core.areas.routers)

# A tag key: 1..200 characters, no control characters, double quotes or backslashes.
_GROUP_BY = r'^(provider|service|region|date|account|tag:[^"\\\x00-\x1f\x7f]{1,200})$'


def cost_filters(
    start_date: StartDate = None,
    end_date: EndDate = None,
    provider: Annotated[CostProvider | None, Query(description="Only this provider.")] = None,
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Only this cloud account (404 if not visible)."),
    ] = None,
    metric: Annotated[
        CostMetric,
        Query(description="billed (BilledCost), effective (EffectiveCost) or list (ListCost)."),
    ] = CostMetric.BILLED,
    currency: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z]{3}$",
            description="ISO 4217 code. Default: the organization's reporting currency (until "
            "that setting exists: the currency most of your cloud accounts bill in).",
        ),
    ] = None,
) -> CostFilters:
    return service.resolve_filters(
        dates=DateRange.resolve(start_date, end_date),
        metric=Metric(metric),
        provider=provider,
        account_id=account_id,
        currency=currency,
    )


Filters = Annotated[CostFilters, Depends(cost_filters)]


@router.get("", response_model=CostBreakdownOut)
async def cost_breakdown(
    db: DbSession,
    who: CurrentUser,
    filters: Filters,
    group_by: Annotated[
        str,
        Query(
            alias="groupBy",
            pattern=_GROUP_BY,
            description="provider, service, region, date, account, or tag:<key> (costs without "
            "the key form the untagged group: key null, name 'untagged').",
        ),
    ] = "service",
    allocate: Annotated[
        bool,
        Query(
            description="With groupBy=tag:<key>: apply the allocation rules targeting that key "
            "(each item then shows direct and allocated; the shared source is no longer a group "
            "of its own; the total is unchanged to the cent)."
        ),
    ] = False,
) -> CostBreakdownOut:
    """Cost breakdown of a date range by one dimension, in one currency.

    Groups are sorted by cost, largest first; with ``groupBy=date`` they are sorted by date,
    oldest first, and only days with costs are listed (``/costs/trend`` lists every day).
    ``currencies`` lists each currency present with its total: amounts in different currencies
    are never added up. A member limited to some cloud accounts sees only those."""
    rules = await share_rules(db, who) if allocate else None
    return await service.breakdown(db, who, filters, group_by, rules)


@router.get("/trend", response_model=CostTrendOut)
async def cost_trend(db: DbSession, who: CurrentUser, filters: Filters) -> CostTrendOut:
    """Daily costs of a date range (every day, 0 when nothing was spent), its total, the total
    of the equally long period just before it and the change in percent."""
    return await service.trend(db, who, filters)
