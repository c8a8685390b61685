import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from xplorr.anomalies.models import AnomalyStatus, Direction, Scope, Severity
from xplorr.core.money import DecimalNumber


@dataclass(frozen=True, slots=True)
class AnomalyFilters:
    status: AnomalyStatus | None = None
    severity: Severity | None = None
    account_id: uuid.UUID | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class ContributorOut(BaseModel):
    """A resource, SKU, service subcategory (FOCUS's nearest to a usage type), region, service
    or account under the anomaly's scope and its cost on the day against its own 7-day
    baseline."""

    dimension: Literal["resource", "sku", "service_subcategory", "region", "service", "account"]
    key: str | None
    name: str
    actual_cost: DecimalNumber
    baseline_cost: DecimalNumber
    change: DecimalNumber


class AnomalyOut(BaseModel):
    id: uuid.UUID
    scope: Scope
    cloud_account_id: uuid.UUID | None
    account_name: str | None
    service: str | None
    date: dt.date
    currency: str
    actual_cost: DecimalNumber
    baseline_cost: DecimalNumber  # mean daily cost of the 7 days before
    excess_cost: DecimalNumber  # actual - baseline (negative for a drop)
    percent_above: DecimalNumber | None  # signed, 0.01 precision
    severity: Severity
    direction: Direction
    status: AnomalyStatus
    root_cause: list[ContributorOut]
    detected_at: dt.datetime
    updated_at: dt.datetime
    status_changed_at: dt.datetime | None


class AnomalyUpdate(BaseModel):
    """``{"status": "acknowledged"}``, ``"resolved"`` or ``"open"`` (required: checked after
    the anomaly is found, so a foreign id is 404 whatever the body)."""

    model_config = ConfigDict(extra="forbid")

    status: AnomalyStatus | None = None
