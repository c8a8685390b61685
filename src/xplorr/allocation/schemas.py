"""``/allocation-rules`` bodies (snake_case, as the issue writes them)."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from xplorr.allocation.models import AllocationMethod, AllocationTarget
from xplorr.core.money import DecimalNumber
from xplorr.core.text import NO_CONTROL_CHARACTERS, Name
from xplorr.tagging.schemas import TagKeyText, TagValueText

Text200 = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=NO_CONTROL_CHARACTERS
    ),
]
# Kubernetes's own rule for a namespace name (an RFC 1123 label).
Namespace = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
]
Percent = Annotated[Decimal, Field(gt=0, le=100, max_digits=12, decimal_places=6)]
Splits = Annotated[dict[TagValueText, Percent], Field(min_length=1, max_length=200)]


class SourceIn(BaseModel):
    """Which cost is shared: every given field must match. ``tag_key`` with ``tag_value`` null
    (or left out) means "untagged for that key"."""

    model_config = ConfigDict(extra="forbid")
    provider: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")] | None = Field(
        None, description="Provider slug: aws, azure, gcp..."
    )
    account_id: uuid.UUID | None = Field(None, description="A cloud account of the organization.")
    service: Text200 | None = Field(None, description="ServiceName, exactly.")
    region: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS)
        ]
        | None
    ) = Field(None, description="RegionId, exactly.")
    tag_key: TagKeyText | None = Field(
        None, description="A tag key; with cluster_id, a pod label key (as in label:<key>)."
    )
    tag_value: TagValueText | None = None
    cluster_id: uuid.UUID | None = Field(
        None,
        description="A Kubernetes cluster of the organization: the rule shares that cluster's "
        "cost (idle, a namespace's, or the pods with tag_key's label value) instead of cloud "
        "cost; applied by /costs?clusterId=<id>&allocate=true.",
    )
    namespace: Namespace | None = Field(None, description="With cluster_id: this namespace.")
    idle: bool = Field(False, description="With cluster_id: OpenCost's idle allocation (__idle__).")

    @model_validator(mode="after")
    def _tag_pair(self) -> Self:
        if self.tag_value is not None and self.tag_key is None:
            raise ValueError("source.tag_value needs source.tag_key")
        cloud = (self.provider, self.account_id, self.service, self.region)
        if self.cluster_id is not None:
            if any(v is not None for v in cloud):
                raise ValueError(
                    "source.cluster_id takes none of provider, account_id, service or region "
                    "(a cluster's cost is not in the cloud bill)"
                )
            if self.idle and (self.namespace is not None or self.tag_key is not None):
                raise ValueError("source.idle takes no namespace or tag_key (idle has neither)")
            if not self.idle and self.namespace is None and self.tag_key is None:
                raise ValueError(
                    "source with cluster_id needs idle, namespace or tag_key (the whole "
                    "cluster would share every cost)"
                )
            return self
        if self.namespace is not None or self.idle:
            raise ValueError("source.namespace and source.idle need source.cluster_id")
        if not any(v is not None for v in (*cloud, self.tag_key)):
            raise ValueError(
                "source needs at least one of provider, account_id, service, "
                "region, tag_key or cluster_id (an empty source would share every cost)"
            )
        return self


def check_target(
    kind: AllocationTarget, key: str | None, source: SourceIn
) -> tuple[str, str] | None:
    """The field and why ``kind``/``key`` do not fit ``source``, or None."""
    if kind is AllocationTarget.NAMESPACE:
        if source.cluster_id is None:
            return "target_kind", "namespace needs source.cluster_id (a cluster's namespaces)"
        if key is not None:
            return "target_tag_key", "Not with target_kind namespace."
    elif key is None:
        return "target_tag_key", "Required (or target_kind namespace, for a cluster's cost)."
    return None


def check_method(method: AllocationMethod, splits: dict[str, Decimal] | None) -> str | None:
    """Why ``splits`` does not fit ``method``, or None."""
    if method is AllocationMethod.FIXED:
        if not splits:
            return "fixed needs splits (percentages summing to 100)"
        if sum(splits.values(), Decimal(0)) != 100:
            return "splits must sum to 100"
    if method is AllocationMethod.PROPORTIONAL and splits:
        return "proportional takes no splits (it follows each value's own direct cost)"
    return None


class AllocationRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    source: SourceIn
    target_kind: AllocationTarget = Field(
        AllocationTarget.TAG,
        description="tag: the values of target_tag_key receive the cost (with a cluster "
        "source, the values of that pod label); namespace: the cluster's namespaces.",
    )
    target_tag_key: TagKeyText | None = Field(
        None, description="The tag (or pod label) key whose values receive the cost."
    )
    method: AllocationMethod
    splits: Splits | None = Field(
        None,
        description="fixed: percent per value, summing to 100; even: the values to share "
        "among (percentages ignored; default: every value seen that day); proportional: none.",
    )
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        1, description="Lower applies first; a cost matched by one rule is not matched again."
    )
    active: bool = True

    @model_validator(mode="after")
    def _method(self) -> Self:
        if (problem := check_method(self.method, self.splits)) is not None:
            raise ValueError(problem)
        if (wrong := check_target(self.target_kind, self.target_tag_key, self.source)) is not None:
            raise ValueError(f"{wrong[0]}: {wrong[1]}")
        return self


class AllocationRuleUpdate(BaseModel):
    """Fields to change; the rule as changed is validated as a whole."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    source: SourceIn | None = None
    target_kind: AllocationTarget | None = None
    target_tag_key: TagKeyText | None = None
    method: AllocationMethod | None = None
    splits: Splits | None = None
    priority: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    active: bool | None = None


class SourceOut(BaseModel):
    provider: str | None
    account_id: uuid.UUID | None
    service: str | None
    region: str | None
    tag_key: str | None
    tag_value: str | None
    cluster_id: uuid.UUID | None
    namespace: str | None
    idle: bool


class AllocationRuleOut(BaseModel):
    id: uuid.UUID
    name: str
    source: SourceOut
    target_kind: AllocationTarget
    target_tag_key: str | None
    method: AllocationMethod
    splits: dict[str, DecimalNumber] | None
    priority: int
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class PreviewValue(BaseModel):
    """One value of the target key: its cost with the rules as they are and as they would be."""

    key: str | None = Field(
        description="The tag value (or namespace, label value); null: untagged (unlabeled)."
    )
    name: str
    cost_before: DecimalNumber
    cost_after: DecimalNumber
    change: DecimalNumber
    direct: DecimalNumber = Field(description="Its own cost (after the change).")
    allocated: DecimalNumber = Field(description="Cost moved onto it (after the change).")


class PreviewOut(BaseModel):
    """What saving would move over the last full month, value by value; nothing is saved.
    For a cluster rule: the cluster's last full month, in its currency."""

    preview: bool = True
    start_date: dt.date
    end_date: dt.date
    target_kind: AllocationTarget
    target_tag_key: str | None
    currency: str | None
    moved: DecimalNumber = Field(description="Cost this rule would share in that month.")
    values: list[PreviewValue]
