"""``/network/summary`` (snake_case: the reference documents no body)."""

import uuid
from datetime import date

from pydantic import BaseModel, Field

from xplorr.core.money import DecimalNumber


class CategoryCost(BaseModel):
    category: str = Field(
        description="internet_egress, inter_region, inter_az, nat_gateway, "
        "load_balancer, vpn_direct_connect, cdn, public_ipv4 or other."
    )
    name: str
    cost: DecimalNumber
    percentage: DecimalNumber = Field(description="Share of total_cost in percent, 2 decimals.")
    aws_only: bool = Field(
        description="Split by AWS usage types: exact for AWS; other providers' costs land here "
        "only when their SKU names say so (else under other)."
    )


class NetworkDay(BaseModel):
    date: date
    cost: DecimalNumber
    categories: dict[str, DecimalNumber] = Field(description="Non-zero categories of the day.")


class NetworkResource(BaseModel):
    resource_id: str
    category: str
    cost: DecimalNumber
    name: str | None = None
    type: str | None = Field(default=None, description="From the inventory when it has it.")
    region: str | None = None
    vpc_id: str | None = None
    inventory_id: uuid.UUID | None = None


class VpcCost(BaseModel):
    vpc_id: str
    cost: DecimalNumber
    resources: int


class CurrencyTotal(BaseModel):
    currency: str
    total_cost: DecimalNumber


class NetworkSummaryOut(BaseModel):
    """Network spend of the last ``days`` days by category, per day and per resource."""

    account_id: uuid.UUID | None
    days: int
    start_date: date
    end_date: date
    currency: str | None
    total_cost: DecimalNumber
    currencies: list[CurrencyTotal]
    categories: list[CategoryCost]
    daily: list[NetworkDay]
    top_resources: list[NetworkResource]
    nat_gateways: list[NetworkResource]
    load_balancers: list[NetworkResource]
    vpcs: list[VpcCost] = Field(
        description="Costs of NAT gateways, load balancers and other resources the inventory "
        "places in a VPC, per VPC."
    )
    notes: list[str]
