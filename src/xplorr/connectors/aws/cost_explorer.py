"""The bill from AWS Cost Explorer (``ce:GetCostAndUsage``), when no Data Export is set.

**Range.** Daily, 13 months back (from the first day of the month twelve months ago) on an
account's first sync; on every later sync again from the first day of the billing period that
holds "today - 14 days" (CE restates recent days; the store replaces whole billing periods, so
the range is widened to whole months: a daily sync re-reads one or two months).

**Calls.** CE groups by at most two keys, and each stored row needs its service, region,
linked account and usage type (``cost_records.usage_type``: what network categories and
instance families are read from), so the calls are planned (all daily over the whole range,
each followed through ``NextPageToken``):

1. ``GroupBy=[LINKED_ACCOUNT, REGION]``: the accounts with costs (a payer sees its members),
   their names, and the regions each has costs in;
2. per account and region, usage (``RECORD_TYPE`` in ``USAGE_RECORD_TYPES``), ``GroupBy=
   [SERVICE, USAGE_TYPE]``, filtered to the account and the region: ChargeCategory ``Usage``;
3. per account, everything else (``NOT`` those record types), ``GroupBy=[RECORD_TYPE,
   SERVICE]``: credits, refunds, tax, fees, each in its charge category (``cur.CHARGE_CATEGORIES``);
   the two filters partition the account's cost, so nothing is counted twice or lost;
4. with ``costTagKeys``, per account and region, usage again by ``[USAGE_TYPE, TAG:<first
   key>]``: those rows replace the region's rows of step 2 (same sums, split by the tag's
   value; costs without the tag have no tag), each usage type under the one service step 2
   saw it in. A usage type billed under several services in the region (data transfer under
   EC2 and S3...) is asked once more on its own, ``GroupBy=[SERVICE, TAG]`` filtered to it.
   CE cannot group by more keys, so only the first key listed splits the costs; the others
   are reported as a warning.

ServiceCategory by service name (``CE_SERVICE_CATEGORIES``, else ``Other``).
Metrics: ``UnblendedCost`` -> BilledCost, ``AmortizedCost`` -> EffectiveCost (ListCost =
BilledCost: CE has no list price per group), ``UsageQuantity`` -> ConsumedQuantity (usage rows).
Amounts are strings, read as exact decimals. Every call costs the customer $0.01: the calls are
counted in the sync's ``detail.api_calls`` (``ce:GetCostAndUsage``); a single account in R
regions costs 2 + R calls per sync (plus one per extra page, 1 + R per extra linked account,
and with a tag key R more, plus one per usage type shared by services in a region).

Each billing period is imported as its own snapshot (fingerprint: a SHA-256 of its rows), so
an unchanged month is skipped and one month's bad data names that month while the others are
kept. A denied call for one linked account is a warning naming it (a partial sync).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import structlog

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.aws.cur import CHARGE_CATEGORIES, SERVICE_CATEGORIES
from xplorr.connectors.aws.session import AwsCallError, AwsSession, call, run
from xplorr.core import clock
from xplorr.costs import services, store
from xplorr.ingest.focus import IngestError, normalise_batch
from xplorr.ingest.pipeline import ImportSummary, import_batches

if TYPE_CHECKING:
    from mypy_boto3_ce import CostExplorerClient

log = structlog.get_logger("xplorr.connectors.aws")

OPERATION = "ce:GetCostAndUsage"
METRICS = ["UnblendedCost", "AmortizedCost", "UsageQuantity"]
USAGE_RECORD_TYPES = ["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"]
FIRST_SYNC_MONTHS = 13
RESTATED_DAYS = 14
NO_REGION = frozenset({"", "NoRegion", "global", "No region"})
PAGES_MAX = 1000  # a runaway NextPageToken loop stops here
CE_CHARGE_CATEGORIES: dict[str, str] = {
    **CHARGE_CATEGORIES,
    "Recurring reservation fee": "Purchase",
    "Upfront reservation fee": "Purchase",
    "Savings Plan Recurring Fee": "Purchase",
    "Savings Plan Upfront Fee": "Purchase",
    "Support fee": "Purchase",
    "Support": "Purchase",
    "Enterprise Discount Program Discount": "Credit",
    "Private Rate Card Discount": "Credit",
    "Solution Provider Program Discount": "Credit",
    "Bundled Discount": "Credit",
}

# CE's service names -> FOCUS ServiceCategory: CUR's table (by product code) under the names
# ``costs.services`` shows for those codes, plus the names only CE uses. Coverage is measured
# over Compute and Databases, so EC2's two CE services must be Compute.
CE_SERVICE_CATEGORIES: dict[str, str] = {
    **{services.canonical(code): category for code, category in SERVICE_CATEGORIES.items()},
    "Amazon Elastic Compute Cloud - Compute": "Compute",
    "EC2 - Other": "Compute",
    "Amazon Elastic Load Balancing": "Networking",
    "Amazon Elastic File System": "Storage",
}


def _month(day: date) -> date:
    return day.replace(day=1)


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def sync_range(today: date, first_sync: bool) -> tuple[date, date]:
    """[start, end) of the days to read (see the module docstring)."""
    if first_sync:
        start = _months_back(today, FIRST_SYNC_MONTHS - 1)
    else:
        start = _month(today - timedelta(days=RESTATED_DAYS))
    return start, today + timedelta(days=1)


@dataclass
class _Row:
    day: date
    account: str
    service: str
    region: str | None
    category: str
    billed: Decimal
    effective: Decimal
    quantity: Decimal | None
    unit: str | None
    currency: str
    tags: str | None = None
    usage_type: str | None = None


@dataclass
class CePlan:
    """What one sync asks CE and what came back."""

    start: date
    end: date
    calls: int = 0
    rows: list[_Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    account_names: dict[str, str] = field(default_factory=dict)


def _amount(metrics: dict[str, Any], name: str, where: str) -> tuple[Decimal, str | None]:
    metric = metrics.get(name) or {}
    raw = metric.get("Amount")
    if raw is None:
        return Decimal(0), metric.get("Unit")
    try:
        return Decimal(str(raw)), metric.get("Unit")
    except InvalidOperation:
        raise IngestError(
            f"Cost Explorer {where}, metric {name}: {str(raw)[:40]!r} is not a number.",
            file="Cost Explorer",
            column=name,
        ) from None


class _Ce:
    def __init__(self, ce: CostExplorerClient, plan: CePlan) -> None:
        self.ce = ce
        self.plan = plan

    def query(
        self, group_by: list[tuple[str, str]], flt: dict[str, Any] | None
    ) -> Iterator[dict[str, Any]]:
        """Every ResultsByTime entry of one grouped query, all pages (blocking)."""
        request: dict[str, Any] = {
            "TimePeriod": {
                "Start": self.plan.start.isoformat(),
                "End": self.plan.end.isoformat(),
            },
            "Granularity": "DAILY",
            "Metrics": METRICS,
            "GroupBy": [{"Type": kind, "Key": key} for kind, key in group_by],
        }
        if flt is not None:
            request["Filter"] = flt
        token: str | None = None
        for _page in range(PAGES_MAX):
            if token:
                request["NextPageToken"] = token
            answer: Any = call(OPERATION, self.ce.get_cost_and_usage, **request)
            self.plan.calls += 1
            for attr in answer.get("DimensionValueAttributes", []):
                name = attr.get("Attributes", {}).get("description")
                if name and attr.get("Value"):
                    self.plan.account_names[attr["Value"]] = name
            yield from answer.get("ResultsByTime", [])
            token = answer.get("NextPageToken")
            if not token:
                return
        raise ConnectorError(
            f"{OPERATION}: more than {PAGES_MAX} pages for one query; gave up on it."
        )


def _account_filter(
    account: str, usage: bool, region: str | None = None, usage_type: str | None = None
) -> dict[str, Any]:
    record = {"Dimensions": {"Key": "RECORD_TYPE", "Values": USAGE_RECORD_TYPES}}
    parts: list[dict[str, Any]] = [
        {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account]}},
        record if usage else {"Not": record},
    ]
    if region is not None:
        parts.append({"Dimensions": {"Key": "REGION", "Values": [region]}})
    if usage_type is not None:
        parts.append({"Dimensions": {"Key": "USAGE_TYPE", "Values": [usage_type]}})
    return {"And": parts}


def _tag_value(key: str | None, tag_key: str) -> str | None:
    """The tags JSON of a ``TAG`` group key (``team$web``; ``team$`` is untagged)."""
    value = key.split("$", 1)[1] if key and "$" in key else ""
    return json.dumps({tag_key: value}) if value else None


def _rows(
    results: Iterator[dict[str, Any]],
    account: str,
    kind: str,
    *,
    region: str | None = None,
    tag_key: str = "",
    usage_type: str | None = None,
    services: dict[str, str] | None = None,
) -> list[_Row]:
    """Stored rows of one query's answer. ``kind`` says what its two keys are: ``usage``
    [SERVICE, USAGE_TYPE]; ``usage_tag`` [USAGE_TYPE, TAG] (the service from ``services``, by
    usage type); ``service_tag`` [SERVICE, TAG] (of ``usage_type``); ``other`` [RECORD_TYPE,
    SERVICE]."""
    out: list[_Row] = []
    for entry in results:
        day = date.fromisoformat(entry["TimePeriod"]["Start"])
        for group in entry.get("Groups", []):
            keys = [*group.get("Keys", []), None, None][:2]
            where = f"{day.isoformat()} {'/'.join(k for k in keys if k)}"
            metrics = group.get("Metrics", {})
            billed, currency = _amount(metrics, "UnblendedCost", where)
            effective, _unit = _amount(metrics, "AmortizedCost", where)
            quantity, unit = _amount(metrics, "UsageQuantity", where)
            row_region, category, tags, row_usage_type = region, "Usage", None, usage_type
            if kind == "usage":
                service, row_usage_type = keys[0], keys[1]
            elif kind == "usage_tag":
                row_usage_type = keys[0]
                service = (services or {}).get(keys[0] or "", "Other")
                tags = _tag_value(keys[1], tag_key)
            elif kind == "service_tag":
                service, tags = keys[0], _tag_value(keys[1], tag_key)
            else:
                record, service = keys[0] or "", keys[1] or "Other"
                row_region, category = None, CE_CHARGE_CATEGORIES.get(record, "Adjustment")
            if row_region in NO_REGION:
                row_region = None
            usage = category == "Usage"
            out.append(
                _Row(
                    day,
                    account,
                    service or "Other",
                    row_region,
                    category,
                    billed,
                    effective,
                    quantity if usage else None,
                    unit if usage and unit and unit != "N/A" else None,
                    currency or "USD",
                    tags,
                    (row_usage_type or None) if usage else None,
                )
            )
    return out


def fetch(ce: CostExplorerClient, plan: CePlan, tag_keys: list[str]) -> CePlan:
    """Run the planned calls (blocking): rows, call count and warnings on ``plan``."""
    client = _Ce(ce, plan)
    regions: dict[str, set[str]] = {}
    for entry in client.query([("DIMENSION", "LINKED_ACCOUNT"), ("DIMENSION", "REGION")], None):
        for group in entry.get("Groups", []):
            keys = group.get("Keys", [])
            if keys and keys[0]:
                found = regions.setdefault(keys[0], set())
                if len(keys) > 1 and keys[1]:
                    found.add(keys[1])
    if len(tag_keys) > 1:
        plan.warnings.append(
            f"Cost Explorer groups by one tag key at a time: costs are split by the tag "
            f"{tag_keys[0]!r} only (not {', '.join(repr(k) for k in tag_keys[1:])})."
        )
    read = 0
    for account in sorted(regions):
        try:
            usage: list[_Row] = []
            for region in sorted(regions[account]):
                usage += _region_usage(client, account, region, next(iter(tag_keys), None))
            other = _rows(
                client.query(
                    [("DIMENSION", "RECORD_TYPE"), ("DIMENSION", "SERVICE")],
                    _account_filter(account, False),
                ),
                account,
                "other",
            )
        except AwsCallError as exc:
            if not exc.failure.denied:
                raise
            plan.warnings.append(f"Linked account {account} was not read: {exc}")
            continue
        plan.rows += usage + other
        read += 1
    if regions and not read:
        raise ConnectorError(" ".join(plan.warnings))
    return plan


def _region_usage(client: _Ce, account: str, region: str, tag_key: str | None) -> list[_Row]:
    """The account's usage in one region by service and usage type; with a tag key, split by
    its values (module docstring, steps 2 and 4)."""
    flt = _account_filter(account, True, region)
    usage = _rows(
        client.query([("DIMENSION", "SERVICE"), ("DIMENSION", "USAGE_TYPE")], flt),
        account,
        "usage",
        region=region,
    )
    if tag_key is None:
        return usage
    services_of: dict[str, set[str]] = {}
    for r in usage:
        services_of.setdefault(r.usage_type or "", set()).add(r.service)
    shared = sorted(t for t, names in services_of.items() if len(names) > 1 and t)
    single = {t: next(iter(names)) for t, names in services_of.items() if len(names) == 1}
    out = [
        r
        for r in _rows(
            client.query([("DIMENSION", "USAGE_TYPE"), ("TAG", tag_key)], flt),
            account,
            "usage_tag",
            region=region,
            tag_key=tag_key,
            services=single,
        )
        if (r.usage_type or "") not in shared
    ]
    for usage_type in shared:
        out += _rows(
            client.query(
                [("DIMENSION", "SERVICE"), ("TAG", tag_key)],
                _account_filter(account, True, region, usage_type),
            ),
            account,
            "service_tag",
            region=region,
            tag_key=tag_key,
            usage_type=usage_type,
        )
    return out


FOCUS_FIELDS = [
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "SubAccountName",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "BillingCurrency",
    "ServiceName",
    "ServiceCategory",
    "RegionId",
    "x_UsageType",
    "ChargeCategory",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ConsumedQuantity",
    "ConsumedUnit",
    "Tags",
]


def focus_batch(rows: list[_Row], payer: str, names: dict[str, str]) -> pa.RecordBatch:
    """Raw FOCUS columns (text) for ``ingest.focus.normalise_batch``."""
    columns: dict[str, list[str | None]] = {name: [] for name in FOCUS_FIELDS}
    for r in rows:
        values: dict[str, str | None] = {
            "ProviderName": "AWS",
            "BillingAccountId": payer,
            "SubAccountId": r.account,
            "SubAccountName": names.get(r.account),
            "BillingPeriodStart": _month(r.day).isoformat() + "T00:00:00Z",
            "ChargePeriodStart": r.day.isoformat() + "T00:00:00Z",
            "BillingCurrency": r.currency,
            "ServiceName": r.service,
            "ServiceCategory": CE_SERVICE_CATEGORIES.get(services.canonical(r.service), "Other"),
            "RegionId": r.region,
            "x_UsageType": r.usage_type,
            "ChargeCategory": r.category,
            "BilledCost": str(r.billed),
            "EffectiveCost": str(r.effective),
            "ListCost": str(r.billed),
            "ConsumedQuantity": None if r.quantity is None else str(r.quantity),
            "ConsumedUnit": r.unit,
            "Tags": r.tags,
        }
        for name in FOCUS_FIELDS:
            columns[name].append(values[name])
    return pa.RecordBatch.from_arrays(
        [pa.array(columns[name], pa.string()) for name in FOCUS_FIELDS], names=FOCUS_FIELDS
    )


def _period_print(rows: list[_Row]) -> str:
    # v2: rows carry their usage type (a period read by v1 is imported again).
    digest = hashlib.sha256(b"ce-v2\n")
    for r in sorted(
        rows,
        key=lambda r: (
            r.day,
            r.account,
            r.service,
            r.region or "",
            r.category,
            r.usage_type or "",
            r.tags or "",
        ),
    ):
        digest.update(
            f"{r.day}|{r.account}|{r.service}|{r.region}|{r.category}|{r.usage_type}|"
            f"{r.billed}|{r.effective}|{r.quantity}|{r.unit}|{r.currency}|{r.tags}\n".encode()
        )
    return digest.hexdigest()


async def import_cost_explorer(
    ctx: SyncContext, account: CloudAccount, session: AwsSession, tag_keys: list[str]
) -> ImportSummary:
    """Read the planned range from CE and import it period by period."""
    async with ctx.target.transaction() as db:
        known = await store.known_imports(db, account.id)
    now: datetime = clock.now()
    start, end = sync_range(now.date(), first_sync=not known)
    plan = CePlan(start, end)
    ce = await run(session.client, "ce")
    await run(fetch, ce, plan, tag_keys)
    summary = ImportSummary(api_calls={OPERATION: plan.calls}, warnings=list(plan.warnings))
    by_period: dict[date, list[_Row]] = {}
    for row in plan.rows:
        by_period.setdefault(_month(row.day), []).append(row)
    for period in sorted(by_period):
        rows = by_period[period]
        source = f"Cost Explorer {period.strftime('%Y-%m')}"
        try:
            batch = normalise_batch(
                focus_batch(rows, account.provider_account_id, plan.account_names), source=source
            )
        except IngestError as exc:
            summary.warnings.append(
                f"Billing period {period.strftime('%Y-%m')} not imported: {exc}"
            )
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
