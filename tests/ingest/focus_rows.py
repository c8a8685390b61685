"""Small FOCUS exports written on the fly for the ingest tests."""

import csv
import io
from pathlib import Path
from typing import Any

COLUMNS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "BillingAccountId",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargeCategory",
    "ProviderName",
    "ServiceName",
    "RegionId",
    "ResourceId",
    "ConsumedQuantity",
    "Tags",
)
DEFAULTS: dict[str, Any] = {
    "BilledCost": "1.5",
    "EffectiveCost": "1.25",
    "ListCost": "2",
    "BillingCurrency": "USD",
    "BillingAccountId": "111122223333",
    "BillingPeriodStart": "2024-09-01T00:00:00Z",
    "ChargePeriodStart": "2024-09-03T00:00:00Z",
    "ChargeCategory": "Usage",
    "ProviderName": "AWS",
    "ServiceName": "Amazon EC2",
    "RegionId": "us-east-1",
    "ResourceId": "i-0abc",
    "ConsumedQuantity": "1",
    "Tags": '{"env": "prod", "team": "data"}',
}


def row(**values: Any) -> dict[str, Any]:
    return {**DEFAULTS, **values}


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c, "") for c in columns})
    return out.getvalue()


def write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_csv(rows, columns), encoding="utf-8")
    return path


def hourly(day: str = "2024-09-03", hours: int = 24, **values: Any) -> list[dict[str, Any]]:
    """``hours`` hourly rows of one charge on ``day``."""
    return [row(ChargePeriodStart=f"{day} {h:02d}:00:00", **values) for h in range(hours)]
