"""CUR 2.0 (AWS Data Exports ``COST_AND_USAGE_REPORT``) rows as FOCUS rows.

A CUR 2.0 export has a fixed schema of snake_case columns (``line_item_unblended_cost``...),
with nested data in maps (``product``, ``resource_tags``). Each batch read from a CUR file is
turned into the FOCUS columns ``ingest.focus`` normalises (then validated, rounded and stored
exactly as a FOCUS export would be), with Arrow kernels over the whole batch. The mapping, after
AWS's own FOCUS 1.0 export (``FOCUS_1_0_AWS``) and its amortized-cost definition:

============================  ==============================================================
FOCUS column                  CUR 2.0 source
============================  ==============================================================
ProviderName                  ``AWS``
BillingAccountId              ``bill_payer_account_id``
BillingPeriodStart            ``bill_billing_period_start_date``
ChargePeriodStart             ``line_item_usage_start_date``
BillingCurrency               ``line_item_currency_code``
SubAccountId / Name           ``line_item_usage_account_id`` / ``line_item_usage_account_name``
ServiceName                   ``product['product_name']``, else ``product_servicecode``, else
                              ``line_item_product_code``
ServiceCategory               ``line_item_product_code`` through ``SERVICE_CATEGORIES``
                              (``Other`` for the rest)
RegionId                      ``product_region_code``, else ``product['region']``
AvailabilityZone              ``line_item_availability_zone``
ResourceId                    ``line_item_resource_id`` (exports with INCLUDE_RESOURCES)
SkuId                         ``product_sku`` (an opaque product code)
x_UsageType (``usage_type``)  ``line_item_usage_type`` (``USE1-NatGateway-Hours``,
                              ``BoxUsage:m5.large``): what network categories and instance
                              families are read from; the column AWS's FOCUS export adds
BilledCost                    ``line_item_unblended_cost`` (every line: what the invoice sums)
EffectiveCost (amortized)     by ``line_item_line_item_type`` (``effective_cost``):
                              SavingsPlanCoveredUsage ->
                              ``savings_plan_savings_plan_effective_cost``;
                              SavingsPlanRecurringFee -> ``savings_plan_total_commitment_to_date``
                              - ``savings_plan_used_commitment`` (the unused commitment);
                              SavingsPlanNegation, SavingsPlanUpfrontFee -> 0;
                              DiscountedUsage -> ``reservation_effective_cost``;
                              RIFee ->
                              ``reservation_unused_amortized_upfront_fee_for_billing_period``
                              + ``reservation_unused_recurring_fee``;
                              Fee of a reservation (``reservation_reservation_a_r_n`` set) -> 0;
                              anything else -> ``line_item_unblended_cost``
ListCost                      ``pricing_public_on_demand_cost``, else BilledCost
ConsumedQuantity / Unit       ``line_item_usage_amount`` / ``pricing_unit`` (usage lines only)
PricingQuantity / Unit        ``line_item_usage_amount`` / ``pricing_unit`` (usage lines only)
ChargeCategory                ``CHARGE_CATEGORIES`` by line item type: Usage, DiscountedUsage,
                              SavingsPlanCoveredUsage, SavingsPlanNegation -> Usage; Tax -> Tax;
                              Credit, Refund and the discounts -> Credit; RIFee, Fee,
                              SavingsPlanRecurringFee, SavingsPlanUpfrontFee -> Purchase
ChargeFrequency               RIFee, SavingsPlanRecurringFee -> Recurring; Fee,
                              SavingsPlanUpfrontFee, Tax, Credit, Refund -> One-Time; usage ->
                              Usage-Based
PricingCategory               DiscountedUsage, SavingsPlanCoveredUsage, SavingsPlanNegation ->
                              Committed; usage with ``pricing_term`` Spot -> Dynamic; other
                              usage -> Standard; non-usage lines -> null
CommitmentDiscountId          ``reservation_reservation_a_r_n``, else
                              ``savings_plan_savings_plan_a_r_n`` (commitment lines only)
CommitmentDiscountType /      Reserved Instance / Usage for RI lines; Savings Plan / Spend for
CommitmentDiscountCategory    Savings Plan lines
CommitmentDiscountStatus      Used on covered usage (DiscountedUsage, SavingsPlanCoveredUsage)
Tags                          ``resource_tags`` (JSON text in CSV, a map in Parquet): user tags
                              ``user_<key>`` -> ``<key>``, AWS tags ``aws_<key>`` -> ``aws:<key>``
============================  ==============================================================

Errors name the file, the data row and the CUR 2.0 column (a value that is not a number, a
required column missing); the FOCUS normaliser's own errors get the CUR column they came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xplorr.ingest.focus import (
    EXACT,
    NULL_MARKERS,
    PARQUET_BATCH_ROWS,
    IngestError,
    _check_parquet_inflation,  # the same decompression caps as a FOCUS file
    _open_csv,
    file_format,
    normalise_batch,
)

REQUIRED: tuple[str, ...] = (
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "line_item_usage_start_date",
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_unblended_cost",
    "line_item_currency_code",
)
OPTIONAL: tuple[str, ...] = (
    "line_item_usage_account_id",
    "line_item_usage_account_name",
    "line_item_availability_zone",
    "line_item_resource_id",
    "line_item_usage_amount",
    "pricing_public_on_demand_cost",
    "pricing_unit",
    "pricing_term",
    "product",
    "product_servicecode",
    "product_region_code",
    "product_sku",
    "line_item_usage_type",
    "resource_tags",
    "reservation_effective_cost",
    "reservation_reservation_a_r_n",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "savings_plan_savings_plan_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
)
CUR_COLUMNS = (*REQUIRED, *OPTIONAL)
NUMERIC = frozenset(
    {
        "line_item_unblended_cost",
        "line_item_usage_amount",
        "pricing_public_on_demand_cost",
        "reservation_effective_cost",
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        "reservation_unused_recurring_fee",
        "savings_plan_savings_plan_effective_cost",
        "savings_plan_total_commitment_to_date",
        "savings_plan_used_commitment",
    }
)
MAPS = frozenset({"product", "resource_tags"})
# Room for one addition or subtraction (amortized cost) before the result is cast to EXACT.
WORK = pa.decimal256(75, 37)

USAGE_TYPES = frozenset(
    {"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"}
)
CHARGE_CATEGORIES: dict[str, str] = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
    "BundledDiscount": "Credit",
    "Discount": "Credit",
    "DistributorDiscount": "Credit",
    "EdpDiscount": "Credit",
    "PrivateRateDiscount": "Credit",
    "SppDiscount": "Credit",
    "RIFee": "Purchase",
    "Fee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
}
CHARGE_FREQUENCIES: dict[str, str] = {
    "RIFee": "Recurring",
    "SavingsPlanRecurringFee": "Recurring",
    "Fee": "One-Time",
    "SavingsPlanUpfrontFee": "One-Time",
    "Tax": "One-Time",
    "Credit": "One-Time",
    "Refund": "One-Time",
}
SERVICE_CATEGORIES: dict[str, str] = {
    "AmazonEC2": "Compute",
    "AWSLambda": "Compute",
    "AmazonECS": "Compute",
    "AmazonEKS": "Compute",
    "AWSFargate": "Compute",
    "AmazonLightsail": "Compute",
    "AmazonS3": "Storage",
    "AmazonEFS": "Storage",
    "AmazonFSx": "Storage",
    "AmazonGlacier": "Storage",
    "AWSBackup": "Storage",
    "AmazonRDS": "Databases",
    "AmazonDynamoDB": "Databases",
    "AmazonElastiCache": "Databases",
    "AmazonRedshift": "Databases",
    "AmazonDocDB": "Databases",
    "AmazonNeptune": "Databases",
    "AmazonVPC": "Networking",
    "AWSDataTransfer": "Networking",
    "AmazonCloudFront": "Networking",
    "AmazonRoute53": "Networking",
    "AWSELB": "Networking",
    "AWSDirectConnect": "Networking",
    "AWSGlobalAccelerator": "Networking",
    "AmazonApiGateway": "Networking",
    "AmazonCloudWatch": "Management and Governance",
    "AWSCloudTrail": "Management and Governance",
    "AWSConfig": "Management and Governance",
    "AmazonSageMaker": "AI and Machine Learning",
    "AmazonBedrock": "AI and Machine Learning",
    "AmazonKinesis": "Analytics",
    "AmazonAthena": "Analytics",
    "AWSGlue": "Analytics",
    "AmazonSNS": "Integration",
    "AmazonSQS": "Integration",
    "awskms": "Security",
    "AWSSecretsManager": "Security",
    "AmazonGuardDuty": "Security",
    "AWSShield": "Security",
    "AWSWAF": "Security",
}
# FOCUS column -> the CUR 2.0 column its values (and so its errors) come from.
SOURCES: dict[str, str] = {
    "BillingAccountId": "bill_payer_account_id",
    "BillingPeriodStart": "bill_billing_period_start_date",
    "ChargePeriodStart": "line_item_usage_start_date",
    "BillingCurrency": "line_item_currency_code",
    "SubAccountId": "line_item_usage_account_id",
    "SubAccountName": "line_item_usage_account_name",
    "ServiceName": "line_item_product_code",
    "RegionId": "product_region_code",
    "AvailabilityZone": "line_item_availability_zone",
    "ResourceId": "line_item_resource_id",
    "SkuId": "product_sku",
    "x_UsageType": "line_item_usage_type",
    "BilledCost": "line_item_unblended_cost",
    "ListCost": "pricing_public_on_demand_cost",
    "ConsumedQuantity": "line_item_usage_amount",
    "PricingQuantity": "line_item_usage_amount",
    "Tags": "resource_tags",
}


def is_cur(names: list[str]) -> bool:
    """Whether a header is CUR 2.0's (a FOCUS export has ``BilledCost`` instead)."""
    lowered = {n.lower() for n in names}
    return "line_item_unblended_cost" in lowered and "billedcost" not in lowered


