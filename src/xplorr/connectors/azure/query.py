"""The bill from the Cost Management Query API, when no export is configured.

``POST {scope}/providers/Microsoft.CostManagement/query`` (azure-mgmt-costmanagement's
``query.usage``), scope ``/subscriptions/<id>``, daily, aggregation ``Cost`` summed.

**Range.** 13 months back (from the first day of the month twelve months ago) on the first
sync; later syncs from the first day of the billing period holding "today - 14 days" (Azure
restates recent days; the store replaces whole months). A custom range may not exceed a year,
so the range is read in chunks of at most 12 calendar months.

**Calls** (the API groups by at most two dimensions, and each stored row wants its service,
location and resource group), per chunk and per cost type (``ActualCost`` -> BilledCost,
``AmortizedCost`` -> EffectiveCost):

1. ``grouping=[ResourceGroupName, ChargeType]``: which resource groups have usage, and which
   charge types occur;
2. per resource group with usage, ``grouping=[ServiceName, ResourceLocation]`` filtered to the
   group and ``ChargeType`` Usage: ChargeCategory Usage, ResourceId the resource group
   (``/subscriptions/<id>/resourcegroups/<name>``, lowercased: the Query API has no finer
   grain without a call per resource);
3. usage outside any resource group (the empty ``ResourceGroupName``), when step 1 saw some,
   the same way;
4. every other charge type seen (purchases, refunds, unused reservations...),
   ``grouping=[ChargeType, ServiceName]`` filtered to those types, each in its ChargeCategory
   (``costdetails.CHARGE_CATEGORIES``).

The filters (``In`` comparisons joined by ``and``: the API has no ``not``) partition the
subscription's cost, so nothing is counted twice or lost; a subscription costs 2 + one per
resource group calls per cost type and year read (plus one per extra page).

Every page is followed through ``nextLink`` (POSTed again with the same body, through the
client's own pipeline). Amounts are read from the JSON text as exact decimals. Throttling is
strict (Microsoft: prefer exports for bulk data): a 429 is waited out for as long as
``x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after`` (else ``Retry-After``) asks, up to
``XPLORR_AZURE_THROTTLE_MAX_WAIT_SECONDS``, then the sync attempt is given up and retried by
the job runner (``AzureUnavailable``). Calls are counted in the sync's ``detail.api_calls``
(``Microsoft.CostManagement/query``). A call refused for lack of a role (Cost Management
Reader) fails the sync with Azure's reason; an AmortizedCost query refused alone (some offers
have no amortized view) is a warning and EffectiveCost is then the billed cost.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import pyarrow as pa
import structlog
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.costmanagement import CostManagementClient
from azure.mgmt.costmanagement.models import (
    QueryAggregation,
    QueryComparisonExpression,
    QueryDataset,
    QueryDefinition,
    QueryFilter,
    QueryGrouping,
    QueryTimePeriod,
)

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.azure.costdetails import ACTUAL, AMORTIZED, CHARGE_CATEGORIES
from xplorr.connectors.azure.session import (
    AzureCallError,
    AzureSession,
    AzureUnavailable,
    classify,
    run,
)
from xplorr.core import clock
from xplorr.costs import store
from xplorr.ingest.focus import IngestError, normalise_batch
from xplorr.ingest.pipeline import ImportSummary, import_batches

log = structlog.get_logger("xplorr.connectors.azure")

OPERATION: Final = "Microsoft.CostManagement/query"
FIRST_SYNC_MONTHS: Final = 13
RESTATED_DAYS: Final = 14
CHUNK_MONTHS: Final = 12
PAGES_MAX: Final = 1000
THROTTLE_ATTEMPTS: Final = 5
USAGE: Final = "Usage"


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def sync_range(today: date, first_sync: bool) -> tuple[date, date]:
    """[start, end] (inclusive) of the days to read."""
    if first_sync:
        return _months_back(today, FIRST_SYNC_MONTHS - 1), today
    return (today - timedelta(days=RESTATED_DAYS)).replace(day=1), today


def chunks(start: date, end: date) -> list[tuple[date, date]]:
    """[start, end] cut into ranges of at most ``CHUNK_MONTHS`` calendar months."""
    out = []
    cursor = start
    while cursor <= end:
        index = cursor.year * 12 + cursor.month - 1 + CHUNK_MONTHS
        following = date(index // 12, index % 12 + 1, 1)
        last = min(end, following - timedelta(days=1))
        out.append((cursor, last))
        cursor = last + timedelta(days=1)
    return out


@dataclass
class Row:
    day: date
    service: str
    location: str | None
    resource_group: str | None
    category: str
    currency: str
    billed: Decimal = Decimal(0)
    effective: Decimal = Decimal(0)


@dataclass
class Plan:
    subscription: str
    start: date
    end: date
    calls: int = 0
    warnings: list[str] = field(default_factory=list)
    rows: dict[tuple[Any, ...], Row] = field(default_factory=dict)


def _day(value: Any) -> date:
    text = str(value)
    if text.isdigit() and len(text) == 8:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return date.fromisoformat(text[:10])


class _Query:
    def __init__(self, client: CostManagementClient, session: AzureSession, plan: Plan) -> None:
        self.client = client
        self.session = session
        self.plan = plan
        self.scope = f"/subscriptions/{plan.subscription}"

    def _throttled(self, operation: Any) -> Any:
        waited = 0.0
        for _attempt in range(THROTTLE_ATTEMPTS):
            try:
                return operation()
            except HttpResponseError as exc:
                failure = classify(exc, OPERATION)
                wait = failure.failure.retry_after
                budget = self.session.settings.azure_throttle_max_wait_seconds
                if exc.status_code != 429 or wait is None or waited + wait > budget:
                    raise failure from exc
                log.info("azure_query_throttled", wait=wait)
                time.sleep(wait)
                waited += wait
        raise AzureUnavailable(classify(HttpResponseError(message="throttled"), OPERATION).failure)

    def rows(
        self,
        cost_type: str,
        start: date,
        end: date,
        grouping: list[str],
        flt: QueryFilter | None,
    ) -> list[dict[str, Any]]:
        """Every row of one query, all pages, as {column: value} (blocking)."""
        definition = QueryDefinition(
            type=cost_type,
            timeframe="Custom",
            time_period=QueryTimePeriod(
                from_property=datetime(start.year, start.month, start.day, tzinfo=UTC),
                to=datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=UTC),
            ),
            dataset=QueryDataset(
                granularity="Daily",
                aggregation={"totalCost": QueryAggregation(name="Cost", function="Sum")},
                grouping=[QueryGrouping(type="Dimension", name=name) for name in grouping],
                filter=flt,
            ),
        )

        def raw(pipeline_response: Any, _deserialized: Any, _headers: Any) -> str:
            return str(pipeline_response.http_response.text())

        text = self._throttled(lambda: self.client.query.usage(self.scope, definition, cls=raw))
        self.plan.calls += 1
        out: list[dict[str, Any]] = []
        body = definition.as_dict()
        for _page in range(PAGES_MAX):
            answer = json.loads(text, parse_float=Decimal)
            props = answer.get("properties") or {}
            names = [str(c.get("name")) for c in props.get("columns") or []]
            out += [dict(zip(names, row, strict=False)) for row in props.get("rows") or []]
            link = props.get("nextLink")
            if not link:
                return out

            def follow(url: str = str(link)) -> str:
                response = self.client.send_request(HttpRequest("POST", url, json=body))
                response.raise_for_status()
                return str(response.text())

            text = self._throttled(follow)
            self.plan.calls += 1
        raise ConnectorError(f"{OPERATION}: more than {PAGES_MAX} pages for one query; gave up.")


def _in(name: str, values: list[str]) -> QueryFilter:
    return QueryFilter(
        dimensions=QueryComparisonExpression(name=name, operator="In", values_property=values)
    )


def _and(*filters: QueryFilter) -> QueryFilter:
    return QueryFilter(and_property=list(filters))


def _add(plan: Plan, cost_type: str, row: Row, amount: Decimal) -> None:
    key = (row.day, row.service, row.location, row.resource_group, row.category, row.currency)
    found = plan.rows.get(key)
    if found is None:
        found = plan.rows[key] = row
    if cost_type == ACTUAL:
        found.billed += amount
    else:
        found.effective += amount


def _amount(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise IngestError(
            f"Cost Management query {where}: {str(value)[:40]!r} is not a number.",
            file="Cost Management query",
            column="Cost",
        ) from None


def _usage_rows(query: _Query, cost_type: str, start: date, end: date, group: str) -> None:
    flt = _and(_in("ResourceGroupName", [group]), _in("ChargeType", [USAGE]))
    for r in query.rows(cost_type, start, end, ["ServiceName", "ResourceLocation"], flt):
        day = _day(r.get("UsageDate"))
        location = str(r.get("ResourceLocation") or "").replace(" ", "").lower() or None
        row = Row(
            day,
            str(r.get("ServiceName") or "Other"),
            None if location in (None, "unassigned", "global") else location,
            group.lower() or None,
            "Usage",
            str(r.get("Currency") or "USD"),
        )
        _add(query.plan, cost_type, row, _amount(r.get("Cost"), f"{day} {group}"))


def _read_type(query: _Query, cost_type: str, start: date, end: date) -> None:
    pairs = {
        (str(r.get("ResourceGroupName") or ""), str(r.get("ChargeType") or ""))
        for r in query.rows(cost_type, start, end, ["ResourceGroupName", "ChargeType"], None)
    }
    groups = sorted({g for g, charge in pairs if charge == USAGE})
    for group in groups:  # "" (usage outside any resource group) last-but-not-least
        _usage_rows(query, cost_type, start, end, group)
    others = sorted({charge for _g, charge in pairs if charge != USAGE})
    if not others:
        return
    flt = _in("ChargeType", others)
    for r in query.rows(cost_type, start, end, ["ChargeType", "ServiceName"], flt):
        day = _day(r.get("UsageDate"))
        charge = str(r.get("ChargeType") or "")
        category = CHARGE_CATEGORIES.get(charge.replace(" ", "").lower(), "Adjustment")
        row = Row(
            day,
            str(r.get("ServiceName") or "Other"),
            None,
            None,
            category,
            str(r.get("Currency") or "USD"),
        )
        _add(query.plan, cost_type, row, _amount(r.get("Cost"), f"{day} {charge}"))


def fetch(session: AzureSession, plan: Plan) -> Plan:
    """Run the planned calls (blocking)."""
    client = CostManagementClient(session.credential, **session.arm_options(retry_status=0))
    try:
        query = _Query(client, session, plan)
        for start, end in chunks(plan.start, plan.end):
            _read_type(query, ACTUAL, start, end)
        try:
            for start, end in chunks(plan.start, plan.end):
                _read_type(query, AMORTIZED, start, end)
        except AzureCallError as exc:
            if not exc.failure.denied:
                raise
            plan.warnings.append(
                f"Amortized costs were not read ({exc}); EffectiveCost is the billed cost."
            )
            for row in plan.rows.values():
                row.effective = row.billed
    finally:
        client.close()
    return plan


FIELDS: Final = (
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "BillingCurrency",
    "ServiceName",
    "RegionId",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ChargeCategory",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
)


def focus_batch(rows: list[Row], subscription: str) -> pa.RecordBatch:
    columns: dict[str, list[str | None]] = {name: [] for name in FIELDS}
    for r in rows:
        group_id = (
            f"/subscriptions/{subscription}/resourcegroups/{r.resource_group}"
            if r.resource_group
            else None
        )
        values: dict[str, str | None] = {
            "ProviderName": "Microsoft",
            "BillingAccountId": subscription,
            "SubAccountId": subscription,
            "BillingPeriodStart": r.day.replace(day=1).isoformat() + "T00:00:00Z",
            "ChargePeriodStart": r.day.isoformat() + "T00:00:00Z",
            "BillingCurrency": r.currency,
            "ServiceName": r.service,
            "RegionId": r.location,
            "ResourceId": group_id,
            "ResourceName": r.resource_group,
            "ResourceType": "Resource Group" if group_id else None,
            "ChargeCategory": r.category,
            "BilledCost": str(r.billed),
            "EffectiveCost": str(r.effective),
            "ListCost": str(r.billed),
        }
        for name in FIELDS:
            columns[name].append(values[name])
    return pa.RecordBatch.from_arrays(
        [pa.array(columns[n], pa.string()) for n in FIELDS], names=list(FIELDS)
    )


def _period_print(rows: list[Row]) -> str:
    digest = hashlib.sha256(b"azure-query-v1\n")
    for r in sorted(
        rows,
        key=lambda r: (r.day, r.service, r.location or "", r.resource_group or "", r.category),
    ):
        digest.update(
            f"{r.day}|{r.service}|{r.location}|{r.resource_group}|{r.category}|{r.currency}|"
            f"{r.billed}|{r.effective}\n".encode()
        )
    return digest.hexdigest()


async def import_query(
    ctx: SyncContext, account: CloudAccount, session: AzureSession
) -> ImportSummary:
    """Read the planned range from the Query API and import it month by month."""
    async with ctx.target.transaction() as db:
        known = await store.known_imports(db, account.id)
    now = clock.now()
    start, end = sync_range(now.date(), first_sync=not known)
    plan = Plan(session.target.subscription_id, start, end)
    try:
        await run(fetch, session, plan)
    finally:
        if plan.calls:
            log.info("azure_query_calls", account=str(account.id), calls=plan.calls)
    summary = ImportSummary(api_calls={OPERATION: plan.calls}, warnings=list(plan.warnings))
    by_period: dict[date, list[Row]] = {}
    for row in plan.rows.values():
        by_period.setdefault(row.day.replace(day=1), []).append(row)
    for period in sorted(by_period):
        rows = by_period[period]
        source = f"Cost Management query {period.strftime('%Y-%m')}"
        try:
            batch = normalise_batch(focus_batch(rows, plan.subscription), source=source)
        except IngestError as exc:
            month = period.strftime("%Y-%m")
            summary.warnings.append(f"Billing period {month} not imported: {exc}")
            continue
        part = await import_batches(
            ctx.target,
            account,
            [batch],
            source=source,
            snapshot_at=now,
            fingerprint=_period_print(rows),
            progress=ctx.progress,
            read_timeout=ctx.settings.ingest_read_timeout_seconds,
        )
        summary.merge(part)
    if plan.rows and not summary.periods_imported and not summary.periods_skipped:
        raise ConnectorError(" ".join(summary.warnings))
    return summary
