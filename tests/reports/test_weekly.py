"""The Monday weekly summary: the previous Monday-Sunday, to each active user whose
``weekly_digest`` preference is on, built with that user's own access, once per week."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ai_recommendations.llm_server import LlmDouble, serve
from tests.conftest import make_settings
from tests.costs.conftest import Dataset
from tests.factories.anomalies import make_anomaly
from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import grant
from tests.factories.recommendations import make_recommendation
from tests.factories.settings import make_org_settings
from tests.mail import Mailbox, run_jobs, text_of
from tests.notifications.conftest import receiver
from tests.webhooks import Receiver
from xplorr.anomalies.models import Severity
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import periodic, queue, registry
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.recommendations.models import RecommendationStatus
from xplorr.reports import chat, weekly
from xplorr.reports import jobs as report_jobs
from xplorr.users.models import NotificationPreference, User, UserStatus

__all__ = ["receiver"]

MONDAY = date(2024, 9, 16)  # summarises 2024-09-09 .. 2024-09-15


async def run_week(settings: Settings, org: Org, today: date = MONDAY) -> int:
    engine = make_engine(settings.db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            sent = await weekly.send_weekly(s, settings, org.id, today)
            await s.commit()
    finally:
        await engine.dispose()
    await run_jobs(settings)
    return sent


def test_the_week_is_the_monday_to_sunday_before() -> None:
    assert weekly.week_before(MONDAY) == (date(2024, 9, 9), date(2024, 9, 15))
    assert weekly.week_before(date(2024, 9, 18)) == (date(2024, 9, 9), date(2024, 9, 15))


def test_the_monday_schedule_fans_out_per_org_at_the_configured_time(
    db_url: str, tmp_path: Path
) -> None:
    fan = periodic.FAN_OUTS[report_jobs.WEEKLY_FAN_OUT]
    assert fan.job == report_jobs.WEEKLY_JOB
    sched = registry.SCHEDULES[f"{report_jobs.WEEKLY_JOB}.every"]
    at = datetime(2024, 9, 18, 12, tzinfo=UTC)  # a Wednesday
    default = sched.resolve(make_settings(db_url, tmp_path))
    assert queue.slot_of(default, at) == datetime(2024, 9, 16, 9, tzinfo=UTC)  # Monday 09:00
    # XPLORR_WEEKLY_SUMMARY_CRON: Tuesdays 06:30 UTC.
    moved = sched.resolve(make_settings(db_url, tmp_path, weekly_summary_cron="30 6 * * 2"))
    assert queue.slot_of(moved, at) == datetime(2024, 9, 17, 6, 30, tzinfo=UTC)
    with pytest.raises(ValidationError, match="not a cron expression"):
        make_settings(db_url, tmp_path, weekly_summary_cron="every monday")


async def test_each_user_who_wants_it_gets_their_own_summary_once(
    db: AsyncSession,
    org: Org,
    admin: User,
    member: User,
    viewer: User,
    owner: User,
    data: Dataset,
    mailbox: Mailbox,
    settings: Settings,
) -> None:
    admin_email, member_email, viewer_email, owner_email = (
        admin.email,
        member.email,
        viewer.email,
        owner.email,
    )
    db.add(
        NotificationPreference(org_id=org.id, user_id=member.id, settings={"weekly_digest": False})
    )
    gone = await db.get(User, owner.id)
    assert gone is not None
    gone.status = UserStatus.DEACTIVATED
    await db.commit()
    await grant(db, viewer, data.aws)

    assert await run_week(settings, org) == 2
    assert await run_week(settings, org) == 0  # the same week again: nothing
    assert mailbox.to(member_email) == []  # turned off
    assert mailbox.to(owner_email) == []  # deactivated
    (msg,) = mailbox.to(admin_email)
    assert msg["Subject"] == "Weekly cloud cost summary of Acme, 2024-09-09 to 2024-09-15"
    text = text_of(msg)
    # 20.125 (Compute Engine, 09-15) against 3.25 (S3, 09-02) the week before.
    assert "USD: $20.13 (+519.23 % week over week; the week before: $3.25)" in text
    assert "Google Cloud: $20.13 (n/a; the week before: $0.00)" in text
    assert "Compute Engine: $20.13 (n/a)" in text
    # The viewer sees the AWS account only: nothing spent there that week, S3 the week before.
    seen = text_of(mailbox.to(viewer_email)[0])
    assert "USD: $0.00 (-100.00 % week over week; the week before: $3.25)" in seen
    assert "Compute Engine" not in seen


async def test_the_summary_has_the_figures_of_section_25(
    db: AsyncSession, org: Org, admin: User, data: Dataset, mailbox: Mailbox, settings: Settings
) -> None:
    """Provider deltas, the anomalies' cost above baseline counted once, the recommendations
    applied that week against those open, the savings realised, the budget scorecard; per
    currency. No LLM configured: no insight."""
    aws, gcp = data.aws, data.gcp
    for account, service, day, actual, baseline, severity, currency in [
        (aws, "AmazonEC2", 10, "50", "10", Severity.LOW, "USD"),  # 40
        # An account's spike and one of its services the same day: the account's 14.125 only.
        (gcp, "Compute Engine", 15, "20.125", "5", Severity.HIGH, "USD"),
        (gcp, None, 15, "20.125", "6", Severity.LOW, "USD"),
        # The organization's spike covers the account's that day: 200 only.
        (None, None, 12, "300", "100", Severity.HIGH, "USD"),
        (aws, None, 12, "150", "50", Severity.LOW, "USD"),
        (aws, None, 13, "1", "10", Severity.LOW, "USD"),  # a drop: no excess
        (aws, "AmazonEC2", 14, "7", "1", Severity.CRITICAL, "EUR"),
        (aws, "AmazonEC2", 8, "999", "1", Severity.CRITICAL, "USD"),  # the week before
    ]:
        await make_anomaly(
            db, org, account=account, service=service, day=date(2024, 9, day), actual=actual,
            baseline=baseline, severity=severity, currency=currency,
        )  # fmt: skip
    applied = await make_recommendation(db, aws, savings="30.004")
    before = await make_recommendation(db, gcp, savings="99")
    for rec, when in ((applied, datetime(2024, 9, 15, 23, 59, tzinfo=UTC)),
                      (before, datetime(2024, 9, 8, 23, 59, tzinfo=UTC))):  # fmt: skip
        rec.status, rec.applied_at = RecommendationStatus.APPLIED, when
        rec.realized_monthly_savings = rec.estimated_monthly_savings
    await db.commit()
    await make_recommendation(db, gcp, savings="60.74")
    await make_recommendation(db, aws, savings="10", currency="EUR")
    await make_budget(db, org, name="Data GCP monthly", amount="20", account=gcp)
    admin_email = admin.email

    assert await run_week(settings, org) == 1
    text = text_of(mailbox.to(admin_email)[0]).replace("\r\n", "\n")
    assert "Anomalies: 7 (1 critical, 2 high, 4 low)" in text
    usd, eur = text.split("\nUSD: ")[1].split("\nEUR: ")
    assert "  Google Cloud: $20.13 (n/a; the week before: $0.00)" in usd
    assert "  AWS: $0.00 (-100.00 %; the week before: $3.25)" in usd
    assert "Anomalies' cost above baseline: $254.13" in usd  # 40 + 14.125 + 200
    assert (
        "Recommendations applied this week: 1, realising $30.00 a month (their estimate when "
        "applied)"
    ) in usd
    assert "Recommendations open: 1, potential savings $60.74 a month" in usd
    # As of the week's Sunday: the 20.125 of 2024-09-15 against $20.
    assert (
        "Budget scorecard (as of 2024-09-15):\n  Data GCP monthly (monthly): Over budget, "
        "[####################] 100.63 % of $20.00 ($20.13 spent); forecast $"
    ) in usd
    # EUR: no spend that week, but a spike and an open recommendation.
    assert eur.startswith("€0.00 (n/a week over week; the week before: €0.00)")
    assert "Anomalies' cost above baseline: €6.00" in eur
    assert "Recommendations applied this week: 0\n" in eur
    assert "Recommendations open: 1, potential savings €10.00 a month" in eur
    assert "Insight" not in text
    assert "Budgets against actuals" not in text  # the scorecard replaces the section


@pytest.fixture(scope="module")
def llm_server() -> Iterator[tuple[str, LlmDouble]]:
    yield from serve()


INSIGHT = (
    "Compute Engine took spend from $3.25 to $20.13 (+519 %). The Data GCP monthly budget is "
    "already over: review Compute Engine before month end."
)


async def test_an_llm_writes_the_insight_once_and_it_says_so(
    db: AsyncSession,
    org: Org,
    admin: User,
    data: Dataset,
    mailbox: Mailbox,
    settings: Settings,
    receiver: Receiver,
    llm_server: tuple[str, LlmDouble],
) -> None:
    """With an LLM configured (the real ``openai`` client against a local chat-completions
    server): two sentences written from the week's figures, labelled with the model, in the
    email and in chat; the email and the chat post share one call (same figures). When the LLM
    fails, the summary goes without an insight: no rule-written text stands in."""
    url, llm = llm_server
    llm.mode, llm.text = "ok", INSIGHT
    llm.requests.clear()
    with_llm = settings.model_copy(
        update={
            "llm_base_url": url,
            "llm_model": "test-model",
            "llm_api_key": SecretStr("sk-weekly"),
            "egress_allow_hosts": ["127.0.0.1"],
        }
    )
    await make_org_settings(
        db, org, settings=with_llm, slack_webhook=receiver.url("/services/T/B/slack")
    )
    await make_budget(db, org, name="Data GCP monthly", amount="20", account=data.gcp)
    admin_email, org_id = admin.email, org.id
    insights: weekly.InsightCache = {}
    assert await weekly.send_weekly(db, with_llm, org_id, MONDAY, insights=insights) == 1
    assert await chat.post_weekly(db, with_llm, org_id, *weekly.week_before(MONDAY),
                                  insights=insights) == 1  # fmt: skip
    await db.commit()
    await run_jobs(with_llm)

    ((request, auth),) = llm.requests  # one call for both
    assert auth == "Bearer sk-weekly"
    assert request["model"] == "test-model"
    assert "response_format" not in request  # plain text, not JSON mode
    shown = json.loads(request["messages"][1]["content"])
    (usd,) = shown["currencies"]
    assert (usd["currency"], usd["spend"], usd["spend_week_before"]) == ("USD", "20.13", "3.25")
    assert usd["budgets"][0]["standing"] == "Over budget"
    text = text_of(mailbox.to(admin_email)[0]).replace("\r\n", "\n")
    assert (
        "Insight (written by an LLM, test-model, from the figures below; check before acting):\n"
        + INSIGHT
    ) in text
    (post,) = receiver.to("/services/T/B/slack")
    fields = [f["text"] for b in post.body["blocks"] if b.get("fields") for f in b["fields"]]
    assert f"*Insight written by an LLM (test-model)*\n{INSIGHT}" in fields

    # The next week the LLM fails: the summary still goes, without an insight.
    llm.mode = "error"
    assert await weekly.send_weekly(db, with_llm, org_id, date(2024, 9, 23)) == 1
    await db.commit()
    await run_jobs(with_llm)
    assert len(llm.requests) == 2
    later = text_of(mailbox.to(admin_email)[1])
    assert "2024-09-16 to 2024-09-22" in later
    assert "Insight" not in later
