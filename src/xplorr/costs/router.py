import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from xplorr.allocation.service import share_rules
from xplorr.auth.deps import CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.params import StrictQuery
from xplorr.core.ratelimit import limit, reference_limit
from xplorr.costs import service
from xplorr.costs.query import ChargeCategory, CostMetric, Metric
from xplorr.costs.schemas import (
    CostBreakdownOut,
    CostTrendOut,
    DimensionsOut,
    TagKeysOut,
    TagValuesOut,
)
from xplorr.costs.service import CostParams, Granularity, PreviousPeriod, TagCase

# Unknown query parameters, and a single-valued one given twice, are a 422 naming them.
router = APIRouter(prefix="/costs", tags=["costs"], dependencies=[StrictQuery])
ROUTE_ORDER = 70  # mounting order under /api/v1 (core.areas.routers)

# The discovery endpoints are not in the reference: they take its "Cost Queries" limit.
COST_LIMIT = limit(reference_limit("GET", "/costs"))
_DAY = r"^\d{4}-\d{2}-\d{2}$"
_REPEAT = " Repeatable: any of the values (OR); different filters combine with AND."


def cost_params(
    start_date: Annotated[
        str | None,
        Query(
            alias="startDate",
            pattern=_DAY,
            description="First day (YYYY-MM-DD, included). Default: 30 days before endDate "
            "(by week: the Monday 11 weeks before endDate's week; by month: the first of the "
            "month 12 months before endDate's month).",
        ),
    ] = None,
    end_date: Annotated[
        str | None,
        Query(
            alias="endDate",
            pattern=_DAY,
            description="Last day (YYYY-MM-DD, included). Default: the last complete day of "
            "the data you can see (dataThrough; today (UTC) without data). At most 366 days "
            "after startDate's day; 1096 days (three years) by month (groupBy or thenBy "
            "month, trend granularity month).",
        ),
    ] = None,
    provider: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z0-9][a-z0-9-]{0,31}$",
            description="Only this provider: its FOCUS ProviderName normalised (aws, azure, "
            "gcp, oracle, ... as groupBy=provider or /costs/dimensions list them).",
        ),
    ] = None,
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
    service_name: Annotated[
        list[str] | None,
        Query(alias="service", description="Only these services (ServiceName)." + _REPEAT),
    ] = None,
    region: Annotated[
        list[str] | None, Query(description="Only these regions (RegionId)." + _REPEAT)
    ] = None,
    charge_category: Annotated[
        list[ChargeCategory] | None,
        Query(
            alias="chargeCategory",
            description="Only these charge categories (FOCUS's closed set: Usage, Purchase, "
            "Tax, Credit, Adjustment)." + _REPEAT,
        ),
    ] = None,
    service_category: Annotated[
        list[str] | None,
        Query(
            alias="serviceCategory",
            description="Only these service categories (Compute, Storage, ...)." + _REPEAT,
        ),
    ] = None,
    resource_id: Annotated[
        list[str] | None,
        Query(alias="resourceId", description="Only these resources (ResourceId)." + _REPEAT),
    ] = None,
    tag: Annotated[
        list[str] | None,
        Query(
            description="key:value: only costs whose tag key has that value; key: (empty "
            "value): only costs without the key. Values of one key are OR-ed, different keys "
            "AND-ed (tag=env:prod&tag=env:dev&tag=team:a)."
        ),
    ] = None,
) -> CostParams:
    return CostParams(
        start_date=start_date,
        end_date=end_date,
        metric=Metric(metric),
        provider=provider,
        account_id=account_id,
        currency=currency,
        services=tuple(service_name or ()),
        regions=tuple(region or ()),
        charge_categories=tuple(c.value for c in charge_category or ()),
        service_categories=tuple(service_category or ()),
        resource_ids=tuple(resource_id or ()),
        tags=tuple(tag or ()),
    )


Params = Annotated[CostParams, Depends(cost_params)]
# /costs and /costs/trend also answer for a Kubernetes cluster (xplorr.kubernetes).
ClusterIdQuery = Annotated[
    uuid.UUID | None,
    Query(
        alias="clusterId",
        description="A Kubernetes cluster's costs (its OpenCost allocations, 404 if not visible) "
        "instead of the cloud accounts': groupBy namespace, controller, pod, node, label:<key>, "
        "date, week or month; idle is its own group (key __idle__, name idle). Not with the "
        "cloud filters. In the cluster's currency.",
    ),
]
TagCaseQuery = Annotated[
    TagCase,
    Query(
        alias="tagCase",
        description="insensitive: tag keys that differ only in case (Environment, "
        "environment) count as one key (a cost row carrying both spellings counts in each).",
    ),
]
_GROUPS = ", ".join(service.GROUP_BYS)


