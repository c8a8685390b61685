"""The recommendations page's insights when an LLM wrote them: labelled as a language model's,
with the model named (the local chat-completions double of the AI recommendation tests)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.ai_recommendations.conftest import spend
from tests.ai_recommendations.llm_server import LlmDouble, serve
from tests.conftest import make_settings

from xplorr.core.settings import Settings
from xplorr.users.models import User

__all__ = ["spend"]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[tuple[str, LlmDouble]]:
    yield from serve()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, llm_server: tuple[str, LlmDouble]) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        llm_base_url=llm_server[0],
        llm_api_key="sk-test-llm-key-000000000000",
        llm_model="test-model",
        llm_timeout_seconds=2,
    )


async def test_insights_written_by_an_llm_say_so(
    console_for, viewer: User, llm_server: tuple[str, LlmDouble], spend: dict[str, Any]
) -> None:
    llm_server[1].mode, llm_server[1].delay = "ok", 0.0
    html = (await console_for(viewer).get("/recommendations/insights")).text
    assert "Written by a language model (test-model)" in html
    assert "Storage is the fastest-growing service" in html
    assert "rules" not in html.split('data-testid="source"', 1)[1].split("</p>", 1)[0]
