"""``/ai-recommendations``: insights over the organization's aggregated figures."""

from fastapi import APIRouter

from xplorr.ai_recommendations import service
from xplorr.ai_recommendations.schemas import AiRecommendationsOut
from xplorr.auth.deps import CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings

router = APIRouter(prefix="/ai-recommendations", tags=["ai-recommendations"])
ROUTE_ORDER = 71  # mounting order under /api/v1 (core.areas.routers)


@router.get("", response_model=AiRecommendationsOut)
async def ai_recommendations(
    db: DbSession, who: CurrentUser, settings: AppSettings
) -> AiRecommendationsOut:
    """Insights on spend trends and movers, anomalies, open recommendations and commitment
    coverage, written by the configured LLM (any OpenAI-compatible server) over the
    organization's aggregated figures (never cost rows, account names, credentials or personal
    data), cached per organization and day. Without an LLM, or when it is late or answers out
    of schema, ``source`` is ``rules``: deterministic insights over the same figures, with the
    reason in ``notes``. A user limited to some cloud accounts gets insights over theirs only."""
    return await service.recommendations(db, who, settings)