@router.get("", response_model=CostBreakdownOut)
async def cost_breakdown(
    db: DbSession,
    who: CurrentUser,
    params: Params,
    group_by: Annotated[
        str | None,
        Query(
            alias="groupBy",
            description=f"{_GROUPS}, or tag:<key> (costs without the key form the untagged "
            "group: key null, name 'untagged'). month and week group by the month's first "
            "day and the week's Monday. Default: service (namespace with clusterId).",
        ),
    ] = None,
    then_by: Annotated[
        str | None,
        Query(
            alias="thenBy",
            description="A second dimension (same values as groupBy, not the same one): each "
            "group gets `groups`, its cost by this dimension (groupBy=service&thenBy=region).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=1000,
            description="Only the N largest groups (at each level with thenBy); the rest are "
            "summed into one last group {key: null, name: 'other', other: true}.",
        ),
    ] = None,
    cluster_id: ClusterIdQuery = None,
    allocate: Annotated[
        bool,
        Query(
            description="With groupBy=tag:<key>: apply the allocation rules targeting that key "
            "(each item, nested groups and other included, then shows direct and allocated; the "
            "shared source is no longer a group of its own; the total is unchanged to the cent). "
            "Works with every filter, thenBy and limit."
        ),
    ] = False,
) -> CostBreakdownOut:
    """Cost breakdown of a date range by one dimension (and a second inside it), in one
    currency.

    Groups are sorted by cost, largest first; by date, week or month they are sorted by date,
    oldest first, and only periods with costs are listed (``/costs/trend`` lists every one).
    Group amounts are rounded by largest remainder so they add up exactly to totalCost.
    ``currencies`` lists each currency present with its total: amounts in different currencies
    are never added up. A member limited to some cloud accounts sees only those."""
    rules = await share_rules(db, who) if allocate else None
    params = replace(params, cluster_id=cluster_id)
    group_by = group_by or ("namespace" if cluster_id else "service")
    return await service.breakdown(db, who, params, group_by, then_by, limit, rules)


@router.get("/trend", response_model=CostTrendOut)
async def cost_trend(
    db: DbSession,
    who: CurrentUser,
    params: Params,
    granularity: Annotated[
        Granularity,
        Query(
            description="day, week (ISO, from Monday) or month. The range may span three years "
            "by month, 366 days otherwise."
        ),
    ] = Granularity.DAY,
    previous_period: Annotated[
        PreviousPeriod,
        Query(
            alias="previousPeriod",
            description="What the range is compared with: preceding (the equally long period "
            "just before startDate), month_to_date (the range becomes the first of endDate's "
            "month through endDate, compared with the same days of the month before; no "
            "startDate) or year_over_year (the same days one year earlier).",
        ),
    ] = PreviousPeriod.PRECEDING,
    cluster_id: ClusterIdQuery = None,
) -> CostTrendOut:
    """Costs of a date range by day, week or month (every one, 0 when nothing was spent), its
    total, the total of the period it is compared with and the change in percent."""
    params = replace(params, cluster_id=cluster_id)
    return await service.trend(db, who, params, granularity, previous_period)


@router.get("/dimensions", response_model=DimensionsOut, openapi_extra=COST_LIMIT)
async def cost_dimensions(db: DbSession, who: CurrentUser, params: Params) -> DimensionsOut:
    """Every provider, cloud account, service, service category, region, charge and pricing
    category with costs in the range (under the same filters), each with its total, largest
    first: what the filters and groupings of ``/costs`` can be given."""
    return await service.dimensions(db, who, params)


@router.get("/tags", response_model=TagKeysOut, openapi_extra=COST_LIMIT)
async def cost_tag_keys(
    db: DbSession, who: CurrentUser, params: Params, tag_case: TagCaseQuery = TagCase.SENSITIVE
) -> TagKeysOut:
    """Every tag key on the range's costs, with the cost that carries it and its share of
    totalCost, largest first."""
    return await service.tag_keys(db, who, params, tag_case)


@router.get("/tags/{key}/values", response_model=TagValuesOut, openapi_extra=COST_LIMIT)
async def cost_tag_values(
    db: DbSession,
    who: CurrentUser,
    params: Params,
    key: Annotated[str, Path(description="The tag key (URL-encoded).")],
    tag_case: TagCaseQuery = TagCase.SENSITIVE,
    limit: Annotated[
        int | None,
        Query(ge=1, le=1000, description="Only the N largest values; the rest as 'other'."),
    ] = None,
) -> TagValuesOut:
    """The values of one tag key on the range's costs with their totals, largest first; the
    costs without the key are the group {key: null, name: 'untagged'}."""
    return await service.tag_values(db, who, params, key, tag_case, limit)
