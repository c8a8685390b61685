"""One chat completion on any OpenAI-compatible server (the ``openai`` SDK with ``base_url``:
OpenAI, vLLM, Ollama, LiteLLM...), in JSON mode, the answer validated against a pydantic model.

Shared by the areas that let an LLM write over their figures (``ai_recommendations``,
``commitments``, the weekly summary's insight). Every failure (not configured, timeout,
refused, unreachable, malformed) is an ``LlmFailure`` saying which, never the API key or the
server's body; the caller answers with its rules instead (or nothing) and says why.
"""

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from xplorr.core.settings import Settings

Answer = TypeVar("Answer", bound=BaseModel)


class LlmFailure(Exception):
    """Why no LLM answer is used (a sentence for the response's notes and the log)."""


def configured(settings: Settings) -> bool:
    return bool(settings.llm_base_url and settings.llm_model)


def not_configured(fallback: str) -> LlmFailure:
    return LlmFailure(
        f"No LLM is configured (XPLORR_LLM_BASE_URL and XPLORR_LLM_MODEL): {fallback}."
    )


async def complete_json(
    settings: Settings,
    *,
    system: str,
    user: str,
    answer: type[Answer],
    what: str,
    fallback: str,
) -> Answer:
    """The LLM's answer to ``system`` + ``user``, validated as ``answer`` (its JSON schema is
    appended to ``system``). Raises ``LlmFailure``: ``what`` names the answer in the message
    ("the insights schema"), ``fallback`` says what is used instead ("insights come from
    rules")."""
    schema = json.dumps(answer.model_json_schema(), separators=(",", ":"))
    content = await _complete(settings, system + schema, user, json_mode=True, fallback=fallback)
    try:
        return answer.model_validate_json(unfenced(content))
    except ValidationError as exc:
        where = ", ".join(
            sorted({".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors()})
        )[:200]
        raise LlmFailure(f"The LLM's answer did not match {what} ({where}): {fallback}.") from exc


async def complete_text(settings: Settings, *, system: str, user: str, fallback: str) -> str:
    """The LLM's plain-text answer, whitespace collapsed (raises ``LlmFailure`` as
    ``complete_json``)."""
    content = await _complete(settings, system, user, json_mode=False, fallback=fallback)
    return " ".join(content.split())


async def _complete(
    settings: Settings, system: str, user: str, *, json_mode: bool, fallback: str
) -> str:
    """One chat completion's text (raises ``LlmFailure`` ending with ``fallback``)."""
    if not configured(settings):
        raise not_configured(fallback)
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
                f"The LLM did not answer within {settings.llm_timeout_seconds:g} s: {fallback}."
            ) from exc
        except openai.APIStatusError as exc:
            raise LlmFailure(
                f"The LLM server answered HTTP {exc.status_code}: {fallback}."
            ) from exc
        except openai.APIError as exc:
            raise LlmFailure(
                f"The LLM server could not be reached ({type(exc).__name__}): {fallback}."
            ) from exc
    choices = completion.choices or []
    content: str | None = choices[0].message.content if choices else None
    if not content:
        raise LlmFailure(f"The LLM answered with no content: {fallback}.")
    return content


def as_json(figures: BaseModel) -> str:
    """Exact amounts as strings (a Decimal never passes through a float)."""
    return json.dumps(figures.model_dump(), default=str, separators=(",", ":"))


def unfenced(content: str) -> str:
    """Some models wrap JSON in a Markdown code fence even in JSON mode."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
