"""/ai-recommendations with an LLM: the real ``openai`` client against a local server speaking
chat-completions. A valid answer is shown as ``source: "llm"`` and cached for the day (per
scope of accounts); what the server receives is aggregates only, with the API key only in the
Authorization header; a malformed, slow or failing answer gives rules and says why, and is
remembered so the next request does not wait again."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ai_recommendations.conftest import RESOURCE, SECRET_NAME
from tests.ai_recommendations.llm_server import LlmDouble, serve
from tests.conftest import ClientFor, make_settings
from tests.factories.cloud_accounts import grant
from xplorr.ai_recommendations.models import AiInsight
from xplorr.core.settings import Settings
from xplorr.users.models import User

API_KEY = "sk-test-llm-key-000000000000"
TIMEOUT = 0.5


@pytest.fixture(scope="module")
def llm_server() -> Iterator[tuple[str, LlmDouble]]:
    yield from serve()


@pytest.fixture
def llm(llm_server: tuple[str, LlmDouble]) -> Iterator[LlmDouble]:
    state = llm_server[1]
    state.mode, state.delay = "ok", 0.0
    state.requests.clear()
    yield state
    state.requests.clear()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, llm_server: tuple[str, LlmDouble]) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        llm_base_url=llm_server[0],
        llm_api_key=API_KEY,
        llm_model="test-model",
        llm_timeout_seconds=TIMEOUT,
    )


async def test_llm_answer_cached_per_scope(
    db: AsyncSession,
    client_for: ClientFor,
    admin: User,
    member: User,
    llm: LlmDouble,
    spend: dict[str, Any],
) -> None:
    client = client_for(admin)
    r = await client.get("/ai-recommendations")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["model"], body["cached"], body["currency"]) == (
        "llm",
        "test-model",
        False,
        "USD",
    )
    first = body["insights"][0]
    assert first["title"] == "Storage is the fastest-growing service"
    assert first["estimated_monthly_savings"] == 123.46  # rounded to the currency's cents
    assert body["insights"][1]["estimated_monthly_savings"] is None
    assert body["figures"]["total_cost"] == 421.0
    assert API_KEY not in r.text
    # What the LLM was sent: the model, JSON mode, the schema, and aggregates only.
    ((request, auth),) = llm.requests
    assert auth == f"Bearer {API_KEY}"
    assert (request["model"], request["response_format"]) == ("test-model", {"type": "json_object"})
    sent = str(request["messages"])
    assert "estimated_monthly_savings" in request["messages"][0]["content"]  # the schema
    assert '"total_cost":"421.00"' in request["messages"][1]["content"]
    assert '"open_count":3' in request["messages"][1]["content"]
    for private in (SECRET_NAME, RESOURCE, "i-0idle", str(spend["aws"].id), admin.email, API_KEY):
        assert private not in sent

    again = (await client.get("/ai-recommendations")).json()
    assert (again["cached"], again["insights"]) == (True, body["insights"])
    assert len(llm.requests) == 1  # from the day's cache

    # A member limited to one account: figures of that account, asked anew, cached apart.
    await grant(db, member, spend["gcp"])
    theirs = (await client_for(member).get("/ai-recommendations")).json()
    assert (theirs["source"], theirs["figures"]["total_cost"]) == ("llm", 1.0)
    assert len(llm.requests) == 2


FAILURES = (
    ("malformed", "did not match the insights schema"),
    ("slow", f"did not answer within {TIMEOUT:g} s"),
    ("error", "answered HTTP 500"),
)


async def test_failures_fall_back_to_rules(
    db: AsyncSession, client_for: ClientFor, admin: User, llm: LlmDouble, spend: dict[str, Any]
) -> None:
    client = client_for(admin)
    for mode, note in FAILURES:
        llm.mode, llm.delay = mode, 3.0
        llm.requests.clear()
        await db.execute(delete(AiInsight))  # forget the previous mode's remembered failure
        await db.commit()
        started = time.monotonic()
        body = (await client.get("/ai-recommendations")).json()
        assert time.monotonic() - started < 2.5, mode  # the timeout, not the server's 3 s
        assert (body["source"], body["model"]) == ("rules", None), mode
        assert note in body["notes"][0]
        assert API_KEY not in str(body)
        assert body["insights"][0]["title"] == "Spend of the last 30 days: 421.00 USD"
        # Remembered: the next request does not wait on the LLM again.
        again = (await client.get("/ai-recommendations")).json()
        assert again["source"] == "rules"
        assert note in again["notes"][0]
        assert "asked again after" in again["notes"][1]
        assert len(llm.requests) == 1, mode
