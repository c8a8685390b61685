"""The bill from AWS Cost Explorer (``ce:GetCostAndUsage``), when no Data Export is set.

**Range.** Daily, 13 months back (from the first day of the month twelve months ago) on an
account's first sync; on every later sync again from the first day of the billing period that
holds "today - 14 days" (CE restates recent days; the store replaces whole billing periods, so
the range is widened to whole months: a daily sync re-reads one or two months).

**Calls.** CE groups by at most two keys, and each stored row needs its service, region and
linked account, so the calls are planned (all daily over the whole range, each followed
through ``NextPageToken``):

1. ``GroupBy=[LINKED_ACCOUNT]``: the accounts with costs (a payer sees its members) and their
   names;
2. per account, usage (``RECORD_TYPE`` in ``USAGE_RECORD_TYPES``), ``GroupBy=[SERVICE,
   REGION]``, filtered to the account: ChargeCategory ``Usage``;
3. per account, everything else (``NOT`` those record types), ``GroupBy=[RECORD_TYPE,
   SERVICE]``: credits, refunds, tax, fees, each in its charge category (``cur.CHARGE_CATEGORIES``);
   the two filters partition the account's cost, so nothing is counted twice or lost;
4. with ``costTagKeys``, per account and region of step 2, usage again by ``[SERVICE,
   TAG:<first key>]`` filtered to that region: those rows replace the region's rows of step 2
   (same sums, split by the tag's value; costs without the tag have no tag). CE cannot group by
   more keys, so only the first key listed splits the costs; the others are reported as a warning.

Metrics: ``UnblendedCost`` -> BilledCost, ``AmortizedCost`` -> EffectiveCost (ListCost =
BilledCost: CE has no list price per group), ``UsageQuantity`` -> ConsumedQuantity (usage rows).
Amounts are strings, read as exact decimals. Every call costs the customer $0.01: the calls are
counted in the sync's ``detail.api_calls`` (``ce:GetCostAndUsage``); a single account costs 3
calls per sync (plus one per extra page, two per extra linked account, one per region with
a tag key).

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
from xplorr.connectors.aws.cur import CHARGE_CATEGORIES
from xplorr.connectors.aws.session import AwsCallError, AwsSession, call, run
from xplorr.core import clock
from xplorr.costs import store
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


def _account_filter(account: str, usage: bool) -> dict[str, Any]:
    record = {"Dimensions": {"Key": "RECORD_TYPE", "Values": USAGE_RECORD_TYPES}}
    return {
        "And": [
            {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account]}},
            record if usage else {"Not": record},
        ]
    }


def _rows(
    results: Iterator[dict[str, Any]],
    account: str,
    kind: str,
    tag_key: str | None = None,
    region: str | None = None,
) -> list[_Row]:
    out: list[_Row] = []
    for entry in results:
        day = date.fromisoformat(entry["TimePeriod"]["Start"])
        for group in entry.get("Groups", []):
            keys = list(group.get("Keys", []))
            where = f"{day.isoformat()} {'/'.join(keys)}"
            metrics = group.get("Metrics", {})
            billed, currency = _amount(metrics, "UnblendedCost", where)
            effective, _unit = _amount(metrics, "AmortizedCost", where)
            quantity, unit = _amount(metrics, "UsageQuantity", where)
            if kind == "usage":
                service, row_region = keys[0], keys[1] if len(keys) > 1 else None
                category = "Usage"
                tags = None
            elif kind == "tagged":
                service, row_region, category = keys[0], region, "Usage"
                value = keys[1].split("$", 1)[1] if len(keys) > 1 and "$" in keys[1] else ""
                tags = json.dumps({tag_key: value}) if value and tag_key else None
            else:
                record, service = keys[0], keys[1] if len(keys) > 1 else "Other"
                row_region, category, tags = (
                    None,
                    CE_CHARGE_CATEGORIES.get(record, "Adjustment"),
                    None,
                )
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
                )
            )
    return out


def fetch(ce: CostExplorerClient, plan: CePlan, tag_keys: list[str]) -> CePlan:
    """Run the planned calls (blocking): rows, call count and warnings on ``plan``."""
    client = _Ce(ce, plan)
    accounts: set[str] = set()
    for entry in client.query([("DIMENSION", "LINKED_ACCOUNT")], None):
        for group in entry.get("Groups", []):
            accounts.update(k for k in group.get("Keys", [])[:1] if k)
    if len(tag_keys) > 1:
        plan.warnings.append(
            f"Cost Explorer groups by one tag key at a time: costs are split by the tag "
            f"{tag_keys[0]!r} only (not {', '.join(repr(k) for k in tag_keys[1:])})."
        )
    read = 0
    for account in sorted(accounts):
        try:
            usage = _rows(
                client.query(
                    [("DIMENSION", "SERVICE"), ("DIMENSION", "REGION")],
                    _account_filter(account, True),
                ),
                account,
                "usage",
            )
            other = _rows(
                client.query(
                    [("DIMENSION", "RECORD_TYPE"), ("DIMENSION", "SERVICE")],
                    _account_filter(account, False),
                ),
                account,
                "other",
            )
            if tag_keys:
                usage = _tagged(client, account, usage, tag_keys[0])
        except AwsCallError as exc:
            if not exc.failure.denied:
                raise
            plan.warnings.append(f"Linked account {account} was not read: {exc}")
            continue
        plan.rows += usage + other
        read += 1
    if accounts and not read:
        raise ConnectorError(" ".join(plan.warnings))
    return plan


def _tagged(client: _Ce, account: str, usage: list[_Row], tag_key: str) -> list[_Row]:
    """The account's usage rows split by ``tag_key``'s values, region by region."""
    regions = sorted({r.region or "" for r in usage})
    out: list[_Row] = []
    for region in regions:
        if not region:
            out += [r for r in usage if r.region is None]  # global usage: not split
            continue
        flt = _account_filter(account, True)
        flt["And"].append({"Dimensions": {"Key": "REGION", "Values": [region]}})
        out += _rows(
            client.query([("DIMENSION", "SERVICE"), ("TAG", tag_key)], flt),
            account,
            "tagged",
            tag_key=tag_key,
            region=region,
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
    "RegionId",
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
            "RegionId": r.region,
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
    digest = hashlib.sha256(b"ce-v1\n")
    for r in sorted(
        rows, key=lambda r: (r.day, r.account, r.service, r.region or "", r.category, r.tags or "")
    ):
        digest.update(
            f"{r.day}|{r.account}|{r.service}|{r.region}|{r.category}|{r.billed}|"
            f"{r.effective}|{r.quantity}|{r.unit}|{r.currency}|{r.tags}\n".encode()
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
