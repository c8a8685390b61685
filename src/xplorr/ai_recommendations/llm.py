"""The LLM calls of this area (``core.llm``: any OpenAI-compatible server): the insights of
``/ai-recommendations`` in JSON mode, validated against ``LlmAnswer``; the weekly summary's
two-sentence insight in plain text. Every failure is an ``LlmFailure`` saying which, never the
API key or the server's body."""

import json
from collections.abc import Mapping
from typing import Any, Final

from xplorr.ai_recommendations.schemas import Figures, LlmAnswer
from xplorr.core import llm
from xplorr.core.llm import LlmFailure, configured
from xplorr.core.settings import Settings

__all__ = ["SYSTEM", "LlmFailure", "configured", "write_insights", "write_weekly_insight"]

SYSTEM: Final = (
    "You are a FinOps analyst. You are given one organization's aggregated cloud cost figures "
    "as JSON (amounts in the given currency, periods of 30 days). Write 3 to 6 insights a FinOps "
    "engineer would act on: spend trends and movers, anomalies, open recommendations, commitment "
    "coverage and expiries. Use only the figures given; never invent services, amounts or "
    "savings. Answer with a JSON object only, matching this JSON schema:\n"
)

WEEKLY_SYSTEM: Final = (
    "You are a FinOps analyst writing for a CFO. You are given one organization's cloud cost "
    "figures for one week as JSON (amounts per currency; currencies are never added). Write "
    "exactly two short sentences: what changed most and the one thing worth doing next. Use "
    "only the figures given; never invent services, amounts or savings. Plain text, no "
    "Markdown, no lists."
)
WEEKLY_MAX_CHARS: Final = 600


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


async def write_weekly_insight(settings: Settings, figures: Mapping[str, Any]) -> str:
    """Two sentences on one week's figures (the weekly summary's insight; raises
    ``LlmFailure``). Plain text, whitespace collapsed, at most ``WEEKLY_MAX_CHARS``."""
    text = await llm.complete_text(
        settings,
        system=WEEKLY_SYSTEM,
        user=json.dumps(figures, default=str, separators=(",", ":")),
        fallback="the weekly summary has no insight",
    )
    if len(text) > WEEKLY_MAX_CHARS:
        raise LlmFailure(
            f"The LLM's insight was longer than {WEEKLY_MAX_CHARS} characters: the weekly "
            "summary has no insight."
        )
    return text
