import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from xplorr.auth.deps import CurrentUser, WriterUser
from xplorr.core.db import DbSession
from xplorr.core.pagination import Pagination
from xplorr.recommendations import service
from xplorr.recommendations.models import RecommendationStatus
from xplorr.recommendations.schemas import (
    RecommendationFilters,
    RecommendationOut,
    RecommendationPage,
    RecommendationUpdate,
    SnoozeIn,
)

router = APIRouter(prefix="/recommendations", tags=["recommendations"])
ROUTE_ORDER = 75  # mounting order under /api/v1 (core.areas.routers)


def recommendation_filters(
    status: Annotated[
        RecommendationStatus | None, Query(description="open, in_progress, applied, dismissed.")
    ] = None,
    type: Annotated[  # the reference's parameter name
        str | None,
        Query(max_length=64, description="Recommendation type, e.g. stop_idle_instance."),
    ] = None,
    provider: Annotated[
        str | None, Query(max_length=16, description="aws, azure, gcp (or other).")
    ] = None,
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Only this cloud account (404 if not visible)."),
    ] = None,
    category: Annotated[
        str | None,
        Query(
            max_length=32,
            description="idle, unused, rightsizing, modernization or commitment.",
        ),
    ] = None,
    include_snoozed: Annotated[
        bool, Query(alias="includeSnoozed", description="Include snoozed recommendations.")
    ] = False,
) -> RecommendationFilters:
    return RecommendationFilters(
        status=status,
        type=type,
        provider=provider,
        account_id=account_id,
        category=category,
        include_snoozed=include_snoozed,
    )


@router.get("", response_model=RecommendationPage)
async def list_recommendations(
    db: DbSession,
    who: CurrentUser,
    page: Pagination,
    filters: Annotated[RecommendationFilters, Depends(recommendation_filters)],
) -> RecommendationPage:
    """List savings recommendations, largest estimated monthly saving first. Each carries its
    evidence (the metric values and window, the prices used), its risk and how to apply it
    (console steps and a CLI or Terraform snippet). Snoozed ones are left out unless
    ``includeSnoozed=true``. A user limited to some cloud accounts sees only theirs. ``totals``:
    per currency, what the open ones among all those the filters match would save a month
    together, alternatives for the same spend counted once."""
    return await service.list_recommendations(db, who, filters, page)


@router.patch("/{recommendation_id}", response_model=RecommendationOut)
async def update_recommendation(
    recommendation_id: uuid.UUID, body: RecommendationUpdate, db: DbSession, who: WriterUser
) -> RecommendationOut:
    """Set a recommendation's status: open, in_progress, applied or dismissed (members and
    above; audited). Moving it to in_progress or applied when its saving is above the
    organization's approval threshold answers 409 APPROVAL_REQUIRED and opens (or names) the
    pending approval in ``error.details[0].approval_id``."""
    return await service.update_recommendation(db, who, recommendation_id, body)


@router.post("/{recommendation_id}/snooze", response_model=RecommendationOut)
async def snooze_recommendation(
    recommendation_id: uuid.UUID, body: SnoozeIn, db: DbSession, who: WriterUser
) -> RecommendationOut:
    """Hide a recommendation until a day: ``{"until": "YYYY-MM-DD"}`` or ``{"days": 7}``
    (members and above; audited)."""
    return await service.snooze_recommendation(db, who, recommendation_id, body)
