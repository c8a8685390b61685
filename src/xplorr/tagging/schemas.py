"""``/tagging-policies`` bodies, snake_case as the reference writes them."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from xplorr.core.money import DecimalNumber
from xplorr.core.pagination import Page
from xplorr.core.text import NO_CONTROL_CHARACTERS
from xplorr.costs.query import tag_key_problem
from xplorr.tagging.models import AppliesTo


def _tag_key(value: str) -> str:
    if (problem := tag_key_problem(value)) is not None:
        raise ValueError(problem)
    return value


TagKeyText = Annotated[str, AfterValidator(_tag_key)]
TagValueText = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=NO_CONTROL_CHARACTERS)
]


def _unique(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("allowed_values repeats a value")
    return values


class TaggingPolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag_key: TagKeyText = Field(description="The tag key, compared as the provider does.")
    required: StrictBool = Field(True, description="Resources without the key violate the policy.")
    allowed_values: Annotated[
        list[TagValueText] | None, Field(max_length=200), AfterValidator(_unique)
    ] = Field(None, description="Values allowed (exact, case-sensitive); null or []: any value.")
    applies_to: AppliesTo = Field(
        AppliesTo.ALL, description="all, ec2, rds, s3, compute or storage."
    )


class TaggingPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    tag_key: str
    required: bool
    allowed_values: list[str] | None
    applies_to: AppliesTo
    created_at: dt.datetime


class ViolatingResource(BaseModel):
    id: str = Field(description="The provider's resource id (ResourceId).")
    name: str | None
    type: str | None
    provider: str
    service: str
    account_id: uuid.UUID
    account_name: str | None
    region: str | None


class ViolatedPolicy(BaseModel):
    id: uuid.UUID
    tag_key: str
    applies_to: AppliesTo


class ViolationOut(BaseModel):
    resource: ViolatingResource
    policy: ViolatedPolicy
    kind: Literal["missing", "value_not_allowed"]
    value: str | None = Field(description="The value found (null when the key is missing).")
    cost: DecimalNumber | None = Field(
        description=(
            "The resource's billed cost over the window, rounded to its currency; null for a "
            "live resource the bill names nowhere in the window (an account billed without "
            "resource ids, such as AWS Cost Explorer, or a resource that cost nothing)."
        )
    )
    currency: str | None


class PolicyCompliance(BaseModel):
    policy_id: uuid.UUID
    tag_key: str
    applies_to: AppliesTo
    currency: str
    resources: int = Field(description="Resources the policy applies to (with cost).")
    violating_resources: int
    total_cost: DecimalNumber
    compliant_cost: DecimalNumber
    compliant_percent: DecimalNumber = Field(
        description="compliant_cost / total_cost in percent, 2 decimals (100 when nothing cost)."
    )


class PolicyWithoutCost(BaseModel):
    policy_id: uuid.UUID
    tag_key: str
    applies_to: AppliesTo
    resources: int = Field(
        description="Live resources the policy applies to with no cost in the window."
    )
    violating_resources: int


class ViolationsPage(Page[ViolationOut]):
    """At most 200 violations (the reference's cap), costliest first, paginated within them."""

    total_violations: int = Field(description="Every violation found, before the cap of 200.")
    start_date: dt.date
    end_date: dt.date
    policies: list[PolicyCompliance]
    without_cost: list[PolicyWithoutCost] = Field(
        description=(
            "Per policy, the inventory's live resources it checked that have no cost in the "
            "window (not in the shares of spend of ``policies``); policies with none are left out."
        )
    )
