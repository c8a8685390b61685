"""A Google Cloud bill from its BigQuery billing export (or Google's FOCUS export or view).

**Tables.** In ``billingDataset`` (of ``projectId``, in ``bigqueryLocation``), found by listing
the dataset (``tables.list``) against ``billingTable`` (``*`` is a wildcard; default
``gcp_billing_export_v1_*``; narrowed to ``billingAccountId``'s tables when it is set):

- the **standard** export ``gcp_billing_export_v1_<ACCOUNT>``: every cost figure;
- the **detailed** export ``gcp_billing_export_resource_v1_<ACCOUNT>``, when present: the same
  costs split by resource. The two hold the same costs (both would count them twice), so each
  day of each invoice month comes from one of the pair: from the detailed table when it holds
  that day and its costs (before credits) equal the standard table's for the day in every
  currency, within ``SAME_DAY_TOLERANCE``; else from the standard table. So a day the detailed
  export lacks (enabled later, even mid-month) and the day it was switched on (it holds only
  part of it) come from the standard table, without resources. A detailed table is paired with
  its own account's standard table only: in a dataset holding several billing accounts'
  exports (a wildcard ``billingTable``), an account without a detailed export keeps all its
  costs;
- a **FOCUS** table or view (its name contains ``focus``: Google's native FOCUS export
  ``gcp_billing_export_focus_<ACCOUNT>`` or the FOCUS BigQuery view the customer created),
  read as FOCUS columns instead, when ``billingTable`` points at it.

**Range.** Whole days (``usage_start_time`` from 00:00 UTC, the tables' partitioning column),
by invoice month (``invoice.month``: the billing period, which the store replaces whole): on
the account's first sync the 13 invoice months up to this one, later the invoice months of the
last ``RESTATED_DAYS`` days (GCP restates recent days: a sync on the 3rd re-reads last month
too). Usage of an invoice month can start before it (late usage, adjustments), so each query
reads from the first day of the month before the first month asked.

**Rows.** Grouped in SQL per day, invoice month, ``cost_type``, project, service, SKU, region,
zone, currency, labels (and resource for the detailed table), with ``cost`` and the usage summed
as ``NUMERIC`` (exact decimals: the export's ``cost`` is FLOAT64, each value cast to its 9
decimals before the sum, so no binary rounding accumulates). The repeated ``credits`` are read
by a second query over ``UNNEST(credits)``: one ``Credit`` line per credit type (sustained use,
committed use, free tier, promotion...), the type kept in ``CommitmentDiscountType``. The
README's "Google Cloud" section has the mapping to FOCUS columns.

Each invoice month is imported as its own snapshot (fingerprint: SHA-256 of its rows), so an
unchanged month is skipped. BigQuery is read with ``jobs.query`` pages only: the BigQuery
Storage read API is not used (``create_bqstorage_client=False``; it needs another grant).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import pyarrow as pa

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.gcp.session import GcpCallError, GcpFailure, GcpSession, call, run
from xplorr.core import clock
from xplorr.costs import store
from xplorr.ingest.focus import IngestError, normalise_batch
from xplorr.ingest.pipeline import ImportSummary, import_batches

FIRST_SYNC_MONTHS: Final = 13
RESTATED_DAYS: Final = 5
PAGE_SIZE: Final = 10_000
QUERY_OP: Final = "bigquery:jobs.query"
LIST_OP: Final = "bigquery:tables.list"
STANDARD_PREFIX: Final = "gcp_billing_export_v1_"
DETAILED_PREFIX: Final = "gcp_billing_export_resource_v1_"
# The detailed export's costs of a day equal the standard export's when it holds the whole day;
# they are split by resource, so summed in another order: a cent absorbs the difference, while
# a day the detailed export holds only part of (the day it was switched on) misses far more.
SAME_DAY_TOLERANCE: Final = Decimal("0.01")

# service.description -> FOCUS ServiceCategory (Google's FOCUS view has its own; others: none).
SERVICE_CATEGORIES: Final = {
    "Compute Engine": "Compute",
    "Kubernetes Engine": "Compute",
    "Cloud Run": "Compute",
    "Cloud Functions": "Compute",
    "App Engine": "Compute",
    "Cloud Storage": "Storage",
    "Filestore": "Storage",
    "Cloud SQL": "Databases",
    "Cloud Spanner": "Databases",
    "Cloud Bigtable": "Databases",
    "Firestore": "Databases",
    "Memorystore for Redis": "Databases",
    "BigQuery": "Analytics",
    "Dataflow": "Analytics",
    "Pub/Sub": "Integration",
    "Networking": "Networking",
    "Cloud CDN": "Networking",
    "Cloud DNS": "Networking",
    "Cloud Load Balancing": "Networking",
    "Cloud Logging": "Management and Governance",
    "Cloud Monitoring": "Management and Governance",
    "Vertex AI": "AI and Machine Learning",
    "Support": "Support",
}
# Network spend billed under another service (Compute Engine's egress, IPs, NAT, load
# balancing): its SKU says so, and the line is Networking (``network.classify`` reads it).
NETWORK_SKU: Final = re.compile(
    r"Egress|Ingress|Network|Inter-?zone|Inter-?region|Load Balanc|\bNAT\b|IP address|"
    r"External IP|Static IP|Interconnect|\bVPN\b|\bCDN\b",
    re.IGNORECASE,
)

# cost_type -> FOCUS ChargeCategory ("rounding error" and any new type: Adjustment).
CHARGE_CATEGORIES: Final = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment"}

FOCUS_FIELDS: Final = [
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "SubAccountName",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "BillingCurrency",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "RegionId",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "ChargeCategory",
    "CommitmentDiscountType",
    "SkuId",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "Tags",
]

_GROUPED = """
  DATE(t.usage_start_time) AS usage_day,
  t.invoice.month AS invoice_month,
  t.billing_account_id AS billing_account_id,
  t.project.id AS project_id,
  t.project.name AS project_name,
  t.service.description AS service,
  t.sku.id AS sku_id,
  t.sku.description AS sku_description,
  t.location.region AS region,
  t.location.zone AS zone,
  t.currency AS currency,
  TO_JSON_STRING(t.labels) AS labels"""
_GROUPED_COUNT = 12
_WHERE = """
WHERE t.usage_start_time >= TIMESTAMP(@start) AND t.usage_start_time < TIMESTAMP(@end)
  AND t.invoice.month IN UNNEST(@months)"""


def _ref(project: str, dataset: str, table: str) -> str:
    return f"`{project}.{dataset}.{table}`"


def cost_sql(ref: str, detailed: bool) -> str:
    """Costs (without credits) per day and dimension of the standard or detailed table."""
    resource = (
        ",\n  t.resource.global_name AS resource_id,\n  t.resource.name AS resource_name"
        if detailed
        else ""
    )
    groups = _GROUPED_COUNT + (2 if detailed else 0) + 2
    return (
        f"SELECT{_GROUPED}{resource},\n  t.cost_type AS cost_type,\n"
        "  t.usage.pricing_unit AS unit,\n"
        "  SUM(CAST(t.cost AS NUMERIC)) AS cost,\n"
        "  SUM(CAST(t.usage.amount_in_pricing_units AS NUMERIC)) AS quantity\n"
        f"FROM {ref} AS t{_WHERE}\nGROUP BY {', '.join(str(i) for i in range(1, groups + 1))}"
    )


def credit_sql(ref: str, detailed: bool) -> str:
    """Credits, one line per credit type, per day and dimension."""
    resource = (
        ",\n  t.resource.global_name AS resource_id,\n  t.resource.name AS resource_name"
        if detailed
        else ""
    )
    groups = _GROUPED_COUNT + (2 if detailed else 0) + 1
    return (
        f"SELECT{_GROUPED}{resource},\n  c.type AS credit_type,\n"
        "  SUM(CAST(c.amount AS NUMERIC)) AS amount\n"
        f"FROM {ref} AS t, UNNEST(t.credits) AS c{_WHERE}\n"
        f"GROUP BY {', '.join(str(i) for i in range(1, groups + 1))}"
    )


FOCUS_TEXT: Final = [
    "BillingAccountId",
    "SubAccountId",
    "SubAccountName",
    "ServiceName",
    "ServiceCategory",
    "RegionId",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "ChargeCategory",
    "CommitmentDiscountType",
    "SkuId",
    "PricingUnit",
    "BillingCurrency",
]


def focus_sql(ref: str) -> str:
    """A FOCUS table or view (Google's export or view), folded to days."""
    text = ",\n  ".join(f"t.{name} AS {name}" for name in FOCUS_TEXT)
    groups = len(FOCUS_TEXT) + 3
    return (
        f"SELECT\n  {text},\n"
        "  DATE(t.BillingPeriodStart) AS billing_period,\n"
        "  DATE(t.ChargePeriodStart) AS usage_day,\n"
        "  TO_JSON_STRING(t.Tags) AS tags,\n"
        "  SUM(CAST(t.BilledCost AS NUMERIC)) AS billed,\n"
        "  SUM(CAST(t.EffectiveCost AS NUMERIC)) AS effective,\n"
        "  SUM(CAST(t.ListCost AS NUMERIC)) AS list,\n"
        "  SUM(CAST(t.PricingQuantity AS NUMERIC)) AS quantity\n"
        f"FROM {ref} AS t\n"
        "WHERE t.ChargePeriodStart >= TIMESTAMP(@start) AND t.ChargePeriodStart < TIMESTAMP(@end)\n"
        "  AND DATE(t.BillingPeriodStart) IN UNNEST(@periods)\n"
        f"GROUP BY {', '.join(str(i) for i in range(1, groups + 1))}"
    )


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def sync_months(today: date, first_sync: bool) -> list[date]:
    """The invoice months to read (see the module docstring), oldest first."""
    first = (
        _months_back(today, FIRST_SYNC_MONTHS - 1)
        if first_sync
        else (today - timedelta(days=RESTATED_DAYS)).replace(day=1)
    )
    months, month = [], first
    while month <= today:
        months.append(month)
        month = _months_back(month, -1)
    return months


@dataclass(frozen=True, slots=True)
class Tables:
    standard: list[str]
    detailed: list[str]
    focus: list[str]


def resolve_tables(names: Iterable[str], pattern: str, billing_account: str | None) -> Tables:
    """Which of the dataset's tables to read for ``billingTable`` = ``pattern``."""
    names = sorted(names)
    suffix = billing_account.replace("-", "_").upper() if billing_account else None
    chosen = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if suffix:
        chosen = [n for n in chosen if n.upper().endswith(suffix) or "focus" in n.lower()]
    focus = [n for n in chosen if "focus" in n.lower()]
    standard = [n for n in chosen if n not in focus and DETAILED_PREFIX not in n]
    detailed = [n for n in chosen if DETAILED_PREFIX in n]
    # The detailed twin of each standard table, when the customer exports it too.
    for name in standard:
        twin = detailed_twin(name)
        if twin is not None and twin in names and twin not in detailed:
            detailed.append(twin)
    return Tables(standard, sorted(detailed), focus)


@dataclass
class Line:
    """One FOCUS line, as text (what ``ingest.focus.normalise_batch`` reads)."""

    period: date
    values: dict[str, str | None]


@dataclass
class BillPlan:
    start: date
    end: date
    months: list[date]
    calls: dict[str, int] = field(default_factory=dict)
    lines: dict[date, list[Line]] = field(default_factory=dict)
    sources: dict[date, set[str]] = field(default_factory=dict)  # period -> tables read
    warnings: list[str] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    return text or None


def _tags(raw: Any) -> str | None:
    """Labels (``[{key, value}]`` from TO_JSON_STRING, or a JSON object) as a JSON object."""
    if raw in (None, "", "null", "[]", "{}"):
        return None
    value = json.loads(raw) if isinstance(raw, str) else raw
    if isinstance(value, dict):
        tags = {str(k): "" if v is None else str(v) for k, v in value.items()}
    elif isinstance(value, list):
        tags = {
            str(item["key"]): "" if item.get("value") is None else str(item["value"])
            for item in value
            if isinstance(item, dict) and item.get("key") is not None
        }
    else:
        return None
    return json.dumps(tags, sort_keys=True, separators=(",", ":")) if tags else None


def _period(invoice_month: Any) -> date:
    text = str(invoice_month or "")
    if len(text) != 6 or not text.isdigit():
        raise ConnectorError(f"The billing export has an invoice.month of {text[:12]!r}.")
    return date(int(text[:4]), int(text[4:]), 1)


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    return f"{value.isoformat() if isinstance(value, date) else value}T00:00:00Z"


def _category(service: Any, sku: Any) -> str | None:
    if sku and NETWORK_SKU.search(str(sku)):
        return "Networking"
    return SERVICE_CATEGORIES.get(str(service or ""))


def _common(row: Any, period: date, detailed: bool) -> dict[str, str | None]:
    category = _category(row["service"], row["sku_description"])
    return {
        "ProviderName": "Google Cloud",
        "BillingAccountId": _text(row["billing_account_id"]),
        "SubAccountId": _text(row["project_id"]),
        "SubAccountName": _text(row["project_name"]),
        "BillingPeriodStart": f"{period.isoformat()}T00:00:00Z",
        "ChargePeriodStart": _day(row["usage_day"]),
        "BillingCurrency": _text(row["currency"]),
        "ServiceName": _text(row["service"]) or "Other",
        "ServiceCategory": category,
        # A network line's SKU names what the spend is ("Network Inter Region Data Transfer
        # Out...", "NAT Gateway: Uptime charge"): ``network.classify`` reads it here, as it
        # reads Azure's meter subcategory (sku.id, the SkuId, is an opaque code).
        "ServiceSubcategory": _text(row["sku_description"]) if category == "Networking" else None,
        "RegionId": _text(row["region"]),
        "AvailabilityZone": _text(row["zone"]),
        "ResourceId": _text(row["resource_id"]) if detailed else None,
        "ResourceName": _text(row["resource_name"]) if detailed else None,
        "SkuId": _text(row["sku_id"]),
        "Tags": _tags(row["labels"]),
    }


def export_lines(rows: Iterable[Any], detailed: bool) -> list[Line]:
    out = []
    for row in rows:
        period = _period(row["invoice_month"])
        cost = row["cost"] if row["cost"] is not None else Decimal(0)
        category = CHARGE_CATEGORIES.get(str(row["cost_type"] or "regular"), "Adjustment")
        values = _common(row, period, detailed)
        usage = category == "Usage"
        values |= {
            "ChargeCategory": category,
            "CommitmentDiscountType": None,
            "BilledCost": _text(cost),
            "EffectiveCost": _text(cost),
            "ListCost": _text(cost),
            "PricingQuantity": _text(row["quantity"]) if usage else None,
            "PricingUnit": _text(row["unit"]) if usage else None,
        }
        out.append(Line(period, values))
    return out


def credit_lines(rows: Iterable[Any], detailed: bool) -> list[Line]:
    out = []
    for row in rows:
        period = _period(row["invoice_month"])
        amount = row["amount"] if row["amount"] is not None else Decimal(0)
        values = _common(row, period, detailed) | {
            "ChargeCategory": "Credit",
            "CommitmentDiscountType": _text(row["credit_type"]) or "CREDIT",
            "BilledCost": _text(amount),
            "EffectiveCost": _text(amount),
            "ListCost": "0",
            "PricingQuantity": None,
            "PricingUnit": None,
        }
        out.append(Line(period, values))
    return out


def focus_lines(rows: Iterable[Any]) -> list[Line]:
    out = []
    for row in rows:
        raw_period = row["billing_period"]
        period = raw_period.replace(day=1)
        values: dict[str, str | None] = {name: _text(row[name]) for name in FOCUS_TEXT}
        values |= {
            "ProviderName": "Google Cloud",
            "BillingPeriodStart": f"{period.isoformat()}T00:00:00Z",
            "ChargePeriodStart": _day(row["usage_day"]),
            "BilledCost": _text(row["billed"] or Decimal(0)),
            "EffectiveCost": _text(row["effective"] or Decimal(0)),
            "ListCost": _text(row["list"] or Decimal(0)),
            "PricingQuantity": _text(row["quantity"]),
            "Tags": _tags(row["tags"]),
        }
        values["ServiceName"] = values["ServiceName"] or "Other"
        out.append(Line(period, values))
    return out


class _Reader:
    """The planned BigQuery calls of one sync (blocking)."""

    def __init__(self, session: GcpSession, plan: BillPlan) -> None:
        self.session = session
        self.plan = plan
        self.client = session.bigquery()

    def _count(self, op: str) -> None:
        self.plan.calls[op] = self.plan.calls.get(op, 0) + 1

    def tables(self) -> list[str]:
        dataset = f"{self.session.project}.{self.session.dataset}"
        self._count(LIST_OP)
        try:
            return call(LIST_OP, lambda: [t.table_id for t in self.client.list_tables(dataset)])
        except GcpCallError as exc:
            if exc.failure.not_found:
                raise GcpCallError(
                    GcpFailure(
                        LIST_OP,
                        exc.failure.code,
                        f"Not found: Dataset {self.session.project}:{self.session.dataset} "
                        "(check billingDataset and projectId).",
                        False,
                        not_found=True,
                    )
                ) from exc
            raise

    def query(self, sql: str, params: dict[str, Any]) -> list[Any]:
        from google.cloud import bigquery

        def kind(value: Any) -> str:
            return "DATE" if isinstance(value, date) else "STRING"

        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ArrayQueryParameter(name, kind(value[0]) if value else "STRING", value)
                if isinstance(value, list)
                else bigquery.ScalarQueryParameter(name, kind(value), value)
                for name, value in params.items()
            ],
            use_legacy_sql=False,
        )
        self._count(QUERY_OP)

        def rows() -> list[Any]:
            result = self.client.query_and_wait(
                sql, job_config=config, location=self.session.location, page_size=PAGE_SIZE
            )
            return list(result)

        return call(QUERY_OP, rows)

    def not_found_table(self, exc: GcpCallError, table: str) -> GcpCallError:
        if not exc.failure.not_found:
            return exc
        where = f"{self.session.project}:{self.session.dataset}"
        what = (
            f"Not found: Dataset {where} in location {self.session.location} (check "
            "billingDataset and bigqueryLocation)"
            if "Dataset" in exc.failure.message
            else f"Not found: Table {where}.{table} (check billingTable)"
        )
        return GcpCallError(
            GcpFailure(QUERY_OP, exc.failure.code, what + ".", False, not_found=True)
        )


