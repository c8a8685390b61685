"""/ai-recommendations without an LLM: ``source: "rules"``, deterministic insights over the
aggregated figures, the reason in notes; grants narrow the figures; an empty org is told so."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.ai_recommendations.conftest import RESOURCE, SECRET_NAME
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant
from xplorr.users.models import User


async def test_rules_from_figures_grants_and_empty(
    db: AsyncSession,
    client_for: ClientFor,
    admin: User,
    member: User,
    other_admin: User,
    spend: dict[str, Any],
) -> None:
    client = client_for(admin)
    r = await client.get("/ai-recommendations")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["model"], body["cached"], body["currency"]) == (
        "rules",
        None,
        False,
        "USD",
    )
    assert "No LLM is configured" in body["notes"][0]
    f = body["figures"]
    assert (f["total_cost"], f["previous_total_cost"], f["change_percent"]) == (421.0, 360.0, 16.9)
    assert f["top_services"][0] == {
        "service": "Amazon Elastic Compute Cloud",
        "cost": 300.0,
        "previous_cost": 300.0,
        "change": 0.0,
        "change_percent": 0.0,
    }
    assert [m["service"] for m in f["movers"]] == ["Amazon Simple Storage Service", "BigQuery"]
    assert f["open_anomalies"] == 1
    assert f["recommendations"] == {
        "available": True,
        "open_count": 3,
        "monthly_savings": 100.0,
        "top": [
            {
                "type": "stop_idle_instance",
                "category": "idle",
                "count": 2,
                "estimated_monthly_savings": 100.0,
                "currency": "USD",
            }
        ],
    }
    assert f["coverage"]["coverage_percent"] == 0.0
    assert f["coverage"]["top_gaps"][0]["instance_family"] == "m5"
    text = r.text
    assert SECRET_NAME not in text
    assert RESOURCE not in text
    titles = [(i["category"], i["title"]) for i in body["insights"]]
    assert titles == [
        ("spend_trend", "Spend of the last 30 days: 421.00 USD"),
        ("spend_trend", "Amazon Simple Storage Service grew by 60.00 USD"),
        ("anomaly", "1 open cost anomaly"),
        ("savings", "3 open recommendations could save 100.00 USD a month"),
        ("commitment", "Commitment coverage is 0.00 %"),
    ]
    assert "i-0idle" not in text
    assert body["insights"][4]["estimated_monthly_savings"] == 60.83
    again = (await client.get("/ai-recommendations")).json()
    assert again["insights"] == body["insights"]

    # A member limited to one account; another org without data.
    await grant(db, member, spend["gcp"])
    body = (await client_for(member).get("/ai-recommendations")).json()
    assert body["figures"]["total_cost"] == 1.0
    assert body["figures"]["open_anomalies"] == 0
    assert body["figures"]["recommendations"]["open_count"] == 0
    empty = (await client_for(other_admin).get("/ai-recommendations")).json()
    assert [i["title"] for i in empty["insights"]] == ["No cost data yet"]
    assert empty["source"] == "rules"
