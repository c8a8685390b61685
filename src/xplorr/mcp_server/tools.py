"""The MCP tools: each is one or two calls of the Xplorr REST API, with arguments typed as the API
takes them and descriptions an assistant can choose by. Read-only unless the server runs with
``--allow-writes``, which adds the tools that change something (today: acknowledging or
resolving an anomaly).

The lists of allowed values (groupBy, metrics, charge categories) are repeated here rather than
imported from the cost module: this package never imports the API's code (it reads nothing but
HTTP), and ``tests/mcp_server`` checks the copies against the API's own lists."""

import calendar
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from xplorr.mcp_server.api import ApiError, QueryValue, XplorrApi
from xplorr.mcp_server.arguments import Only, Without, flat_arguments
from xplorr.mcp_server.config import McpConfig, api_token_of
from xplorr.mcp_server.values import as_object, decimal

GROUP_BYS = (
    "provider",
    "service",
    "region",
    "date",
    "account",
    "resource",
    "sku",
    "chargeCategory",
    "serviceCategory",
    "pricingCategory",
    "month",
    "week",
)
"""``GET /costs``'s groupBy values (besides ``tag:<key>``)."""
TIME_GROUP_BYS = frozenset({"date", "week", "month"})
_GROUP_PATTERN = "^(" + "|".join(GROUP_BYS) + r"|tag:.+)$"
_MOVER_PATTERN = "^(" + "|".join(g for g in GROUP_BYS if g not in TIME_GROUP_BYS) + r"|tag:.+)$"
CLUSTER_GROUP_BYS = ("namespace", "controller", "pod", "node", "date", "week", "month")
"""``GET /costs?clusterId=``'s groupBy values (besides ``label:<key>``)."""
_CLUSTER_GROUP_PATTERN = "^(" + "|".join(CLUSTER_GROUP_BYS) + r"|label:.+)$"
MOVER_FETCH_LIMIT = 1000  # /costs' largest limit: groups beyond it come back summed as "other"

Metric = Literal["billed", "effective", "list"]
ChargeCategory = Literal["Usage", "Purchase", "Tax", "Credit", "Adjustment"]

# --- argument types (the JSON schema an assistant sees) ------------------------------------------

Day = Annotated[date, Field(description="A day, YYYY-MM-DD.")]
StartDate = Annotated[
    date | None,
    Field(description="First day, YYYY-MM-DD, included. Default: 30 days before end_date."),
]
EndDate = Annotated[
    date | None,
    Field(
        description="Last day, YYYY-MM-DD, included. Default: the last complete day of data "
        "(data through). Ranges span at most 366 days (three years when grouping by month)."
    ),
]
Provider = Annotated[
    str | None,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,31}$",
        description="Only this provider: aws, azure, gcp, oracle... (list_cost_dimensions "
        "lists those present).",
    ),
]
AccountId = Annotated[
    uuid.UUID | None,
    Field(description="Only this cloud account: its Xplorr id (list_cloud_accounts)."),
]
Services = Annotated[
    list[str] | None,
    Field(
        description="Only these services, as the cost answers name them (e.g. Amazon Elastic "
        "Compute Cloud); OR-ed."
    ),
]
Regions = Annotated[
    list[str] | None, Field(description="Only these regions (us-east-1...); OR-ed.")
]
ChargeCategories = Annotated[
    list[ChargeCategory] | None,
    Field(description="Only these FOCUS charge categories; OR-ed."),
]
ServiceCategories = Annotated[
    list[str] | None,
    Field(description="Only these service categories (Compute, Storage, Networking...); OR-ed."),
]
ResourceIds = Annotated[
    list[str] | None, Field(description="Only these resources (ResourceId or ARN); OR-ed.")
]
Tags = Annotated[
    list[str] | None,
    Field(
        description="Tag filters 'key:value' (cost carrying that value) or 'key:' (cost "
        "without the key). Values of one key are OR-ed, different keys AND-ed."
    ),
]
MetricArg = Annotated[
    Metric,
    Field(
        description="billed (what the invoice says, default), effective (amortized: "
        "commitments spread over the usage they cover) or list (public on-demand prices)."
    ),
]
Currency = Annotated[
    str | None,
    Field(
        pattern=r"^[A-Za-z]{3}$",
        description="ISO 4217 code. Default: the organization's main currency. Amounts in "
        "different currencies are never added: the answer lists each currency's total.",
    ),
]
Page = Annotated[int, Field(ge=1, le=10_000, description="Page number, from 1.")]
Limit = Annotated[int, Field(ge=1, le=100, description="Items per page (at most 100).")]


