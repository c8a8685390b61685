"""AWS billing data for the tests: CUR 2.0 and FOCUS export files, Data Exports layouts in
moto's S3, and Cost Explorer answers; plus how to run a sync of an account."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from tests.mail import drain
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.jobs.runner import Worker
from xplorr.users.models import User

PAYER = "123456789012"
CUR_HEADER = (
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "line_item_usage_account_id",
    "line_item_usage_account_name",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_product_code",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_currency_code",
    "line_item_resource_id",
    "line_item_availability_zone",
    "pricing_public_on_demand_cost",
    "pricing_unit",
    "pricing_term",
    "product",
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
    "line_item_blended_cost",  # not read: real CUR files carry many more columns
)
RI = "arn:aws:ec2:us-east-1:123456789012:reserved-instances/ri-1"
SP = "arn:aws:savingsplans::123456789012:savingsplan/sp-1"


def cur_line(kind: str, cost: str, **values: str) -> dict[str, str]:
    """One CUR 2.0 line (text cells, as a CSV export has them) for period 2024-09."""
    line = {
        "bill_payer_account_id": PAYER,
        "bill_billing_period_start_date": "2024-09-01T00:00:00Z",
        "line_item_usage_account_id": "210987654321",
        "line_item_usage_account_name": "prod",
        "line_item_line_item_type": kind,
        "line_item_usage_start_date": "2024-09-03T05:00:00Z",
        "line_item_product_code": "AmazonEC2",
        "line_item_usage_amount": "1",
        "line_item_unblended_cost": cost,
        "line_item_currency_code": "USD",
        "line_item_resource_id": "i-0abc",
        "line_item_availability_zone": "us-east-1a",
        "pricing_public_on_demand_cost": "",
        "pricing_unit": "Hrs",
        "pricing_term": "OnDemand",
        "product": json.dumps({"product_name": "Amazon Elastic Compute Cloud"}),
        "product_region_code": "us-east-1",
        "product_sku": "9QH3PVGFZB2MTCJ7",  # opaque, as AWS writes it
        "line_item_usage_type": "BoxUsage:m5.large",
        "resource_tags": json.dumps({"user_team": "web", "aws_createdBy": "me"}),
        "line_item_blended_cost": cost,
    }
    line.update(values)
    return line


def cur_lines() -> list[dict[str, str]]:
    """Every kind of line that matters, with known billed and amortized sums."""
    return [
        cur_line("Usage", "10.123456789", pricing_public_on_demand_cost="10.123456789"),
        cur_line("Usage", "0.5", pricing_term="Spot", pricing_public_on_demand_cost="1.5"),
        cur_line(
            "SavingsPlanCoveredUsage",
            "4",
            savings_plan_savings_plan_a_r_n=SP,
            savings_plan_savings_plan_effective_cost="2.5",
        ),
        cur_line("SavingsPlanNegation", "-4", savings_plan_savings_plan_a_r_n=SP),
        cur_line(
            "SavingsPlanRecurringFee",
            "3",
            savings_plan_savings_plan_a_r_n=SP,
            savings_plan_total_commitment_to_date="3",
            savings_plan_used_commitment="2.5",
            line_item_resource_id="",
        ),
        cur_line(
            "DiscountedUsage",
            "0",
            reservation_reservation_a_r_n=RI,
            reservation_effective_cost="1.75",
        ),
        cur_line(
            "RIFee",
            "2",
            reservation_reservation_a_r_n=RI,
            reservation_unused_amortized_upfront_fee_for_billing_period="0.1",
            reservation_unused_recurring_fee="0.15",
            line_item_resource_id="",
        ),
        cur_line("Fee", "12", reservation_reservation_a_r_n=RI, line_item_resource_id=""),
        cur_line("Tax", "1.01", line_item_product_code="AmazonEC2", resource_tags=""),
        cur_line(
            "Credit", "-2.5", resource_tags="", line_item_usage_start_date="2024-09-10T00:00:00Z"
        ),
        cur_line("Refund", "-0.25", resource_tags=""),
        cur_line(
            "Usage",
            "0.09",
            line_item_product_code="AWSDataTransfer",
            line_item_usage_type="USE1-DataTransfer-Out-Bytes",
            product=json.dumps({"product_name": "AWS Data Transfer"}),
            resource_tags="",
        ),
    ]


# billed = Σ unblended; effective per AWS's amortized-cost rules (cur.py's table).
CUR_BILLED = (
    Decimal("10.123456789")
    + Decimal("0.5")
    + 4
    - 4
    + 3
    + 0
    + 2
    + 12
    + Decimal("1.01")
    - Decimal("2.5")
    - Decimal("0.25")
    + Decimal("0.09")
)
CUR_EFFECTIVE = (
    Decimal("10.123456789")
    + Decimal("0.5")
    + Decimal("2.5")  # SP covered usage: its effective cost
    + 0  # negation
    + Decimal("0.5")  # SP fee: the unused commitment
    + Decimal("1.75")  # RI usage: its effective cost
    + Decimal("0.25")  # RI fee: unused amortized upfront + unused recurring
    + 0  # RI upfront fee: amortized into usage
    + Decimal("1.01")
    - Decimal("2.5")
    - Decimal("0.25")
    + Decimal("0.09")
)


def csv_gz(lines: list[dict[str, str]], header: tuple[str, ...] = CUR_HEADER) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    for line in lines:
        writer.writerow({k: line.get(k, "") for k in header})
    return gzip.compress(text.getvalue().encode())


def cur_parquet(lines: list[dict[str, str]]) -> bytes:
    """A CUR 2.0 Parquet file as AWS writes it: costs double, maps as map<string,string>."""
    numeric = {
        "line_item_usage_amount",
        "line_item_unblended_cost",
        "pricing_public_on_demand_cost",
        "reservation_effective_cost",
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        "reservation_unused_recurring_fee",
        "savings_plan_savings_plan_effective_cost",
        "savings_plan_total_commitment_to_date",
        "savings_plan_used_commitment",
        "line_item_blended_cost",
    }
    arrays: dict[str, pa.Array] = {}
    for name in CUR_HEADER:
        cells = [line.get(name, "") for line in lines]
        if name in numeric:
            arrays[name] = pa.array([float(c) if c else None for c in cells], pa.float64())
        elif name in ("product", "resource_tags"):
            maps = [list(json.loads(c).items()) if c else None for c in cells]
            arrays[name] = pa.array(maps, pa.map_(pa.string(), pa.string()))
        elif name.endswith("_date"):
            arrays[name] = pa.array(
                [c.replace("T", " ").removesuffix("Z") for c in cells], pa.string()
            ).cast(pa.timestamp("ms"))
        else:
            arrays[name] = pa.array([c or None for c in cells], pa.string())
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays), sink, compression="snappy")
    return sink.getvalue()


def put(moto: MotoAws, bucket: str, key: str, body: bytes) -> None:
    moto.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def manifest(bucket: str, keys: list[str], execution: str = "exec-1") -> bytes:
    return json.dumps(
        {
            "executionId": execution,
            "exportArn": "arn:aws:bcm-data-exports:us-east-1:123456789012:export/x",
            "columns": [],
            "dataFiles": [f"s3://{bucket}/{k}" for k in keys],
        }
    ).encode()


def ce_group(
    keys: list[str], unblended: str, amortized: str, quantity: str = "1", unit: str = "N/A"
) -> dict[str, Any]:
    return {
        "Keys": keys,
        "Metrics": {
            "UnblendedCost": {"Amount": unblended, "Unit": "USD"},
            "AmortizedCost": {"Amount": amortized, "Unit": "USD"},
            "UsageQuantity": {"Amount": quantity, "Unit": unit},
        },
    }


def ce_day(day: str, end: str, groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": day, "End": end},
        "Total": {},
        "Groups": groups,
        "Estimated": False,
    }


def ce_answer(days: list[dict[str, Any]], token: str | None = None, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"ResultsByTime": days, "DimensionValueAttributes": [], **extra}
    if token:
        answer["NextPageToken"] = token
    return answer


async def sync(
    client_for: ClientFor, admin: User, account: CloudAccount, worker: Worker
) -> dict[str, Any]:
    """POST /sync/{id}, the worker until idle, and the run as GET /sync/jobs shows it."""
    r = await client_for(admin).post(f"/sync/{account.id}")
    assert r.status_code == 202, r.text
    await drain(worker)
    runs = (await client_for(admin).get("/sync/jobs")).json()["data"]
    return next(run for run in runs if run["id"] == r.json()["id"])
