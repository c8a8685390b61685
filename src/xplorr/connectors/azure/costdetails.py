"""Azure cost details exports (``ActualCost``, ``AmortizedCost``) as FOCUS rows.

Cost Management's cost details files (EA, MCA and pay-as-you-go: learn.microsoft.com
"Understand cost details fields") name their columns in camelCase (MCA, the current EA schema)
or PascalCase (older EA); columns are matched case-insensitively, the first name listed found
wins. Each batch becomes the raw FOCUS columns ``ingest.focus`` normalises, so validation,
rounding and storage are exactly a FOCUS export's. The mapping (also in the README):

=====================  =========================================================================
FOCUS column           cost details column(s)
=====================  =========================================================================
ProviderName           ``Microsoft``
BillingAccountId       ``billingAccountId``, else the subscription id
BillingPeriodStart     ``billingPeriodStartDate``, else the charge's month
ChargePeriodStart      ``date`` (``MM/DD/YYYY`` or ISO)
BillingCurrency        ``billingCurrency``, ``billingCurrencyCode``, ``currency``
SubAccountId / Name    ``subscriptionId`` / ``subscriptionName``
ServiceName            ``meterCategory``, else ``consumedService``
ServiceCategory        ``serviceFamily``
ServiceSubcategory     ``meterSubCategory``
RegionId               ``resourceLocation`` (lowercased, spaces removed: ``East US`` -> ``eastus``)
ResourceId             ``resourceId`` (lowercased: Azure's ids are case-insensitive and the
                       inventory keys them lowercased)
ResourceName           ``resourceName``, else the last segment of ``resourceId``
ResourceType           ``resourceType``, else ``consumedService``
SkuId                  ``productId``, else ``meterId``
BilledCost             ``costInBillingCurrency``, ``cost``, ``preTaxCost`` (ActualCost files);
                       AmortizedCost files: the same columns, see EffectiveCost
EffectiveCost          ActualCost: BilledCost; AmortizedCost: its cost column (amortized)
ListCost               ``paygCostInBillingCurrency``, else BilledCost
ConsumedQuantity/Unit  ``quantity`` / ``unitOfMeasure`` (Usage charges only)
PricingQuantity/Unit   the same
ChargeCategory         ``chargeType``: Usage, UnusedReservation, UnusedSavingsPlan -> Usage;
                       Purchase -> Purchase; Refund -> Credit; Tax -> Tax; other -> Adjustment
ChargeFrequency        ``frequency``: OneTime -> One-Time, Recurring, UsageBased -> Usage-Based
PricingCategory        ``pricingModel``: OnDemand -> Standard, Reservation/SavingsPlan ->
                       Committed, Spot -> Dynamic
CommitmentDiscountId   ``benefitId``, else ``reservationId``
Tags                   ``tags`` (a JSON object; EA's brace-less ``"k": "v", ...`` is accepted)
=====================  =========================================================================

An AmortizedCost export alone has no invoiced cost: its BilledCost is its amortized cost, and
the import says so in a warning (configure a FocusCost export: it carries both).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xplorr.ingest.focus import (
    NULL_MARKERS,
    PARQUET_BATCH_ROWS,
    IngestError,
    _check_parquet_inflation,
    _open_csv,
    file_format,
    normalise_batch,
)

ACTUAL: Final = "ActualCost"
AMORTIZED: Final = "AmortizedCost"

# FOCUS-ish role -> the cost details spellings, in order of preference.
SOURCES: Final[dict[str, tuple[str, ...]]] = {
    "billing_account": ("billingAccountId",),
    "billing_period": ("billingPeriodStartDate",),
    "date": ("date", "usageDate"),
    "currency": ("billingCurrency", "billingCurrencyCode", "currency"),
    "subscription": ("subscriptionId", "subscriptionGuid"),
    "subscription_name": ("subscriptionName",),
    "service": ("meterCategory", "consumedService"),
    "service_family": ("serviceFamily",),
    "sub_category": ("meterSubCategory",),
    "location": ("resourceLocation",),
    "resource_id": ("resourceId", "instanceId"),
    "resource_name": ("resourceName",),
    "resource_type": ("resourceType", "consumedService"),
    "sku": ("productId", "meterId"),
    "cost": ("costInBillingCurrency", "cost", "preTaxCost"),
    "payg_cost": ("paygCostInBillingCurrency",),
    "quantity": ("quantity",),
    "unit": ("unitOfMeasure",),
    "charge_type": ("chargeType",),
    "frequency": ("frequency",),
    "pricing_model": ("pricingModel",),
    "benefit": ("benefitId", "reservationId"),
    "tags": ("tags",),
}
REQUIRED: Final = ("date", "cost", "service")

CHARGE_CATEGORIES: Final[dict[str, str]] = {
    "usage": "Usage",
    "unusedreservation": "Usage",
    "unusedsavingsplan": "Usage",
    "purchase": "Purchase",
    "refund": "Credit",
    "credit": "Credit",
    "tax": "Tax",
    "roundingadjustment": "Adjustment",
}
FREQUENCIES: Final[dict[str, str]] = {
    "onetime": "One-Time",
    "recurring": "Recurring",
    "usagebased": "Usage-Based",
}
PRICING: Final[dict[str, str]] = {
    "ondemand": "Standard",
    "reservation": "Committed",
    "savingsplan": "Committed",
    "spot": "Dynamic",
}


def is_cost_details(names: list[str]) -> bool:
    """A cost details header (FocusCost files have ``BilledCost`` instead)."""
    lowered = {n.lower() for n in names}
    return "billedcost" not in lowered and bool(
        lowered & {"costinbillingcurrency", "cost", "pretaxcost"}
    )


def _columns(names: list[str], file: str) -> dict[str, str]:
    by_lower = {n.lower(): n for n in names}
    found: dict[str, str] = {}
    for role, spellings in SOURCES.items():
        for spelling in spellings:
            if spelling.lower() in by_lower:
                found[role] = by_lower[spelling.lower()]
                break
    for role in REQUIRED:
        if role not in found:
            raise IngestError(
                f"{file}: required cost details column {SOURCES[role][0]} is missing.",
                file=file,
                column=SOURCES[role][0],
            )
    return found


def _read(path: Path, file: str) -> Iterator[tuple[pa.RecordBatch, dict[str, str]]]:
    if file_format(path) == "parquet":
        parquet = pq.ParquetFile(str(path), pre_buffer=False)
        try:
            columns = _columns(list(parquet.schema_arrow.names), file)
            wanted = sorted(set(columns.values()))
            _check_parquet_inflation(parquet, path.stat().st_size, set(wanted), file)
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted):
                yield batch, columns
        finally:
            parquet.close()
        return
    probe = _open_csv(path, None, block_size=1 << 20, file=file)
    try:
        names = list(probe.schema.names)
    finally:
        probe.close()
    columns = _columns(names, file)
    wanted = sorted(set(columns.values()))
    reader = _open_csv(
        path,
        pacsv.ConvertOptions(
            column_types=dict.fromkeys(wanted, pa.string()),
            include_columns=wanted,
            null_values=NULL_MARKERS,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            check_utf8=False,
        ),
        file=file,
    )
    try:
        yield from ((batch, columns) for batch in reader)
    finally:
        reader.close()


def _text(batch: pa.RecordBatch, columns: dict[str, str], role: str) -> pa.Array:
    name = columns.get(role)
    if name is None:
        return pa.nulls(batch.num_rows, pa.string())
    values = batch.column(name)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        values = pc.strftime(values, format="%Y-%m-%d")
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    return values


def _by_distinct(values: pa.Array, convert: object) -> pa.Array:
    """``convert`` applied to each distinct value (billing columns repeat heavily)."""
    distinct = pc.unique(values)
    mapped = [convert(v) for v in distinct.to_pylist()]  # type: ignore[operator]
    return pc.take(pa.array(mapped, pa.string()), pc.index_in(values, value_set=distinct))


def _day(value: str | None) -> str | None:
    """``MM/DD/YYYY`` (cost details CSV) or ISO -> ``YYYY-MM-DDT00:00:00Z``."""
    if value is None:
        return None
    text = value.strip()
    if "/" in text:
        parts = text.split(" ")[0].split("/")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            month, day, year = parts
            return f"{int(year):04d}-{int(month):02d}-{int(day):02d}T00:00:00Z"
        return text  # the normaliser names the row
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return text[:10] + "T00:00:00Z"
    return text


def _month(day: str | None) -> str | None:
    return None if day is None or len(day) < 10 else day[:8] + "01T00:00:00Z"


def _mapped(table: dict[str, str], default: str | None) -> object:
    def convert(value: str | None) -> str | None:
        if value is None or not value.strip():
            return default
        return table.get(value.strip().replace(" ", "").replace("-", "").lower(), default)

    return convert


def _location(value: str | None) -> str | None:
    if value is None or not value.strip() or value.strip().lower() in ("unassigned", "global"):
        return None
    return value.strip().replace(" ", "").lower()


def _tags(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or text in ("{}", "null"):
        return None
    if not text.startswith("{"):
        text = "{" + text + "}"  # EA's brace-less tag list
    try:
        parsed = json.loads(text)
    except ValueError:
        return value  # the normaliser names the row and column
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


def _last_segment(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.rstrip("/").rsplit("/", 1)[-1] or None


def to_focus(batch: pa.RecordBatch, columns: dict[str, str]) -> pa.RecordBatch:
    """One cost details batch -> raw FOCUS columns (text)."""
    rows = batch.num_rows
    day = _by_distinct(_text(batch, columns, "date"), _day)
    period = pc.coalesce(
        _by_distinct(_text(batch, columns, "billing_period"), _day),
        _by_distinct(day, _month),
    )
    subscription = _text(batch, columns, "subscription")
    cost = pc.utf8_trim_whitespace(_text(batch, columns, "cost"))
    charge = _by_distinct(_text(batch, columns, "charge_type"), _mapped(CHARGE_CATEGORIES, None))
    charge = pc.fill_null(charge, "Usage")
    usage = pc.equal(charge, "Usage")
    none = pa.scalar(None, pa.string())
    resource_id = pc.utf8_lower(_text(batch, columns, "resource_id"))
    resource_id = pc.if_else(pc.equal(resource_id, ""), none, resource_id)
    payg = pc.utf8_trim_whitespace(_text(batch, columns, "payg_cost"))
    quantity = pc.if_else(usage, _text(batch, columns, "quantity"), none)
    unit = pc.if_else(usage, _text(batch, columns, "unit"), none)
    focus: dict[str, pa.Array] = {
        "ProviderName": pa.array(["Microsoft"] * rows, pa.string()),
        "BillingAccountId": pc.coalesce(_text(batch, columns, "billing_account"), subscription),
        "BillingPeriodStart": period,
        "ChargePeriodStart": day,
        "BillingCurrency": _text(batch, columns, "currency"),
        "SubAccountId": subscription,
        "SubAccountName": _text(batch, columns, "subscription_name"),
        "ServiceName": _text(batch, columns, "service"),
        "ServiceCategory": _text(batch, columns, "service_family"),
        "ServiceSubcategory": _text(batch, columns, "sub_category"),
        "RegionId": _by_distinct(_text(batch, columns, "location"), _location),
        "ResourceId": resource_id,
        "ResourceName": pc.coalesce(
            _text(batch, columns, "resource_name"), _by_distinct(resource_id, _last_segment)
        ),
        "ResourceType": _text(batch, columns, "resource_type"),
        "SkuId": _text(batch, columns, "sku"),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": pc.coalesce(pc.if_else(pc.equal(payg, ""), none, payg), cost),
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "PricingQuantity": quantity,
        "PricingUnit": unit,
        "ChargeCategory": charge,
        "ChargeFrequency": _by_distinct(
            _text(batch, columns, "frequency"), _mapped(FREQUENCIES, None)
        ),
        "PricingCategory": _by_distinct(
            _text(batch, columns, "pricing_model"), _mapped(PRICING, None)
        ),
        "CommitmentDiscountId": _text(batch, columns, "benefit"),
        "Tags": _by_distinct(_text(batch, columns, "tags"), _tags),
    }
    return pa.RecordBatch.from_arrays(list(focus.values()), names=list(focus))


def normalised(path: Path, *, name: str) -> Iterator[pa.RecordBatch]:
    """A cost details file as normalised FOCUS batches (blocking: run in a thread)."""
    first_row = 1
    try:
        for raw, columns in _read(path, name):
            yield normalise_batch(to_focus(raw, columns), source=name, first_row=first_row)
            first_row += raw.num_rows
    except IngestError:
        raise
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise IngestError(f"{name}: cannot read the file: {exc}", file=name) from exc


def header(path: Path) -> list[str]:
    """The column names of an export file."""
    if file_format(path) == "parquet":
        parquet = pq.ParquetFile(str(path))
        try:
            return list(parquet.schema_arrow.names)
        finally:
            parquet.close()
    probe = _open_csv(path, None, block_size=1 << 20)
    try:
        return list(probe.schema.names)
    finally:
        probe.close()
