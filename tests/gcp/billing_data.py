"""Billing export rows in the real schema of ``gcp_billing_export_v1_<ACCOUNT>`` (and its
detailed twin), dated relative to today, with the expected sums as exact decimals."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.gcp.conftest import BILLING_ACCOUNT, PROJECT


def standard(account: str) -> str:
    return "gcp_billing_export_v1_" + account.replace("-", "_")


def detailed(account: str) -> str:
    return "gcp_billing_export_resource_v1_" + account.replace("-", "_")


STANDARD, DETAILED = standard(BILLING_ACCOUNT), detailed(BILLING_ACCOUNT)
OTHER_ACCOUNT = "0B1C2D-E3F4A5-B6C7D8"  # a second billing account exporting to the same dataset
EGRESS = "NETWORK INTERNET EGRESS FROM AMERICAS TO AMERICAS"


def month(today: date, back: int) -> date:
    index = today.year * 12 + today.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def row(
    day: date,
    cost: str,
    *,
    invoice: date | None = None,
    service: str = "Compute Engine",
    sku: str = "CP-COMPUTEENGINE-VMIMAGE-N1-STANDARD-1",
    description: str | None = None,  # sku.description (default: the id lowercased)
    region: str | None = "us-central1",
    zone: str | None = "us-central1-a",
    labels: dict[str, str] | None = None,
    credits: list[tuple[str, str]] | None = None,
    cost_type: str = "regular",
    usage: str = "24",
    unit: str = "hour",
    project: str = PROJECT,
    resource: tuple[str, str] | None = None,
    account: str = BILLING_ACCOUNT,
) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    out: dict[str, Any] = {
        "billing_account_id": account,
        "service": {"id": "6F81-5844-456A", "description": service},
        "sku": {"id": sku, "description": description or sku.lower()},
        "usage_start_time": start,
        "usage_end_time": start + timedelta(hours=1),
        "project": {"id": project, "number": "123456789012", "name": "Production"},
        "labels": [{"key": k, "value": v} for k, v in (labels or {}).items()],
        "location": {"location": zone or region, "country": "US", "region": region, "zone": zone},
        "cost": float(cost),
        "currency": "USD",
        "usage": {
            "amount": float(usage),
            "unit": "seconds",
            "amount_in_pricing_units": float(usage),
            "pricing_unit": unit,
        },
        "credits": [
            {
                "name": f"{kind} name",
                "amount": float(amount),
                "full_name": kind.title(),
                "id": f"{kind}-id",
                "type": kind,
            }
            for kind, amount in credits or []
        ],
        "invoice": {"month": (invoice or day.replace(day=1)).strftime("%Y%m")},
        "cost_type": cost_type,
    }
    if resource is not None:
        out["resource"] = {"name": resource[0], "global_name": resource[1]}
    return out


def dataset(today: date) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    """Standard export rows over 14 months, and the net total expected per invoice month
    (``YYYY-MM``) of the 13 a first sync reads."""
    last, this = month(today, 1), month(today, 0)
    oldest, too_old = month(today, 12), month(today, 13)
    rows = [
        row(too_old + timedelta(days=3), "99.99"),  # 14 months back: not read
        row(oldest + timedelta(days=3), "7.77", labels={"env": "dev"}),
        row(
            last + timedelta(days=4),
            "12.345678",
            labels={"env": "prod", "team": "data"},
            credits=[("SUSTAINED_USAGE_DISCOUNT", "-1.2345"), ("FREE_TIER", "-0.5")],
        ),
        row(
            last + timedelta(days=5),
            "0.1",
            service="Cloud Storage",
            sku="GCS-STD",
            unit="gibibyte month",
            usage="3.5",
            region="us",
            zone=None,
        ),
        row(
            last + timedelta(days=5),
            "0.2",
            service="Cloud Storage",
            sku="GCS-STD",
            unit="gibibyte month",
            usage="1.5",
            region="us",
            zone=None,
        ),
        row(last + timedelta(days=6), "0.42", sku=EGRESS, unit="gibibyte", usage="3.5"),
        row(last + timedelta(days=6), "1.20", cost_type="tax", usage="0", region=None, zone=None),
        # late usage: started last month, invoiced this month
        row(
            this - timedelta(days=1),
            "4.00",
            invoice=this,
            credits=[("COMMITTED_USAGE_DISCOUNT", "-0.75")],
        ),
        row(
            this,
            "3.00",
            service="BigQuery",
            sku="BQ-ANALYSIS",
            unit="tebibyte",
            usage="0.5",
            region="US",
            zone=None,
            credits=[("PROMOTION", "-1.00")],
        ),
        row(this, "-0.50", cost_type="adjustment", usage="0"),
    ]
    expected = {
        oldest.strftime("%Y-%m"): Decimal("7.77"),
        last.strftime("%Y-%m"): Decimal("12.345678")
        - Decimal("1.2345")
        - Decimal("0.5")
        + Decimal("0.1")
        + Decimal("0.2")
        + Decimal("0.42")
        + Decimal("1.20"),
        this.strftime("%Y-%m"): Decimal("4.00")
        - Decimal("0.75")
        + Decimal("3.00")
        - Decimal("1.00")
        - Decimal("0.50"),
    }
    return rows, expected