@dataclass(frozen=True, slots=True)
class CostFilters:
    """The filters every ``/costs`` endpoint takes, as query parameters. A cost tool takes
    them as one parameter (``filters: CostFilters``, or ``Annotated[CostFilters, Only(...)]``
    for some); the assistant sees each field as an argument of its own
    (``arguments.flat_arguments``)."""

    start_date: StartDate = None
    end_date: EndDate = None
    provider: Provider = None
    account_id: AccountId = None
    service: Services = None
    region: Regions = None
    charge_category: ChargeCategories = None
    service_category: ServiceCategories = None
    resource_id: ResourceIds = None
    tag: Tags = None
    metric: MetricArg = "billed"
    currency: Currency = None

    def query(self) -> dict[str, QueryValue]:
        return {
            "startDate": _day(self.start_date),
            "endDate": _day(self.end_date),
            "provider": self.provider,
            "accountId": _id(self.account_id),
            "service": self.service,
            "region": self.region,
            "chargeCategory": list(self.charge_category) if self.charge_category else None,
            "serviceCategory": self.service_category,
            "resourceId": self.resource_id,
            "tag": self.tag,
            "metric": self.metric,
            "currency": self.currency.upper() if self.currency else None,
        }


NO_FILTERS = CostFilters()
RANGE_AND_ACCOUNT = Only("start_date", "end_date", "account_id")


@dataclass(frozen=True, slots=True)
class _Saving:
    group: str
    type: str
    category: str
    amount: Decimal


def _together(savings: list[_Saving]) -> Decimal:
    """What ``savings`` save together: per overlap group, the type whose recommendations save
    most (the API's ``overlap_group``: alternatives for the same spend), groups added up."""
    groups: dict[str, dict[str, Decimal]] = {}
    for x in savings:
        per_type = groups.setdefault(x.group, {})
        per_type[x.type] = per_type.get(x.type, Decimal(0)) + x.amount
    return sum((max(per_type.values()) for per_type in groups.values()), Decimal(0))


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def bearer_token(config: McpConfig, ctx: Context) -> str:
    """The API token a tool acts with: the server's own (single-tenant), else the one the HTTP
    request carries (multi-tenant; the HTTP app already refused requests without one)."""
    if config.api_token:
        return config.api_token
    token = api_token_of((ctx.headers or {}).get("authorization"))
    if token is None:
        raise ToolError(
            "No Xplorr API token: this server is multi-tenant, so each HTTP request must carry "
            "'Authorization: Bearer xplorr_...' (or start the server with XPLORR_API_TOKEN)."
        )
    return token


