"""The LLM calls: one chat completion on any OpenAI-compatible server (the ``openai`` SDK with
``base_url``: OpenAI, vLLM, Ollama, LiteLLM...). The insights of ``/ai-recommendations`` in JSON
mode, the answer validated against ``LlmAnswer``; the weekly summary's two-sentence insight in
plain text. Every failure (not configured, timeout, refused, unreachable, malformed) is an
``LlmFailure`` saying which, never the API key or the server's body."""

import json
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from xplorr.ai_recommendations.schemas import Figures, LlmAnswer
from xplorr.core.settings import Settings

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


class LlmFailure(Exception):
    """Why no LLM answer is used (a sentence for the response's notes and the log)."""


def configured(settings: Settings) -> bool:
    return bool(settings.llm_base_url and settings.llm_model)


async def write_insights(settings: Settings, figures: Figures) -> LlmAnswer:
    """The LLM's insights over ``figures`` (raises ``LlmFailure``)."""
    schema = json.dumps(LlmAnswer.model_json_schema(), separators=(",", ":"))
    content = await _complete(
        settings,
        SYSTEM + schema,
        _figures_json(figures),
        json_mode=True,
        instead="insights come from rules",
    )
    try:
        return LlmAnswer.model_validate_json(_unfenced(content))
    except ValidationError as exc:
        where = ", ".join(
            sorted({".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors()})
        )[:200]
        raise LlmFailure(
            f"The LLM's answer did not match the insights schema ({where}): insights come from "
            "rules."
        ) from exc


async def write_weekly_insight(settings: Settings, figures: Mapping[str, Any]) -> str:
    """Two sentences on one week's figures (the weekly summary's insight; raises
    ``LlmFailure``). Plain text, whitespace collapsed, at most ``WEEKLY_MAX_CHARS``."""
    content = await _complete(
        settings,
        WEEKLY_SYSTEM,
        json.dumps(figures, default=str, separators=(",", ":")),
        json_mode=False,
        instead="the weekly summary has no insight",
    )
    text = " ".join(content.split())
    if len(text) > WEEKLY_MAX_CHARS:
        raise LlmFailure(
            f"The LLM's insight was longer than {WEEKLY_MAX_CHARS} characters: the weekly "
            "summary has no insight."
        )
    return text


async def _complete(
    settings: Settings, system: str, user: str, *, json_mode: bool, instead: str
) -> str:
    """One chat completion's text (raises ``LlmFailure`` ending with ``instead``: what the
    caller does without it)."""
    if not configured(settings):
        raise LlmFailure(
            f"No LLM is configured (XPLORR_LLM_BASE_URL and XPLORR_LLM_MODEL): {instead}."
        )
    # Imported here, not at module level: the SDK takes ~0.5 s to import (its generated types)
    # and only this call needs it, while the API process, the worker, each CLI command and
    # each test process import this module with the app.
    import openai

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
    extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if json_mode else {}
    # No SDK retries: a late answer is replaced at once instead of tripling the wait.
    async with openai.AsyncOpenAI(
        base_url=settings.llm_base_url,
        api_key=key or "unused",  # local servers need none; the SDK insists on one
        timeout=settings.llm_timeout_seconds,
        max_retries=0,
    ) as client:
        try:
            completion = await client.chat.completions.create(
                model=str(settings.llm_model),
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                temperature=0.2,
                **extra,
            )
        except openai.APITimeoutError as exc:
            raise LlmFailure(
                f"The LLM did not answer within {settings.llm_timeout_seconds:g} s: {instead}."
            ) from exc
        except openai.APIStatusError as exc:
            raise LlmFailure(f"The LLM server answered HTTP {exc.status_code}: {instead}.") from exc
        except openai.APIError as exc:
            raise LlmFailure(
                f"The LLM server could not be reached ({type(exc).__name__}): {instead}."
            ) from exc
    choices = completion.choices or []
    content: str | None = choices[0].message.content if choices else None
    if not content:
        raise LlmFailure(f"The LLM answered with no content: {instead}.")
    return content


def _figures_json(figures: Figures) -> str:
    """Exact amounts as strings (a Decimal never passes through a float)."""
    return json.dumps(figures.model_dump(), default=str, separators=(",", ":"))


def _unfenced(content: str) -> str:
    """Some models wrap JSON in a Markdown code fence even in JSON mode."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
