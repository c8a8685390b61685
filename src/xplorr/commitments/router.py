"""``/commitments/analysis``: reservations and savings plans against the usage they cover."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from xplorr.auth.deps import CurrentUser
from xplorr.commitments import service
from xplorr.commitments.schemas import CommitmentAnalysisOut
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings

router = APIRouter(prefix="/commitments", tags=["commitments"])
ROUTE_ORDER = 79  # mounting order under /api/v1 (core.areas.routers)


@router.get("/analysis", response_model=CommitmentAnalysisOut)
async def commitment_analysis(
    db: DbSession,
    who: CurrentUser,
    settings: AppSettings,
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Only this cloud account (404 if not visible)."),
    ] = None,
    days: Annotated[int, Query(ge=1, le=366, description="The last N days (today included).")] = 90,
) -> CommitmentAnalysisOut:
    """Reserved instance and savings plan coverage over the last ``days`` days (default 90):
    the daily spend by pricing model (on-demand, reserved, savings plan, spot), coverage and
    utilisation with their definitions, the coverage gaps of the last 30 days per instance
    family and region (average daily on-demand usage and a consistency score), the owned
    commitments with their expiry, and advice: written by the configured LLM (any
    OpenAI-compatible server) from these figures and checked against them (``advice_source``
    ``ai``, ``advice_model``), else deterministic rules over the same figures (``rules``, the
    reason in ``advice_note``). A user limited to some cloud accounts sees only theirs."""
    return await service.analysis_with_advice(db, who, settings, account_id=account_id, days=days)