def register(server: MCPServer, api: XplorrApi, config: McpConfig) -> None:
    """Add every tool to ``server`` (the write tools only with ``config.allow_writes``)."""

    async def call(
        ctx: Context,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        method: str = "GET",
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return await api.request(
                bearer_token(config, ctx), method, path, params=params, body=body
            )
        except ApiError as exc:
            raise ToolError(str(exc)) from exc

    def tool(
        title: str, *, annotations: ToolAnnotations = READ
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            server.add_tool(
                flat_arguments(fn),
                title=title,
                # One paragraph: the docstring without its source indentation.
                description=" ".join((fn.__doc__ or "").split()),
                annotations=annotations.model_copy(update={"title": title}),
                structured_output=True,
            )
            return fn

        return add

    # --- context ---------------------------------------------------------------------------

    @tool("Who am I, and what day is it")
    async def get_context(ctx: Context) -> dict[str, Any]:
        """Start here. Today's date (UTC) with its weekday, so 'last Tuesday' or 'last month'
        can be turned into dates; the organization; the user the token acts as (role, and the
        cloud accounts they may see); and each account's provider and last complete day of
        cost data."""
        me = await call(ctx, "/auth/me")
        status = await call(ctx, "/sync/status")
        today = datetime.now(UTC).date()
        user = {k: me.get(k) for k in ("id", "email", "name", "role")}
        return as_object(
            {
                "today": today.isoformat(),
                "weekday": calendar.day_name[today.weekday()],
                "organization": me.get("organization"),
                "user": user,
                "accounts": [
                    {
                        "id": a["accountId"],
                        "name": a["accountName"],
                        "provider": a["provider"],
                        "status": a["accountStatus"],
                        "dataThrough": a["dataThrough"],
                    }
                    for a in status["data"]
                ],
            }
        )

    # --- costs -----------------------------------------------------------------------------

    @tool("Cost breakdown")
    async def get_cost_breakdown(
        ctx: Context,
        group_by: Annotated[
            str,
            Field(
                pattern=_GROUP_PATTERN,
                description="Dimension: " + ", ".join(GROUP_BYS) + ", or tag:<key> (cost "
                "without the key is the group 'untagged'). date/week/month give a time series.",
            ),
        ] = "service",
        then_by: Annotated[
            str | None,
            Field(
                pattern=_GROUP_PATTERN,
                description="A second dimension inside each group (e.g. group_by=service, "
                "then_by=region).",
            ),
        ] = None,
        limit: Annotated[
            int | None,
            Field(ge=1, le=1000, description="Only the N largest groups; the rest as 'other'."),
        ] = 20,
        allocate: Annotated[
            bool,
            Field(
                description="With group_by=tag:<key>: apply the organization's allocation "
                "rules for that key (shared costs split onto teams; each group shows direct "
                "and allocated)."
            ),
        ] = False,
        filters: CostFilters = NO_FILTERS,
    ) -> dict[str, Any]:
        """What was spent, split by a dimension (and optionally a second one), for a date range
        and any filters: GET /costs. Groups are sorted largest first (time series oldest
        first), add up exactly to totalCost, and carry their share in percent."""
        query = {
            **filters.query(),
            "groupBy": group_by,
            "thenBy": then_by,
            "limit": limit,
            "allocate": "true" if allocate else None,
        }
        return as_object(await call(ctx, "/costs", query))

    @tool("Cost trend")
    async def get_cost_trend(
        ctx: Context,
        granularity: Annotated[
            Literal["day", "week", "month"], Field(description="One point per day, week or month.")
        ] = "day",
        previous_period: Annotated[
            Literal["preceding", "month_to_date", "year_over_year"],
            Field(
                description="Compared with: preceding (the equally long period before), "
                "month_to_date (this month so far against the same days of last month; "
                "start_date is then not allowed) or year_over_year."
            ),
        ] = "preceding",
        filters: CostFilters = NO_FILTERS,
    ) -> dict[str, Any]:
        """Spend over time: every day (week, month) of the range with its cost, 0 where nothing
        was spent, the total, the previous period's total and the change in percent:
        GET /costs/trend. Use it to see when a jump started."""
        query = {
            **filters.query(),
            "granularity": granularity,
            "previousPeriod": previous_period,
        }
        return as_object(await call(ctx, "/costs/trend", query))

    @tool("Top cost movers")
    async def get_top_movers(
        ctx: Context,
        start_date: Annotated[date, Field(description="First day of the period to explain.")],
        end_date: Annotated[
            date | None, Field(description="Last day of that period (default: start_date).")
        ] = None,
        compare_start_date: Annotated[
            date | None,
            Field(
                description="First day of the baseline. Default: the equally long period "
                "just before start_date (for one day: the day before)."
            ),
        ] = None,
        compare_end_date: Annotated[
            date | None, Field(description="Last day of the baseline (with compare_start_date).")
        ] = None,
        group_by: Annotated[
            str,
            Field(
                pattern=_MOVER_PATTERN,
                description="What moved: service (default), account, region, resource, sku, "
                "provider, chargeCategory, serviceCategory, pricingCategory or tag:<key>.",
            ),
        ] = "service",
        limit: Annotated[int, Field(ge=1, le=100, description="How many movers.")] = 10,
        filters: Annotated[CostFilters, Without("start_date", "end_date")] = NO_FILTERS,
    ) -> dict[str, Any]:
        """Why did spend change? Compares a period with a baseline and lists what moved most
        (largest absolute change first): each group's cost in both periods, the change and the
        change in percent (null when it was 0 before: new spend). To drill down, call again
        with a mover as a filter and a finer group_by (service -> resource, sku, region)."""
        end = end_date or start_date
        if end < start_date:
            raise ToolError("end_date is before start_date")
        days = (end - start_date).days + 1
        if (compare_start_date is None) != (compare_end_date is None):
            raise ToolError("give both compare_start_date and compare_end_date, or neither")
        if compare_start_date is not None and compare_end_date is not None:
            base_start, base_end = compare_start_date, compare_end_date
            if base_end < base_start:
                raise ToolError("compare_end_date is before compare_start_date")
        else:
            base_end = start_date - timedelta(days=1)
            base_start = base_end - timedelta(days=days - 1)

        def query(start: date, stop: date, money: str | None) -> dict[str, QueryValue]:
            period = replace(filters, start_date=start, end_date=stop, currency=money)
            return {**period.query(), "groupBy": group_by, "limit": MOVER_FETCH_LIMIT}

        now = await call(ctx, "/costs", query(start_date, end, filters.currency))
        # The baseline in the same currency as the period's answer, whatever its default.
        money = now.get("currency") or filters.currency
        before = await call(ctx, "/costs", query(base_start, base_end, money))
        money = money or before.get("currency")
        groups: dict[Any, dict[str, Any]] = {}
        truncated = False
        for side, answer in (("current", now), ("previous", before)):
            for item in answer["data"]:
                if item.get("other"):
                    truncated = True
                    continue
                row = groups.setdefault(
                    item["key"],
                    {
                        "key": item["key"],
                        "name": item["name"],
                        "current": Decimal(0),
                        "previous": Decimal(0),
                    },
                )
                row[side] = decimal(item["cost"])
        movers = []
        for row in groups.values():
            change = row["current"] - row["previous"]
            if change == 0:
                continue
            percent = (
                (change / row["previous"] * 100).quantize(Decimal("0.01"))
                if row["previous"] != 0
                else None
            )
            movers.append({**row, "change": change, "changePercent": percent})
        movers.sort(key=lambda m: (-abs(m["change"]), str(m["key"])))
        total_now, total_before = decimal(now["totalCost"]), decimal(before["totalCost"])
        total_change = total_now - total_before
        return as_object(
            {
                "currency": money,
                "groupBy": group_by,
                "metric": filters.metric,
                "period": {
                    "startDate": start_date.isoformat(),
                    "endDate": end.isoformat(),
                    "totalCost": total_now,
                },
                "baseline": {
                    "startDate": base_start.isoformat(),
                    "endDate": base_end.isoformat(),
                    "totalCost": total_before,
                },
                "change": total_change,
                "changePercent": (total_change / total_before * 100).quantize(Decimal("0.01"))
                if total_before != 0
                else None,
                "movers": movers[:limit],
                "moversTotal": len(movers),
                "truncated": truncated,
                "otherCurrencies": [
                    c for c in now.get("currencies") or [] if c.get("currency") != money
                ],
            }
        )

    @tool("Month-end forecast")
    async def get_cost_forecast(
        ctx: Context,
        month: Annotated[
            str | None,
            Field(
                pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                description="YYYY-MM; default: this month. A past month answers its actual.",
            ),
        ] = None,
        account_id: AccountId = None,
    ) -> dict[str, Any]:
        """Where a month's spend will land: actual so far, the projected month total with its
        day-to-day range (low, high: the spread daily noise alone gives, not a calibrated
        interval) and the method used, per currency. Built by the API's
        forecast (GET /reports/cost-summary) from the daily series of each account, provider
        and service."""
        today = datetime.now(UTC).date()
        if month is None:
            year, number = today.year, today.month
        else:
            year, number = int(month[:4]), int(month[5:])
        first = date(year, number, 1)
        if first > today:
            raise ToolError("The forecast covers the current month at most; not a future one.")
        last = date(year, number, calendar.monthrange(year, number)[1])
        end = min(last, today)
        summary = await call(
            ctx,
            "/reports/cost-summary",
            {
                "startDate": first.isoformat(),
                "endDate": end.isoformat(),
                "accountId": _id(account_id),
            },
        )
        return as_object(
            {
                "month": f"{year:04d}-{number:02d}",
                "currencies": [
                    {"currency": c["currency"], "forecast": c.get("forecast")}
                    for c in summary["currencies"]
                ],
            }
        )

    @tool("Cost dimensions")
    async def list_cost_dimensions(
        ctx: Context,
        filters: Annotated[
            CostFilters, Only("start_date", "end_date", "provider", "account_id", "currency")
        ] = NO_FILTERS,
    ) -> dict[str, Any]:
        """Every provider, account, service, service category, region, charge and pricing
        category with cost in the range, each with its total: the values the cost tools'
        filters accept (GET /costs/dimensions)."""
        return as_object(await call(ctx, "/costs/dimensions", filters.query()))

    @tool("Tag keys on costs")
    async def list_cost_tag_keys(
        ctx: Context,
        filters: Annotated[CostFilters, RANGE_AND_ACCOUNT] = NO_FILTERS,
        case_insensitive: Annotated[
            bool, Field(description="Count Environment and environment as one key.")
        ] = False,
    ) -> dict[str, Any]:
        """Every tag key on the range's costs, with the cost carrying it and its share of the
        total (GET /costs/tags): how well spend is tagged, and which keys to group by."""
        query = {
            **filters.query(),
            "tagCase": "insensitive" if case_insensitive else "sensitive",
        }
        return as_object(await call(ctx, "/costs/tags", query))

    @tool("Values of a tag key")
    async def list_cost_tag_values(
        ctx: Context,
        key: Annotated[str, Field(min_length=1, max_length=512, description="The tag key.")],
        filters: Annotated[CostFilters, RANGE_AND_ACCOUNT] = NO_FILTERS,
        limit: Annotated[int | None, Field(ge=1, le=1000)] = 50,
    ) -> dict[str, Any]:
        """The values of one tag key with their cost, largest first, and the untagged rest
        (GET /costs/tags/{key}/values)."""
        query = {**filters.query(), "limit": limit}
        return as_object(await call(ctx, f"/costs/tags/{_segment(key)}/values", query))

    @tool("Network costs")
    async def get_network_costs(
        ctx: Context,
        days: Annotated[int, Field(ge=1, le=366, description="The last N days.")] = 30,
        account_id: AccountId = None,
    ) -> dict[str, Any]:
        """Data transfer and networking spend by category (internet egress, inter-region,
        inter-AZ, NAT gateway, load balancer, VPN, CDN, public IPv4), by day, the top resources,
        NAT gateways, load balancers and VPCs (GET /network/summary)."""
        return as_object(
            await call(ctx, "/network/summary", {"days": days, "account_id": _id(account_id)})
        )

    @tool("Kubernetes clusters")
    async def list_kubernetes_clusters(
        ctx: Context, page: Page = 1, limit: Limit = 50
    ) -> dict[str, Any]:
        """The Kubernetes clusters whose OpenCost collector posts to Xplorr: id, name,
        currency, state (waiting or receiving), last post and the days of cost held."""
        return as_object(await call(ctx, "/kubernetes/clusters", {"page": page, "limit": limit}))

    @tool("Kubernetes costs")
    async def get_kubernetes_costs(
        ctx: Context,
        cluster_id: Annotated[
            uuid.UUID, Field(description="The cluster's id (list_kubernetes_clusters).")
        ],
        group_by: Annotated[
            str,
            Field(
                pattern=_CLUSTER_GROUP_PATTERN,
                description="namespace (default), controller, pod, node, label:<key>, or "
                "date/week/month for a time series. Idle capacity is its own group "
                "(key __idle__).",
            ),
        ] = "namespace",
        then_by: Annotated[
            str | None,
            Field(pattern=_CLUSTER_GROUP_PATTERN, description="A second dimension inside each."),
        ] = None,
        limit: Annotated[
            int | None,
            Field(ge=1, le=1000, description="Only the N largest groups; the rest as 'other'."),
        ] = 20,
        start_date: StartDate = None,
        end_date: EndDate = None,
    ) -> dict[str, Any]:
        """A Kubernetes cluster's cost (its OpenCost allocations) by namespace, workload,
        pod, node or label, in the same shape as get_cost_breakdown and in the cluster's
        currency (GET /costs?clusterId=). The default range ends on the cluster's last posted
        day. Cluster cost is a share of the nodes the cloud bill already counts: never add it
        to the accounts' totals."""
        query = {
            "clusterId": str(cluster_id),
            "groupBy": group_by,
            "thenBy": then_by,
            "limit": limit,
            "startDate": _day(start_date),
            "endDate": _day(end_date),
        }
        return as_object(await call(ctx, "/costs", query))

    # --- guardrails ------------------------------------------------------------------------

    @tool("Cost anomalies")
    async def list_anomalies(
        ctx: Context,
        status: Annotated[
            Literal["open", "acknowledged", "resolved"] | None, Field(description="Filter.")
        ] = None,
        severity: Annotated[
            Literal["low", "medium", "high", "critical"] | None, Field(description="Filter.")
        ] = None,
        account_id: AccountId = None,
        page: Page = 1,
        limit: Limit = 25,
    ) -> dict[str, Any]:
        """Detected spend spikes and drops, newest day first: per anomaly the day, scope
        (service, account or whole org), actual against the 7-day baseline, excess, severity,
        status, and its root cause (the resources, SKUs, regions or services that moved)."""
        query = {
            "status": status,
            "severity": severity,
            "accountId": _id(account_id),
            "page": page,
            "limit": limit,
        }
        return as_object(await call(ctx, "/anomalies", query))

    if config.allow_writes:

        @tool("Acknowledge or resolve an anomaly", annotations=WRITE)
        async def acknowledge_anomaly(
            ctx: Context,
            anomaly_id: Annotated[uuid.UUID, Field(description="The anomaly's id.")],
            status: Annotated[
                Literal["acknowledged", "resolved", "open"],
                Field(description="acknowledged (default), resolved, or open again."),
            ] = "acknowledged",
        ) -> dict[str, Any]:
            """Set an anomaly's status (PATCH /anomalies/{id}); audited under the token's
            user. Needs a member role or above and a token with write scope."""
            return as_object(
                await call(ctx, f"/anomalies/{anomaly_id}", method="PATCH", body={"status": status})
            )

    @tool("Budgets")
    async def list_budgets(ctx: Context, page: Page = 1, limit: Limit = 50) -> dict[str, Any]:
        """Budgets with their current period's spend, percent used, forecast for the period
        (with its day-to-day range) and whether they are projected to overrun."""
        return as_object(await call(ctx, "/budgets", {"page": page, "limit": limit}))

    @tool("Alert rules")
    async def list_alert_rules(ctx: Context, page: Page = 1, limit: Limit = 50) -> dict[str, Any]:
        """Spend alert rules (daily, monthly or forecast spend against a threshold, with their
        filters) and their recent firings."""
        return as_object(await call(ctx, "/alerts", {"page": page, "limit": limit}))

    # --- savings ---------------------------------------------------------------------------

    @tool("Savings recommendations")
    async def list_recommendations(
        ctx: Context,
        status: Annotated[
            Literal["open", "in_progress", "applied", "dismissed"] | None,
            Field(description="Filter (default: every status)."),
        ] = None,
        type: Annotated[
            str | None,
            Field(max_length=64, description="Recommendation type, e.g. stop_idle_instance."),
        ] = None,
        category: Annotated[
            str | None,
            Field(
                max_length=32,
                description="idle, unused, rightsizing, modernization or commitment.",
            ),
        ] = None,
        provider: Annotated[Literal["aws", "azure", "gcp"] | None, Field()] = None,
        account_id: AccountId = None,
        include_snoozed: bool = False,
        limit: Annotated[int, Field(ge=1, le=100)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Ways to save, largest estimated monthly saving first: idle or oversized resources,
        unattached volumes, old snapshots, commitments to buy... each with its evidence (the
        figures it rests on), risk and how to apply it (GET /recommendations)."""
        query = {
            "status": status,
            "type": type,
            "category": category,
            "provider": provider,
            "accountId": _id(account_id),
            "includeSnoozed": "true" if include_snoozed else None,
            "limit": limit,
            "offset": offset,
        }
        return as_object(await call(ctx, "/recommendations", query))

    @tool("Savings summary")
    async def get_savings_summary(ctx: Context, account_id: AccountId = None) -> dict[str, Any]:
        """What the open recommendations would save per month, per currency, by category and
        type, with the five largest; and what applied ones saved. Reads every page of
        GET /recommendations (open and applied) and adds them up per currency, counting
        alternatives for the same spend once (recommendations sharing an overlap_group: the
        actions on one resource, an account's commitment purchases): monthlySavings and
        byCategory take, per group, the type that saves most; byType is each type's plain
        sum."""
        found: dict[tuple[str, str], list[_Saving]] = {}
        top: list[dict[str, Any]] = []
        for status in ("open", "applied"):
            offset = 0
            while True:
                page = await call(
                    ctx,
                    "/recommendations",
                    {
                        "status": status,
                        "accountId": _id(account_id),
                        "limit": 100,
                        "offset": offset,
                    },
                )
                items = page["data"]
                for rec in items:
                    currency = rec.get("currency") or "USD"
                    # Applied ones count what they saved when they closed, where it is known.
                    realized = rec.get("realized_monthly_savings")
                    saving = decimal(
                        realized
                        if status == "applied" and realized is not None
                        else rec.get("estimated_monthly_savings")
                    )
                    found.setdefault((status, currency), []).append(
                        _Saving(
                            group=str(rec.get("overlap_group") or rec.get("id")),
                            type=str(rec.get("type") or "unknown"),
                            category=str(rec.get("category") or "unknown"),
                            amount=saving,
                        )
                    )
                    if status == "open":
                        top.append(rec)
                offset += len(items)
                if not items or offset >= int(page.get("total", 0)):
                    break
        totals = [
            {
                "status": status,
                "currency": currency,
                "count": len(savings),
                "monthlySavings": _together(savings),
                "byCategory": {
                    c: _together([x for x in savings if x.category == c])
                    for c in dict.fromkeys(x.category for x in savings)
                },
                "byType": {
                    t: sum((x.amount for x in savings if x.type == t), Decimal(0))
                    for t in dict.fromkeys(x.type for x in savings)
                },
            }
            for (status, currency), savings in found.items()
        ]
        top.sort(key=lambda r: -decimal(r.get("estimated_monthly_savings")))
        return as_object(
            {
                "totals": sorted(totals, key=lambda t: (str(t["status"]), str(t["currency"]))),
                "largestOpen": [
                    {
                        k: r.get(k)
                        for k in (
                            "id",
                            "title",
                            "type",
                            "category",
                            "resource_id",
                            "estimated_monthly_savings",
                            "currency",
                            "risk",
                        )
                    }
                    for r in top[:5]
                ],
            }
        )

    @tool("AI recommendations")
    async def get_ai_recommendations(ctx: Context) -> dict[str, Any]:
        """Insights over the organization's aggregated figures (top services and movers,
        anomalies, open recommendations, commitment coverage), written by the configured LLM;
        'source: rules' says they come from deterministic rules when no LLM is configured
        (GET /ai-recommendations)."""
        return as_object(await call(ctx, "/ai-recommendations"))

    @tool("Approval requests")
    async def list_approvals(
        ctx: Context,
        status: Annotated[
            Literal["pending", "approved", "rejected", "expired"] | None, Field()
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Requests to apply a recommendation whose saving is above the organization's
        approval threshold, with who asked, who decided and when (GET /approvals)."""
        query = {"status": status, "limit": limit, "offset": offset}
        return as_object(await call(ctx, "/approvals", query))

    @tool("One approval request")
    async def get_approval(
        ctx: Context, approval_id: Annotated[uuid.UUID, Field(description="The approval's id.")]
    ) -> dict[str, Any]:
        """One approval request with its recommendation and decision (GET /approvals/{id})."""
        return as_object(await call(ctx, f"/approvals/{approval_id}"))

    @tool("Commitment coverage")
    async def get_commitment_analysis(
        ctx: Context,
        account_id: AccountId = None,
        days: Annotated[int, Field(ge=1, le=366, description="Look-back window.")] = 90,
    ) -> dict[str, Any]:
        """Reserved Instances and Savings Plans: daily spend by pricing model, coverage and
        utilisation in percent, on-demand gaps a commitment would cover (per instance family
        and region), owned commitments with their expiry, and advice
        (GET /commitments/analysis)."""
        return as_object(
            await call(ctx, "/commitments/analysis", {"accountId": _id(account_id), "days": days})
        )

    # --- ownership and inventory -----------------------------------------------------------

    @tool("Search cloud resources")
    async def search_inventory(
        ctx: Context,
        search: Annotated[
            str | None, Field(max_length=200, description="Part of the name or id, any case.")
        ] = None,
        type: Annotated[
            str | None, Field(max_length=100, description="e.g. Virtual Machine, Disk.")
        ] = None,
        status: Annotated[
            str | None,
            Field(
                max_length=64,
                description="e.g. Running, Stopped; Deleted: resources gone in the last 30 "
                "days (left out otherwise).",
            ),
        ] = None,
        region: Annotated[str | None, Field(max_length=100)] = None,
        provider: Annotated[Literal["aws", "azure", "gcp"] | None, Field()] = None,
        account_id: AccountId = None,
        page: Page = 1,
        limit: Limit = 25,
    ) -> dict[str, Any]:
        """Cloud resources (instances, volumes, snapshots, addresses, load balancers,
        databases, buckets...) with their tags, attributes (size, type, CPU use) and cost of
        the last 30 days (GET /inventory)."""
        query = {
            "search": search,
            "type": type,
            "status": status,
            "region": region,
            "provider": provider,
            "accountId": _id(account_id),
            "page": page,
            "limit": limit,
        }
        return as_object(await call(ctx, "/inventory", query))

    @tool("Inventory filter values")
    async def list_inventory_filters(ctx: Context) -> dict[str, Any]:
        """The providers, accounts, regions, resource types and statuses present in the
        inventory, with counts: what search_inventory's filters accept."""
        return as_object(await call(ctx, "/inventory/filters"))

    @tool("Tagging policies")
    async def list_tagging_policies(
        ctx: Context, page: Page = 1, limit: Limit = 50
    ) -> dict[str, Any]:
        """The tags the organization requires (key, allowed values, resource kinds)."""
        return as_object(await call(ctx, "/tagging-policies", {"page": page, "limit": limit}))

    @tool("Tagging violations")
    async def list_tagging_violations(
        ctx: Context,
        page: Page = 1,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        """Resources breaking a tagging policy (tag missing or value not allowed), from the
        live inventory and the cost data, costliest first, with their cost over the last 30
        days of data (null when the bill names the resource nowhere, e.g. an AWS account billed
        through Cost Explorer), and per policy the share of spend that complies (GET
        /tagging-policies/violations, at most 200)."""
        query = {"page": page, "limit": limit}
        return as_object(await call(ctx, "/tagging-policies/violations", query))

    @tool("Cost allocation rules")
    async def list_allocation_rules(
        ctx: Context, page: Page = 1, limit: Limit = 50
    ) -> dict[str, Any]:
        """How shared costs are split onto teams (source filter, target tag key, fixed,
        proportional or even split), in the order they apply. get_cost_breakdown with
        group_by=tag:<key> and allocate=true shows the result."""
        return as_object(await call(ctx, "/allocation-rules", {"page": page, "limit": limit}))

    @tool("Unit economics")
    async def get_unit_economics(
        ctx: Context,
        metric_name: Annotated[
            str,
            Field(
                min_length=1,
                max_length=200,
                description="The business metric, e.g. "
                "'Active Customers' (as sent to POST /unit-economics/metrics).",
            ),
        ],
        start_date: StartDate = None,
        end_date: EndDate = None,
        account_id: AccountId = None,
        service: Annotated[str | None, Field(max_length=200)] = None,
        tag: Annotated[str | None, Field(max_length=701, description="key:value")] = None,
        currency: Currency = None,
    ) -> dict[str, Any]:
        """Cost per unit of a business metric (per customer, per 1,000 API calls...) per day,
        its totals and whether it is rising or falling (GET /unit-economics)."""
        query = {
            "metricName": metric_name,
            "startDate": _day(start_date),
            "endDate": _day(end_date),
            "accountId": _id(account_id),
            "service": service,
            "tag": tag,
            "currency": currency.upper() if currency else None,
        }
        return as_object(await call(ctx, "/unit-economics", query))

    # --- reports ---------------------------------------------------------------------------

    @tool("Cost summary")
    async def get_cost_summary(
        ctx: Context,
        start_date: StartDate = None,
        end_date: EndDate = None,
        account_id: AccountId = None,
    ) -> dict[str, Any]:
        """The report's short form, per currency: total and change against the previous
        period, top 5 services, top movers by service and the month's forecast
        (GET /reports/cost-summary)."""
        query = {
            "startDate": _day(start_date),
            "endDate": _day(end_date),
            "accountId": _id(account_id),
        }
        return as_object(await call(ctx, "/reports/cost-summary", query))

    @tool("Full cost report")
    async def get_cost_report(
        ctx: Context,
        start_date: StartDate = None,
        end_date: EndDate = None,
        account_id: AccountId = None,
    ) -> dict[str, Any]:
        """The CFO report as data (GET /reports): per currency totals by provider, account,
        service and region, the daily series, top movers and forecast, plus the budgets and
        anomalies sections. Limited to 10 per 15 minutes: prefer get_cost_summary."""
        query = {
            "startDate": _day(start_date),
            "endDate": _day(end_date),
            "accountId": _id(account_id),
            "format": "json",
        }
        return as_object(await call(ctx, "/reports", query))

    @tool("Scheduled reports")
    async def list_scheduled_reports(
        ctx: Context, page: Page = 1, limit: Limit = 50
    ) -> dict[str, Any]:
        """Reports emailed on a schedule: frequency, recipients, format, next and last send."""
        return as_object(await call(ctx, "/scheduled-reports", {"page": page, "limit": limit}))

    # --- accounts and data freshness -------------------------------------------------------

    @tool("Cloud accounts")
    async def list_cloud_accounts(
        ctx: Context, page: Page = 1, limit: Limit = 100
    ) -> dict[str, Any]:
        """The connected AWS, Azure and GCP accounts (Xplorr id, provider, provider's account
        id, status, last sync); credentials never appear."""
        return as_object(await call(ctx, "/cloud-accounts", {"page": page, "limit": limit}))

    @tool("Sync status")
    async def get_sync_status(ctx: Context) -> dict[str, Any]:
        """Per account its newest billing sync (state, when, rows, error) and the last complete
        day of its cost data: check this before trusting yesterday's numbers."""
        return as_object(await call(ctx, "/sync/status"))

    @tool("Sync history")
    async def list_sync_jobs(ctx: Context, limit: Limit = 25, offset: int = 0) -> dict[str, Any]:
        """Recent sync runs of every visible account, newest first, with what each imported
        and any error (GET /sync/jobs)."""
        return as_object(await call(ctx, "/sync/jobs", {"limit": limit, "offset": offset}))


def _segment(value: str) -> str:
    """A path segment, percent-encoded (a tag key may hold '/', ':' or spaces)."""
    return quote(value, safe="")
