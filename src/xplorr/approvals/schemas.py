import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from xplorr.approvals.models import ApprovalStatus
from xplorr.core.money import DecimalNumber


@dataclass(frozen=True, slots=True)
class ApprovalFilters:
    status: ApprovalStatus | None = None


class ApprovalCreate(BaseModel):
    """``{"recommendation_id": "uuid"}`` (the reference's body)."""

    model_config = ConfigDict(extra="forbid")

    recommendation_id: uuid.UUID


class ApprovalDecision(BaseModel):
    """``{"status": "approved" | "rejected", "comment": "..."}`` (admins)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["approved", "rejected"] | None = None
    comment: Annotated[str | None, Field(max_length=2000)] = None


class ApprovalOut(BaseModel):
    id: uuid.UUID
    recommendation_id: uuid.UUID
    cloud_account_id: uuid.UUID
    action: str
    title: str
    estimated_monthly_savings: DecimalNumber
    currency: str
    threshold: DecimalNumber  # the organization's approval threshold when it was requested
    status: ApprovalStatus
    requested_by: uuid.UUID | None
    requested_by_email: str
    decided_by: uuid.UUID | None
    decided_by_email: str | None
    decided_at: dt.datetime | None
    comment: str | None
    expires_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
