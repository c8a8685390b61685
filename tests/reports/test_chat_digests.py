"""The daily digest and the weekly summary in the org's chat: posted through the hub to the
org's Slack and Teams webhooks (a local receiver speaking their webhook answers), at the org's
digest time in its time zone, once, and not when turned off; the daily digest carries each
budget's usage bar and its forecast against the budget. Figures from the cost tests'
dataset (``tests/reports/conftest.py``): on 2024-09-16 BigQuery 3 USD against a 7-day mean of
2.875."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import make_settings
from tests.costs.conftest import Dataset
from tests.factories.budgets import make_budget
from tests.factories.recommendations import make_recommendation
from tests.factories.settings import make_org_settings
from tests.mail import load_job_modules, run_jobs
from tests.notifications.conftest import receiver
from tests.webhooks import Receiver
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.reports import chat
from xplorr.settings.models import OrgSetting

__all__ = ["receiver"]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, egress_allow_hosts=["127.0.0.1"])


async def test_daily_and_weekly_go_to_the_org_webhooks_once_at_the_org_time(
    db: AsyncSession, org: Org, data: Dataset, settings: Settings, receiver: Receiver
) -> None:
    load_job_modules()  # the hub's target sources, as in every API and worker process
    org_id = org.id
    row = await make_org_settings(
        db,
        org,
        settings=settings,
        timezone="Asia/Tokyo",
        digest_time="09:00",
        slack_webhook=receiver.url("/services/T/B/slack"),
        teams_webhook=receiver.url("/workflows/teams"),
    )
    # As of 2024-09-16 the budget has 20.125 + 3 spent: over, its bar full.
    await make_budget(db, org, name="Data GCP monthly", amount="20", account=data.gcp)
    # 08:59 in Tokyo: not yet; 09:30 (00:30 UTC): yesterday in Tokyo is 2024-09-16.
    assert await chat.post_daily(db, org_id, datetime(2024, 9, 16, 23, 59, tzinfo=UTC)) == 0
    posted = await chat.post_daily(db, org_id, datetime(2024, 9, 17, 0, 30, tzinfo=UTC))
    assert posted >= 1
    assert await chat.post_daily(db, org_id, datetime(2024, 9, 17, 1, 0, tzinfo=UTC)) == 0
    # Open recommendations: counted per currency in the weekly summary, with their savings
    await make_recommendation(db, data.aws, savings="120.505")
    await make_recommendation(db, data.gcp, savings="60.74")
    await make_recommendation(db, data.gcp, savings="10", currency="EUR")
    assert await chat.post_weekly(db, settings, org_id, date(2024, 9, 9), date(2024, 9, 15)) >= 1
    assert await chat.post_weekly(db, settings, org_id, date(2024, 9, 9), date(2024, 9, 15)) == 0
    await db.commit()
    await run_jobs(settings)

    slack = {
        p.body["blocks"][0]["text"]["text"]: p.body for p in receiver.to("/services/T/B/slack")
    }
    daily = slack["Daily cost digest 2024-09-16 (USD)"]
    assert "Yesterday's spend was $3.00 ↑ 4.4 % against the 7-day average." in daily["text"]
    fields = [f["text"] for b in daily["blocks"] if b.get("fields") for f in b["fields"]]
    assert "*Yesterday*\n$3.00" in fields
    assert "*7-day average*\n$2.88" in fields
    assert any(f.startswith("*BigQuery*\n$3.00") for f in fields)
    (bar,) = [f for f in fields if f.startswith("*Budget ")]
    assert bar.startswith(
        "*Budget Data GCP monthly: Over budget*\n▰▰▰▰▰▰▰▰▰▰ 115.6 % of $20.00 ($23.13 spent); "
        "forecast $"
    )
    assert bar.endswith(" over")  # the forecast for 2024-09-30 against the $20
    weekly = [  # one card per currency: the USD one carries the USD savings
        [f["text"] for b in p.body["blocks"] if b.get("fields") for f in b["fields"]]
        for p in receiver.to("/services/T/B/slack")
        if p.body["blocks"][0]["text"]["text"].startswith("Weekly cost summary")
    ]
    (weekly_fields,) = [f for f in weekly if any(x.startswith("*Spend*\n$") for x in f)]
    assert "*Open recommendations*\n2, $181.25/month" in weekly_fields
    cards = [
        p.body["attachments"][0]["content"]["body"][0]["text"]
        for p in receiver.to("/workflows/teams")
    ]
    assert "Daily cost digest 2024-09-16 (USD)" in cards
    assert len(cards) == len(slack)

    # Turned off: nothing more, whatever the time.
    fresh = await db.get_one(OrgSetting, row.id)
    fresh.digest_enabled = False
    fresh.weekly_summary_enabled = False
    await db.commit()
    assert await chat.post_daily(db, org_id, datetime(2024, 9, 18, 1, 0, tzinfo=UTC)) == 0
    assert await chat.post_weekly(db, settings, org_id, date(2024, 9, 16), date(2024, 9, 22)) == 0
