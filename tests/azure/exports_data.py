"""Cost Management export runs written into Azurite in the real layout:
``{root}/{export}/{YYYYMMDD-YYYYMMDD}/[{export time}/]{run id}/part_0_0001.*`` plus the run's
``manifest.json`` (manifestVersion 2024-04-01), FocusCost and cost details (ActualCost,
AmortizedCost) files with Azure's own columns."""

from __future__ import annotations

import calendar
import csv
import gzip
import io
import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from azure.storage.blob import ContainerClient

from tests.azure.doubles import SUB, iso

BILLING_ACCOUNT = "/providers/Microsoft.Billing/billingAccounts/12345678"
# FocusCost 1.0r2's columns as Azure writes them (a subset: the ones read, and others).
FOCUS_COLUMNS = (
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_BilledCostInUsd",
    "x_ResourceGroupName",
    "x_SkuMeterCategory",
)
DETAILS_COLUMNS = (
    "invoiceId",
    "billingAccountId",
    "billingAccountName",
    "billingPeriodStartDate",
    "billingPeriodEndDate",
    "date",
    "subscriptionId",
    "subscriptionName",
    "resourceGroupName",
    "resourceLocation",
    "resourceId",
    "meterCategory",
    "meterSubCategory",
    "meterId",
    "productId",
    "serviceFamily",
    "consumedService",
    "quantity",
    "unitOfMeasure",
    "costInBillingCurrency",
    "paygCostInBillingCurrency",
    "billingCurrency",
    "chargeType",
    "frequency",
    "pricingModel",
    "benefitId",
    "tags",
)
VM = f"/subscriptions/{SUB}/resourceGroups/RG-App/providers/Microsoft.Compute/virtualMachines/web-1"


def focus_row(day: date, cost: str, **values: Any) -> dict[str, Any]:
    start = day.replace(day=1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    row = {
        "BilledCost": cost,
        "EffectiveCost": values.pop("EffectiveCost", cost),
        "ListCost": values.pop("ListCost", cost),
        "BillingAccountId": BILLING_ACCOUNT,
        "BillingAccountName": "Contoso",
        "BillingCurrency": "USD",
        "BillingPeriodStart": f"{start}T00:00:00Z",
        "BillingPeriodEnd": f"{end}T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeDescription": "D2s v3",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": f"{day}T00:00:00Z",
        "ChargePeriodEnd": f"{day}T23:59:59Z",
        "ConsumedQuantity": "24",
        "ConsumedUnit": "Hours",
        "InvoiceIssuerName": "Microsoft",
        "PricingCategory": "Standard",
        "PricingQuantity": "24",
        "PricingUnit": "1 Hour",
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "RegionId": "eastus",
        "RegionName": "East US",
        "ResourceId": VM.lower(),
        "ResourceName": "web-1",
        "ResourceType": "Virtual machine",
        "ServiceCategory": "Compute",
        "ServiceName": "Virtual Machines",
        "SkuId": "DZH318Z0BQ4L",
        "SubAccountId": f"/subscriptions/{SUB}",
        "SubAccountName": "Production",
        "Tags": '{"env":"prod","team":"web"}',
        "x_BilledCostInUsd": cost,
        "x_ResourceGroupName": "rg-app",
        "x_SkuMeterCategory": "Virtual Machines",
    }
    row.update(values)
    return row


def details_row(day: date, cost: str, **values: Any) -> dict[str, Any]:
    start = day.replace(day=1)
    last = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    row = {
        "invoiceId": "",
        "billingAccountId": "12345678",
        "billingAccountName": "Contoso",
        "billingPeriodStartDate": start.strftime("%m/%d/%Y"),
        "billingPeriodEndDate": last.strftime("%m/%d/%Y"),
        "date": day.strftime("%m/%d/%Y"),
        "subscriptionId": SUB,
        "subscriptionName": "Production",
        "resourceGroupName": "RG-App",
        "resourceLocation": "East US",
        "resourceId": VM,
        "meterCategory": "Virtual Machines",
        "meterSubCategory": "Dsv3 Series",
        "meterId": "meter-1",
        "productId": "DZH318Z0BQ4L/00TG",
        "serviceFamily": "Compute",
        "consumedService": "Microsoft.Compute",
        "quantity": "24",
        "unitOfMeasure": "1 Hour",
        "costInBillingCurrency": cost,
        "paygCostInBillingCurrency": cost,
        "billingCurrency": "USD",
        "chargeType": "Usage",
        "frequency": "UsageBased",
        "pricingModel": "OnDemand",
        "benefitId": "",
        "tags": '"env": "prod","team": "web"',  # EA writes tags without the braces
    }
    row.update(values)
    return row


def csv_bytes(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def parquet_bytes(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    out = io.BytesIO()
    pq.write_table(table, out, compression="snappy")
    return out.getvalue()


def put_run(
    container: ContainerClient,
    root: str,
    export: str,
    dataset: str,
    period: date,
    submitted: datetime,
    parts: list[tuple[str, bytes]],
    *,
    version: str | None = "1.0r2",
    export_time: bool = False,
    rows: int = 0,
) -> str:
    """One run's parts and manifest; returns the manifest's blob name."""
    last = period.replace(day=calendar.monthrange(period.year, period.month)[1])
    folder = f"{root}/{export}/{period:%Y%m%d}-{last:%Y%m%d}"
    if export_time:
        folder += f"/{submitted:%Y%m%d%H%M}"
    run_id = str(uuid.uuid4())
    folder += f"/{run_id}"
    blobs = []
    for name, data in parts:
        container.upload_blob(f"{folder}/{name}", data, overwrite=True)
        blobs.append({"blobName": f"{folder}/{name}", "byteCount": len(data), "dataRowCount": rows})
    fmt = "Parquet" if parts and parts[0][0].endswith(".parquet") else "Csv"
    compression = "Gzip" if parts and parts[0][0].endswith(".gz") else "None"
    if fmt == "Parquet":
        compression = "Snappy"
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": sum(len(d) for _n, d in parts),
        "blobCount": len(parts),
        "dataRowCount": rows,
        "exportConfig": {
            "exportName": export,
            "resourceId": f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/exports/"
            + export,
            "dataVersion": version,
            "apiVersion": "2025-03-01",
            "type": dataset,
            "timeFrame": "MonthToDate",
            "granularity": "Daily",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "CreateNewReport",
            "fileFormat": fmt,
            "compressionMode": compression,
            "containerUri": f"/subscriptions/{SUB}/resourceGroups/rg-finops/providers/"
            "Microsoft.Storage/storageAccounts/devstoreaccount1",
            "rootFolderPath": root,
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": iso(submitted),
            "runId": run_id,
            "startDate": f"{period}T00:00:00",
            "endDate": f"{last}T00:00:00",
        },
        "blobs": blobs,
    }
    name = f"{folder}/manifest.json"
    container.upload_blob(name, json.dumps(manifest).encode(), overwrite=True)
    return name


def total(rows: list[dict[str, Any]], column: str) -> Decimal:
    return sum((Decimal(r[column]) for r in rows), Decimal(0))