def fetch(session: GcpSession, plan: BillPlan) -> BillPlan:
    """Run the planned queries (blocking): lines per billing period on ``plan``."""
    reader = _Reader(session, plan)
    names = reader.tables()
    tables = resolve_tables(names, session.table, session.billing_account)
    if not (tables.standard or tables.detailed or tables.focus):
        raise GcpCallError(
            GcpFailure(
                LIST_OP,
                "NOT_FOUND",
                f"Not found: Table {session.project}:{session.dataset}.{session.table} "
                "(no table of the dataset matches billingTable).",
                False,
                not_found=True,
            )
        )
    params = {
        "start": _months_back(plan.start, 1).isoformat(),
        "end": plan.end.isoformat(),
        "months": [m.strftime("%Y%m") for m in plan.months],
    }

    def read(table: str, kind: str) -> dict[date, list[Line]]:
        ref = _ref(session.project, session.dataset, table)
        try:
            if kind == "focus":
                lines = focus_lines(
                    reader.query(
                        focus_sql(ref),
                        {
                            "start": params["start"],
                            "end": params["end"],
                            "periods": list(plan.months),
                        },
                    )
                )
            else:
                detailed = kind == "detailed"
                lines = export_lines(reader.query(cost_sql(ref, detailed), params), detailed)
                lines += credit_lines(reader.query(credit_sql(ref, detailed), params), detailed)
        except GcpCallError as exc:
            raise reader.not_found_table(exc, table) from exc
        grouped: dict[date, list[Line]] = {}
        for line in lines:
            grouped.setdefault(line.period, []).append(line)
        return grouped

    def take(found: dict[date, list[Line]], table: str) -> None:
        for period, lines in found.items():
            plan.lines.setdefault(period, []).extend(lines)
            plan.sources.setdefault(period, set()).add(table)

    if tables.focus:
        for table in tables.focus:
            take(read(table, "focus"), table)
        return plan
    by_resource: dict[str, dict[date, list[Line]]] = {}  # the detailed tables read
    for table in tables.detailed:
        try:
            by_resource[table] = read(table, "detailed")
        except GcpCallError as exc:
            if not exc.failure.denied:
                raise
            plan.warnings.append(
                f"The detailed export {table} was not read ({exc}); costs come from the "
                "standard export, without resources."
            )
    for table in tables.standard:
        twin = detailed_twin(table)
        if twin is None or twin not in by_resource:
            take(read(table, "standard"), table)
            continue
        standard = read(table, "standard")
        for source, found in pick_days(table, standard, twin, by_resource.pop(twin)):
            take(found, source)
    for table, found in by_resource.items():  # no standard table of its account was read
        take(found, table)
    return plan