def header(path: Path) -> list[str]:
    """The column names of an export file (CSV: its first line; Parquet: its schema)."""
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


def _columns(names: list[str], file: str) -> dict[str, str]:
    by_lower = {n.lower(): n for n in names}
    found = {col: by_lower[col] for col in CUR_COLUMNS if col in by_lower}
    for col in REQUIRED:
        if col not in found:
            raise IngestError(
                f"{file}: required CUR 2.0 column {col} is missing.", file=file, column=col
            )
    return found


def read_cur(path: Path, *, name: str) -> Iterator[pa.RecordBatch]:
    """The CUR 2.0 columns used here, batch by batch (CSV as text; Parquet as typed)."""
    try:
        if file_format(path) == "parquet":
            parquet = pq.ParquetFile(str(path), pre_buffer=False)
            try:
                columns = _columns(list(parquet.schema_arrow.names), name)
                _check_parquet_inflation(parquet, path.stat().st_size, set(columns.values()), name)
                rename = {v: k for k, v in columns.items()}
                for batch in parquet.iter_batches(
                    batch_size=PARQUET_BATCH_ROWS, columns=list(columns.values())
                ):
                    yield batch.rename_columns([rename[n] for n in batch.schema.names])
            finally:
                parquet.close()
            return
        columns = _columns(header(path), name)
        wanted = list(columns.values())
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
            file=name,
        )
        rename = {v: k for k, v in columns.items()}
        try:
            for batch in reader:
                yield batch.rename_columns([rename[n] for n in batch.schema.names])
        finally:
            reader.close()
    except IngestError:
        raise
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise IngestError(f"{name}: cannot read the file: {exc}", file=name) from exc


