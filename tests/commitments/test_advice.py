"""/commitments/analysis advice written by an LLM: the real ``openai`` client against a local
server speaking chat-completions (``tests/ai_recommendations/llm_server.py``). The LLM is shown
the analysis's own figures (coverage, utilisation, gaps and their savings, commitments; no
account, commitment or resource id) and its advice is shown as ``advice_source: "ai"`` with the
model, cached for the same figures; advice claiming more than the gaps' estimate, a malformed
answer or a failing server give the rules' advice, the failure named, and remembered."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ai_recommendations.llm_server import LlmDouble, serve
from tests.commitments.conftest import RI_ARN, SP_ARN
from tests.conftest import ClientFor, make_settings
from xplorr.commitments.models import CommitmentAdvice
from xplorr.core.settings import Settings
from xplorr.users.models import User

API_KEY = "sk-test-llm-key-000000000000"
ADVICE = {
    "advice": [
        {
            "kind": "commit",
            "severity": "medium",
            "title": "Cover the steady m5 usage in us-east-1",
            "detail": "m5 ran on demand all 30 days at 10.00 USD a day: a savings plan for its "
            "steady part saves about 60.83 USD a month and lifts coverage from 5.25 %.",
            "estimated_monthly_savings": 60.834,
        },
        {
            "kind": "expiring",
            "severity": "high",
            "title": "Renew the m5.large reservation expiring in 20 days",
            "detail": "It is 75 % used; renew it or its usage goes back to on-demand prices.",
            "estimated_monthly_savings": None,
        },
    ]
}
RULES_KINDS = ["coverage_low", "commit", "underused", "expiring"]  # test_router's figures


@pytest.fixture(scope="module")
def llm_server() -> Iterator[tuple[str, LlmDouble]]:
    yield from serve()


@pytest.fixture
def llm(llm_server: tuple[str, LlmDouble]) -> Iterator[LlmDouble]:
    state = llm_server[1]
    state.mode, state.delay, state.answer = "ok", 0.0, ADVICE
    state.requests.clear()
    yield state
    state.answer = None
    state.requests.clear()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, llm_server: tuple[str, LlmDouble]) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        llm_base_url=llm_server[0],
        llm_api_key=API_KEY,
        llm_model="test-model",
        llm_timeout_seconds=2,
    )


async def test_llm_advice_from_the_figures_cached_for_them(
    client_for: ClientFor, admin: User, llm: LlmDouble, data: dict[str, Any]
) -> None:
    client = client_for(admin)
    r = await client.get("/commitments/analysis")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["advice_source"], body["advice_model"]) == ("ai", "test-model")
    assert body["advice_note"].startswith("Written by an LLM (test-model) from the figures")
    assert [(a["kind"], a["estimated_monthly_savings"]) for a in body["advice"]] == [
        ("commit", 60.83),  # rounded to the currency's cents
        ("expiring", None),
    ]
    assert body["advice"][0]["title"] == "Cover the steady m5 usage in us-east-1"
    assert (body["coverage_percent"], body["utilization_percent"]) == (5.25, 86.67)
    assert API_KEY not in r.text
    # What the LLM was shown: this answer's own figures, and no id of any kind.
    ((request, auth),) = llm.requests
    assert auth == f"Bearer {API_KEY}"
    assert (request["model"], request["response_format"]) == ("test-model", {"type": "json_object"})
    assert "steady_gap_savings" in request["messages"][0]["content"]  # the advice schema's rule
    shown = request["messages"][1]["content"]
    for figure in (
        '"coverage_percent":"5.25"',
        '"utilization_percent":"86.67"',
        '"steady_gap_savings":"60.83"',
        '"instance_family":"m5"',
        '"days_left":20',
        '"unused_commitment_cost":"2.00"',
    ):
        assert figure in shown, figure
    for private in (RI_ARN, SP_ARN, '"ri-1"', "ri-unbilled", str(data["aws"].id), admin.email):
        assert private not in str(request["messages"]), private

    # The same figures again: from the cache, not asked again.
    again = (await client.get("/commitments/analysis")).json()
    assert (again["advice_source"], again["advice"]) == ("ai", body["advice"])
    assert "earlier today" in again["advice_note"]
    assert len(llm.requests) == 1
    # Other figures (a 7-day window): asked anew, so the advice matches what is shown.
    week = (await client.get("/commitments/analysis", params={"days": 7})).json()
    assert week["advice_source"] == "ai"
    assert len(llm.requests) == 2
    assert '"days":7' in llm.requests[1][0]["messages"][1]["content"]


UNGROUNDED = {
    "advice": [
        {
            "kind": "commit",
            "severity": "high",
            "title": "Buy a three-year plan",
            "detail": "It would save 5000 USD a month.",
            "estimated_monthly_savings": 5000,
        }
    ]
}
FAILURES = (
    ("ok", UNGROUNDED, "claimed 5000.00 USD a month, more than the 60.83 USD the coverage gaps"),
    ("malformed", None, "did not match the advice schema"),
    ("ok", None, "did not match the advice schema"),  # insights, not advice
    ("error", None, "answered HTTP 500"),
)


async def test_failures_give_the_rules_advice_and_name_the_failure(
    db: AsyncSession, client_for: ClientFor, admin: User, llm: LlmDouble, data: dict[str, Any]
) -> None:
    client = client_for(admin)
    for mode, answer, reason in FAILURES:
        llm.mode, llm.answer = mode, answer
        llm.requests.clear()
        await db.execute(delete(CommitmentAdvice))  # forget the previous case's failure
        await db.commit()
        body = (await client.get("/commitments/analysis")).json()
        assert (body["advice_source"], body["advice_model"]) == ("rules", None), reason
        assert reason in body["advice_note"], body["advice_note"]
        assert body["advice_note"].endswith("advice comes from rules.")
        assert [a["kind"] for a in body["advice"]] == RULES_KINDS
        assert API_KEY not in str(body)
        # Remembered: the next request does not wait on the LLM again.
        again = (await client.get("/commitments/analysis")).json()
        assert again["advice_source"] == "rules"
        assert reason in again["advice_note"]
        assert "asked again after" in again["advice_note"]
        assert len(llm.requests) == 1, reason
