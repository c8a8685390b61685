"""The LLM call of ``/ai-recommendations``: one chat completion over the aggregated figures
(``core.llm``: any OpenAI-compatible server, JSON mode), the answer validated against
``LlmAnswer``. Every failure is an ``LlmFailure`` saying which, never the API key or the
server's body."""

from typing import Final

from xplorr.ai_recommendations.schemas import Figures, LlmAnswer
from xplorr.core import llm
from xplorr.core.llm import LlmFailure, configured
from xplorr.core.settings import Settings

__all__ = ["SYSTEM", "LlmFailure", "configured", "write_insights"]

SYSTEM: Final = (
    "You are a FinOps analyst. You are given one organization's aggregated cloud cost figures "
    "as JSON (amounts in the given currency, periods of 30 days). Write 3 to 6 insights a FinOps "
    "engineer would act on: spend trends and movers, anomalies, open recommendations, commitment "
    "coverage and expiries. Use only the figures given; never invent services, amounts or "
    "savings. Answer with a JSON object only, matching this JSON schema:\n"
)


async def write_insights(settings: Settings, figures: Figures) -> LlmAnswer:
    """The LLM's insights over ``figures`` (raises ``LlmFailure``)."""
    return await llm.complete_json(
        settings,
        system=SYSTEM,
        user=llm.as_json(figures),
        answer=LlmAnswer,
        what="the insights schema",
        fallback="insights come from rules",
    )