def detailed_twin(standard: str) -> str | None:
    """The detailed export of the standard export ``standard``'s billing account."""
    if not standard.startswith(STANDARD_PREFIX):
        return None
    return DETAILED_PREFIX + standard[len(STANDARD_PREFIX) :]


def _day_costs(lines: Iterable[Line]) -> dict[tuple[date, str], dict[str, Decimal]]:
    """Costs before credits per (invoice month, usage day) and currency."""
    out: dict[tuple[date, str], dict[str, Decimal]] = {}
    for line in lines:
        key = (line.period, line.values["ChargePeriodStart"] or "")
        costs = out.setdefault(key, {})
        if line.values["ChargeCategory"] == "Credit":
            continue
        currency = line.values["BillingCurrency"] or ""
        costs[currency] = costs.get(currency, Decimal(0)) + Decimal(line.values["BilledCost"] or 0)
    return out


def _same(a: dict[str, Decimal], b: dict[str, Decimal]) -> bool:
    return all(
        abs(a.get(currency, Decimal(0)) - b.get(currency, Decimal(0))) < SAME_DAY_TOLERANCE
        for currency in a.keys() | b.keys()
    )


def pick_days(
    standard: str,
    standard_lines: dict[date, list[Line]],
    detailed: str,
    detailed_lines: dict[date, list[Line]],
) -> list[tuple[str, dict[date, list[Line]]]]:
    """One billing account's days, each from one of its two tables (the module docstring):
    [(table, lines per invoice month)] of the days each gives."""
    by_standard = _day_costs(line for lines in standard_lines.values() for line in lines)
    by_detailed = _day_costs(line for lines in detailed_lines.values() for line in lines)
    from_detailed = {
        key
        for key, costs in by_detailed.items()
        if key not in by_standard or _same(costs, by_standard[key])
    }

    def days(found: dict[date, list[Line]], keep: bool) -> dict[date, list[Line]]:
        out: dict[date, list[Line]] = {}
        for period, lines in found.items():
            kept = [
                line
                for line in lines
                if ((period, line.values["ChargePeriodStart"] or "") in from_detailed) == keep
            ]
            if kept:
                out[period] = kept
        return out

    return [(detailed, days(detailed_lines, True)), (standard, days(standard_lines, False))]


