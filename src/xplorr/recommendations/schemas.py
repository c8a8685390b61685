import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from xplorr.core.money import DecimalNumber
from xplorr.core.pagination import Page
from xplorr.recommendations.models import RecommendationStatus, Risk


@dataclass(frozen=True, slots=True)
class RecommendationFilters:
    status: RecommendationStatus | None = None
    type: str | None = None
    provider: str | None = None
    account_id: uuid.UUID | None = None
    category: str | None = None
    include_snoozed: bool = False


class HowToApplyOut(BaseModel):
    console_steps: list[str]
    cli: str | None
    terraform: str | None


class RecommendationOut(BaseModel):
    id: uuid.UUID
    type: str
    category: str
    provider: str
    account_id: uuid.UUID  # the Xplorr cloud account
    account_name: str | None
    resource_id: str | None
    resource_name: str | None
    region: str | None
    title: str
    description: str
    estimated_monthly_savings: DecimalNumber
    currency: str
    overlap_group: str = Field(
        description="Recommendations sharing this value are alternatives for the same spend "
        "(the actions on one resource; an account's commitment purchases in one currency): "
        "their savings do not add up. Xplorr's totals count, per group, the type whose "
        "recommendations save most together."
    )
    evidence: dict[str, Any]
    risk: Risk
    how_to_apply: HowToApplyOut
    status: RecommendationStatus
    snoozed_until: dt.date | None
    realized_monthly_savings: DecimalNumber | None = Field(
        description="Applied ones: the estimate when it closed. closed_by says how: user (a "
        "user applied it) or a refresh that no longer found it (resource_gone, fixed): then "
        "it is the last estimate of waste that left the data, which Xplorr cannot attribute "
        "to an action (an idle instance that became busy also closes as fixed)."
    )
    closed_by: str | None = Field(
        description="Applied ones: user | resource_gone | fixed (see realized_monthly_savings)."
    )
    detected_at: dt.datetime
    last_seen_at: dt.datetime
    updated_at: dt.datetime
    status_changed_at: dt.datetime | None
    applied_at: dt.datetime | None


class SavingsTotalOut(BaseModel):
    currency: str
    estimated_monthly_savings: DecimalNumber


class RecommendationPage(Page[RecommendationOut]):
    """A page of recommendations and, over every one the filters match (not only this page)
    that is open, what they would save a month together per currency, alternatives counted
    once (``recommendations.totals``); currencies are never added up."""

    totals: list[SavingsTotalOut] = Field(
        default_factory=list,
        description="Per currency (alphabetical), the monthly saving of the open recommendations "
        "the filters match, overlapping ones (actions on one resource, an account's commitment "
        "purchases) counted once.",
    )


class RecommendationUpdate(BaseModel):
    """``{"status": "open" | "in_progress" | "applied" | "dismissed"}`` (required: checked after
    the recommendation is found, so a foreign id is 404 whatever the body)."""

    model_config = ConfigDict(extra="forbid")

    status: RecommendationStatus | None = None


class SnoozeIn(BaseModel):
    """``{"until": "YYYY-MM-DD"}`` (a day after today, within a year) or ``{"days": 7}``
    (1-365): hidden from the list until that day unless ``includeSnoozed``. Exactly one of the
    two (checked after the recommendation is found: a foreign id is 404 whatever the body)."""

    model_config = ConfigDict(extra="forbid")

    until: dt.date | None = None
    days: Annotated[int | None, Field(ge=1, le=365)] = None