def normalised_cur(path: Path, *, name: str) -> Iterator[pa.RecordBatch]:
    """``read_cur`` mapped to FOCUS and normalised (``ingest.focus.NORMALISED_EXACT``), rows
    numbered within the file. Blocking: run in a thread."""
    first_row = 1
    for raw in read_cur(path, name=name):
        focus = to_focus(raw, file=name, first_row=first_row)
        try:
            yield normalise_batch(focus, source=name, first_row=first_row)
        except IngestError as exc:
            raise _from_cur(exc) from exc
        first_row += raw.num_rows


def _from_cur(exc: IngestError) -> IngestError:
    """A FOCUS normaliser's error, naming the CUR 2.0 column the value came from."""
    source = SOURCES.get(exc.column or "")
    if source is None:
        return exc
    return IngestError(
        f"{exc.message} (CUR 2.0 column {source})", file=exc.file, row=exc.row, column=source
    )


# --------------------------------------------------------------------------------------------
# Mapping one batch


def _text(batch: pa.RecordBatch, name: str) -> pa.Array:
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    values = batch.column(name)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    return values


def _number(batch: pa.RecordBatch, name: str, file: str, first_row: int) -> pa.Array:
    """An exact decimal column (null where absent), or an error naming its row and column."""
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, WORK)
    values = batch.column(name)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_floating(values.type):
        values = pc.cast(values, pa.string())  # the shortest text that round-trips
    if pa.types.is_string(values.type):
        values = pc.utf8_trim_whitespace(values)
    try:
        return pc.cast(values, WORK)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        for index, value in enumerate(values.to_pylist()):
            try:
                pc.cast(pa.array([value], values.type), WORK)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                row = first_row + index
                raise IngestError(
                    f"{file}: data row {row} (1-based, header not counted), column {name}: "
                    f"{str(value)[:60]!r} is not a number.",
                    file=file,
                    row=row,
                    column=name,
                ) from None
        raise


