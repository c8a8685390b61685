"""Which pricing model a FOCUS usage line is in, and which kind of commitment covers it.

FOCUS names the pricing model (``PricingCategory``: Standard, Committed, Dynamic, Other) and
the commitment (``CommitmentDiscountType`` as the provider words it, ``...Category``: Usage or
Spend). Exports that leave the type out still carry the commitment's id, whose shape tells the
kind: an AWS Savings Plan ARN holds ``savingsplan``; RI, reservation and CUD ids do not.
"""

import re
from typing import Final, Literal

PricingModel = Literal["on_demand", "reserved", "savings_plan", "spot", "other"]
MODELS: Final[tuple[PricingModel, ...]] = (
    "on_demand",
    "reserved",
    "savings_plan",
    "spot",
    "other",
)
# Service categories whose usage a reservation or savings plan can cover (FOCUS
# ServiceCategory): what coverage is measured over.
ELIGIBLE_CATEGORIES: Final = frozenset({"Compute", "Databases"})
HOUR_UNITS: Final = frozenset({"hrs", "hours", "hour", "1 hour", "hrs.", "instance-hours"})

# An AWS usage type naming an instance type: BoxUsage:m5.large, InstanceUsage:db.r6g.xlarge,
# NodeUsage:cache.m5.large, SpotUsage:c6i.2xlarge (with or without a region prefix).
_USAGE_TYPE = re.compile(r"(?:^|-|:)[A-Za-z-]*Usage:((?:db\.|cache\.)?[a-z][a-z0-9-]*)\.[a-z0-9]+")


def commitment_kind(
    commitment_type: str | None, commitment_category: str | None, commitment_id: str | None
) -> Literal["reserved", "savings_plan"]:
    kind = (commitment_type or "").lower()
    if "savings" in kind:
        return "savings_plan"
    if kind:
        return "reserved"
    if (commitment_category or "").lower() == "spend":
        return "savings_plan"
    if commitment_id and "savingsplan" in commitment_id.lower():
        return "savings_plan"
    return "reserved"


def pricing_model(
    pricing_category: str | None,
    commitment_id: str | None,
    commitment_type: str | None,
    commitment_category: str | None,
) -> PricingModel:
    category = (pricing_category or "").lower()
    if category == "dynamic":
        return "spot"
    if category == "committed" or commitment_id:
        return commitment_kind(commitment_type, commitment_category, commitment_id)
    if category in ("standard", ""):
        return "on_demand"
    return "other"


def instance_family(usage_type: str | None) -> str | None:
    """``m5`` of ``USE1-BoxUsage:m5.large``, ``db.r6g`` of ``InstanceUsage:db.r6g.xlarge``;
    None when the usage type names no instance type."""
    if not usage_type:
        return None
    found = _USAGE_TYPE.search(usage_type)
    return found.group(1) if found else None


def is_hours(unit: str | None) -> bool:
    return (unit or "").strip().lower() in HOUR_UNITS
