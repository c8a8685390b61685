"""``/inventory`` answers (snake_case: the reference documents no body for them)."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from xplorr.core.money import DecimalNumber

InventoryProvider = Literal["aws", "azure", "gcp"]


class InventoryItemOut(BaseModel):
    """One resource."""

    id: uuid.UUID
    cloud_account_id: uuid.UUID
    provider: str
    region: str | None
    service: str
    type: str = Field(
        description="The inventory's resource type, one set for every cloud: 'Virtual Machine', "
        "'Disk', 'Public IP Address', 'Object Storage Bucket'... (README: Resource types across "
        "clouds)."
    )
    native_type: str = Field(
        description="The provider's own type: 'AWS::EC2::Instance', "
        "'Microsoft.Compute/virtualMachines', 'compute.googleapis.com/Instance'; for resources "
        "read from a bill, its ResourceType where no API type is known."
    )
    resource_id: str = Field(description="The provider's id (ARN, i-..., vol-..., Azure id...).")
    name: str | None
    status: str | None = Field(description="Last known state: Running, Stopped, Available...")
    tags: dict[str, Any]
    attributes: dict[str, Any] = Field(
        description="Type-specific facts: instance type, volume size and attachment, VPC, CPU "
        "utilisation (cpu_daily: the last 14 days' average and maximum)..."
    )
    cost_30d: DecimalNumber | None = Field(
        description="The resource's BilledCost over the last 30 days from the cost store "
        "(joined by resource id), rounded to its currency's minor units; null when the bill "
        "names no cost for it."
    )
    currency: str | None
    source: str = Field(description="api: read from the cloud's API; bill: seen in cost rows.")
    first_seen_at: datetime
    last_seen_at: datetime
    deleted_at: datetime | None = Field(
        description="When it was gone from the cloud (kept 30 days, then removed); null: live."
    )


class FilterValue(BaseModel):
    value: str
    label: str
    count: int


class InventoryFiltersOut(BaseModel):
    """The distinct values of each ``/inventory`` filter with how many resources have it."""

    providers: list[FilterValue]
    accounts: list[FilterValue]
    regions: list[FilterValue]
    types: list[FilterValue]
    statuses: list[FilterValue]