def _map_text(values: pa.Array, table: dict[str, str], default: str | None) -> pa.Array:
    keys = list(table)
    positions = pc.index_in(values, value_set=pa.array(keys, pa.string()))
    mapped = pc.take(pa.array(list(table.values()), pa.string()), positions)
    if default is None:
        return mapped
    return pc.fill_null(mapped, default)


def _map_key(value: Any, key: str) -> str | None:
    """One key of a CUR map cell (JSON text in CSV, [(k, v), ...] in Parquet)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            return None
    if isinstance(value, list):
        value = dict(value)
    if isinstance(value, dict):
        found = value.get(key)
        return None if found in (None, "") else str(found)
    return None


def _product_attribute(batch: pa.RecordBatch, key: str) -> pa.Array:
    if "product" not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    values = batch.column("product")
    if pa.types.is_string(values.type):
        distinct = pc.unique(values)
        picked = [_map_key(v, key) for v in distinct.to_pylist()]
        return pc.take(pa.array(picked, pa.string()), pc.index_in(values, value_set=distinct))
    return pa.array([_map_key(v, key) for v in values.to_pylist()], pa.string())


def _tag_key(key: str) -> str:
    if key.startswith("user_"):
        return key[len("user_") :]
    if key.startswith("aws_"):
        return "aws:" + key[len("aws_") :]
    return key


def _tags_json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return text  # the FOCUS normaliser names the row and column
    if isinstance(value, list):
        value = dict(value)
    if not isinstance(value, dict):
        return json.dumps(value)
    tags = {_tag_key(str(k)): v for k, v in value.items() if v not in (None, "")}
    return json.dumps(tags, sort_keys=True, separators=(",", ":")) if tags else None


def _tags(batch: pa.RecordBatch) -> pa.Array:
    if "resource_tags" not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    values = batch.column("resource_tags")
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_string(values.type):
        distinct = pc.unique(values)
        mapped = [_tags_json(v) for v in distinct.to_pylist()]
        return pc.take(pa.array(mapped, pa.string()), pc.index_in(values, value_set=distinct))
    memo: dict[str, str | None] = {}
    out: list[str | None] = []
    for value in values.to_pylist():
        key = repr(value)
        if key not in memo:
            memo[key] = _tags_json(value)
        out.append(memo[key])
    return pa.array(out, pa.string())


def _is(types: pa.Array, *names: str) -> pa.Array:
    return pc.fill_null(pc.is_in(types, value_set=pa.array(list(names), pa.string())), False)


def effective_cost(
    types: pa.Array, numbers: dict[str, pa.Array], reservation_arn: pa.Array
) -> pa.Array:
    """Amortized cost per line item type (the table in the module docstring)."""
    zero = pa.scalar(0, WORK)

    def n(name: str) -> pa.Array:
        return pc.fill_null(numbers[name], zero)

    unblended = numbers["line_item_unblended_cost"]
    sp_unused = pc.subtract(
        n("savings_plan_total_commitment_to_date"), n("savings_plan_used_commitment")
    )
    ri_unused = pc.add(
        n("reservation_unused_amortized_upfront_fee_for_billing_period"),
        n("reservation_unused_recurring_fee"),
    )
    ri_fee = pc.and_(_is(types, "Fee"), pc.fill_null(pc.not_equal(reservation_arn, ""), False))
    zeros = pa.array([0] * len(types), EXACT)
    conditions = pa.StructArray.from_arrays(
        [
            _is(types, "SavingsPlanCoveredUsage"),
            _is(types, "SavingsPlanRecurringFee"),
            _is(types, "SavingsPlanNegation", "SavingsPlanUpfrontFee"),
            _is(types, "DiscountedUsage"),
            _is(types, "RIFee"),
            ri_fee,
        ],
        names=["sp_usage", "sp_fee", "sp_zero", "ri_usage", "ri_fee", "ri_upfront"],
    )
    return pc.case_when(
        conditions,
        pc.cast(n("savings_plan_savings_plan_effective_cost"), EXACT),
        pc.cast(sp_unused, EXACT),
        zeros,
        pc.cast(n("reservation_effective_cost"), EXACT),
        pc.cast(ri_unused, EXACT),
        zeros,
        pc.cast(unblended, EXACT),
    )


def to_focus(batch: pa.RecordBatch, *, file: str, first_row: int = 1) -> pa.RecordBatch:
    """One CUR 2.0 batch (columns named as in ``CUR_COLUMNS``) -> raw FOCUS columns."""
    rows = batch.num_rows
    types = _text(batch, "line_item_line_item_type")
    numbers = {name: _number(batch, name, file, first_row) for name in NUMERIC}
    billed = pc.cast(numbers["line_item_unblended_cost"], EXACT)
    usage = _is(types, *USAGE_TYPES)
    none_text = pa.scalar(None, pa.string())
    ri_arn = _text(batch, "reservation_reservation_a_r_n")
    sp_arn = _text(batch, "savings_plan_savings_plan_a_r_n")
    ri_lines = _is(types, "DiscountedUsage", "RIFee")
    sp_lines = _is(
        types,
        "SavingsPlanCoveredUsage",
        "SavingsPlanNegation",
        "SavingsPlanRecurringFee",
        "SavingsPlanUpfrontFee",
    )
    commitment_id = pc.if_else(ri_lines, ri_arn, pc.if_else(sp_lines, sp_arn, none_text))
    commitment_type = pc.if_else(
        ri_lines,
        pa.scalar("Reserved Instance"),
        pc.if_else(sp_lines, pa.scalar("Savings Plan"), none_text),
    )
    commitment_category = pc.if_else(
        ri_lines, pa.scalar("Usage"), pc.if_else(sp_lines, pa.scalar("Spend"), none_text)
    )
    covered = _is(types, "DiscountedUsage", "SavingsPlanCoveredUsage")
    commitment_status = pc.if_else(covered, pa.scalar("Used"), none_text)
    spot = pc.fill_null(pc.equal(_text(batch, "pricing_term"), "Spot"), False)
    pricing_category = pc.if_else(
        _is(types, "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"),
        pa.scalar("Committed"),
        pc.if_else(usage, pc.if_else(spot, pa.scalar("Dynamic"), pa.scalar("Standard")), none_text),
    )
    product_code = _text(batch, "line_item_product_code")
    service = pc.coalesce(
        _product_attribute(batch, "product_name"),
        _text(batch, "product_servicecode"),
        product_code,
    )
    region = pc.coalesce(_text(batch, "product_region_code"), _product_attribute(batch, "region"))
    list_cost = pc.coalesce(pc.cast(numbers["pricing_public_on_demand_cost"], EXACT), billed)
    quantity = pc.if_else(
        usage, pc.cast(numbers["line_item_usage_amount"], EXACT), pa.scalar(None, EXACT)
    )
    unit = pc.if_else(usage, _text(batch, "pricing_unit"), none_text)
    columns: dict[str, pa.Array] = {
        "ProviderName": pa.array(["AWS"] * rows, pa.string()),
        "BillingAccountId": _text(batch, "bill_payer_account_id"),
        "BillingPeriodStart": _text(batch, "bill_billing_period_start_date"),
        "ChargePeriodStart": _text(batch, "line_item_usage_start_date"),
        "BillingCurrency": _text(batch, "line_item_currency_code"),
        "SubAccountId": _text(batch, "line_item_usage_account_id"),
        "SubAccountName": _text(batch, "line_item_usage_account_name"),
        "ServiceName": service,
        "ServiceCategory": _map_text(product_code, SERVICE_CATEGORIES, "Other"),
        "RegionId": region,
        "AvailabilityZone": _text(batch, "line_item_availability_zone"),
        "ResourceId": _text(batch, "line_item_resource_id"),
        "SkuId": _text(batch, "product_sku"),
        "x_UsageType": _text(batch, "line_item_usage_type"),
        "ChargeCategory": _map_text(types, CHARGE_CATEGORIES, "Adjustment"),
        "ChargeFrequency": pc.if_else(
            usage, pa.scalar("Usage-Based"), _map_text(types, CHARGE_FREQUENCIES, "One-Time")
        ),
        "PricingCategory": pricing_category,
        "CommitmentDiscountId": commitment_id,
        "CommitmentDiscountType": commitment_type,
        "CommitmentDiscountCategory": commitment_category,
        "CommitmentDiscountStatus": commitment_status,
        "BilledCost": billed,
        "EffectiveCost": effective_cost(types, numbers, ri_arn),
        "ListCost": list_cost,
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "PricingQuantity": quantity,
        "PricingUnit": unit,
        "Tags": _tags(batch),
    }
    return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))