def batch(lines: list[Line]) -> pa.RecordBatch:
    columns: dict[str, list[str | None]] = {name: [] for name in FOCUS_FIELDS}
    for line in lines:
        for name in FOCUS_FIELDS:
            columns[name].append(line.values.get(name))
    return pa.RecordBatch.from_arrays(
        [pa.array(columns[name], pa.string()) for name in FOCUS_FIELDS], names=FOCUS_FIELDS
    )


def period_print(source: str, lines: list[Line]) -> str:
    digest = hashlib.sha256(f"gcp-bq-v1\n{source}\n".encode())
    rows = sorted(json.dumps([line.values.get(n) for n in FOCUS_FIELDS]) for line in lines)
    for row in rows:
        digest.update(row.encode() + b"\n")
    return digest.hexdigest()


async def import_bigquery(
    ctx: SyncContext, account: CloudAccount, session: GcpSession
) -> ImportSummary:
    """Read the planned invoice months from BigQuery and import them month by month."""
    async with ctx.target.transaction() as db:
        known = await store.known_imports(db, account.id)
    now: datetime = clock.now()
    today = now.date()
    months = sync_months(today, first_sync=not known)
    plan = BillPlan(months[0], today + timedelta(days=1), months)
    await run(fetch, session, plan)
    summary = ImportSummary(api_calls=dict(plan.calls), warnings=list(plan.warnings))
    for period in sorted(plan.lines):
        lines = plan.lines[period]
        tables = ", ".join(sorted(plan.sources[period]))
        source = f"BigQuery {session.dataset}.{tables} {period.strftime('%Y-%m')}"
        try:
            normalised = normalise_batch(batch(lines), source=source)
        except IngestError as exc:
            summary.warnings.append(
                f"Billing period {period.strftime('%Y-%m')} not imported: {exc}"
            )
            continue
        part = await import_batches(
            ctx.target,
            account,
            [normalised],
            source=source,
            snapshot_at=now,
            fingerprint=period_print(tables, lines),
            progress=ctx.progress,
            read_timeout=ctx.settings.ingest_read_timeout_seconds,
        )
        summary.merge(part)
    if plan.lines and not summary.periods_imported and not summary.periods_skipped:
        raise ConnectorError(" ".join(summary.warnings))
    if not plan.lines:
        summary.warnings.append(
            f"The billing export {session.dataset} has no rows for invoice months "
            f"{months[0].strftime('%Y-%m')} to {months[-1].strftime('%Y-%m')}."
        )
    return summary
