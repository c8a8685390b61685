"""The hub end to end: notify() in a transaction -> delivery rows + jobs -> a real worker loop
-> real SMTP (aiosmtpd) and a local HTTP receiver for Slack/Teams."""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor, make_settings
from tests.factories.cloud_accounts import grant, make_account
from tests.mail import Mailbox, html_of, run_jobs, run_jobs_with_retries, text_of
from tests.webhooks import Receiver
from xplorr.core.email import OutboxMessage, OutboxStatus
from xplorr.core.jobs.models import Job
from xplorr.core.jobs.registry import Lane
from xplorr.core.settings import Settings
from xplorr.notifications import WebhookTarget, notify, render
from xplorr.notifications.events import (
    AnomalyDetected,
    ApprovalNotice,
    BudgetAlert,
    Contributor,
    Notification,
    ProjectedOverrun,
    RecommendationNotice,
    RiSpExpiration,
    ServiceSpend,
    Severity,
    SyncComplete,
    SyncFailed,
    WeeklyDigest,
    Welcome,
)
from xplorr.notifications.hub import WEBHOOK_SOURCES, webhook_source
from xplorr.notifications.models import Channel, DeliveryStatus, NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User, UserStatus


def budget_alert(org: Org, account_id: uuid.UUID | None, pct: int = 80) -> BudgetAlert:
    return BudgetAlert(
        org_id=org.id,
        cloud_account_id=account_id,
        severity=Severity.MEDIUM,
        budget_id=uuid.UUID(int=7),
        budget_name="AWS Production",
        threshold_percent=pct,
        amount=Decimal("5000"),
        current_spend=Decimal("4100.456"),
        percent_used=Decimal("82.0091"),
        currency="USD",
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 31),
    )


async def test_budget_alert_emails_each_eligible_user_once(
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
    member: User,
    viewer: User,
) -> None:
    prod = await make_account(db, org, name="prod")
    other = await make_account(db, org, name="other")
    await grant(db, member, other)  # the member sees only "other"
    created = await notify(db, budget_alert(org, prod.id))
    await db.commit()
    assert len(created) == 2
    again = await notify(db, budget_alert(org, prod.id))  # evaluated twice: nothing new
    await db.commit()
    assert again == []
    await run_jobs(settings)
    got = sorted(m["To"] for m in mailbox.messages)
    assert got == sorted([admin.email, viewer.email])
    msg = mailbox.last_to(admin.email)
    assert msg["Subject"] == "[Xplorr] Budget AWS Production reached 80 %"
    text = text_of(msg)
    for expected in ("$4,100.46", "$5,000.00", "82.0 %"):
        assert expected in text
    assert "http://127.0.0.1:8000/budgets/00000000-0000-0000-0000-000000000007" in text
    assert "$899.54" in text  # left this period
    assert "$4,100.46" in html_of(msg)
    rows = (await db.scalars(select(NotificationDelivery))).all()
    assert {r.status for r in rows} == {DeliveryStatus.SENT}
    await run_jobs(settings)
    assert len(mailbox.messages) == 2


def anomaly(org: Org, account_id: uuid.UUID | None, severity: Severity) -> AnomalyDetected:
    return AnomalyDetected(
        org_id=org.id,
        cloud_account_id=account_id,
        severity=severity,
        anomaly_id=uuid.UUID(int=42),
        scope="service",
        service="AmazonEC2",
        account_name="prod",
        day=date(2026, 11, 30),
        actual=Decimal("750"),
        baseline=Decimal("100"),
        percent_above=Decimal("650"),
        currency="USD",
        top_contributors=(
            Contributor(
                kind="resource", name="i-0abc", actual=Decimal("600"), baseline=Decimal("20")
            ),
        ),
    )


@pytest.fixture
def hook(receiver: Receiver) -> Iterator[WebhookTarget]:
    """A webhook source of this test: the local receiver, as Slack."""

    async def url(
        _db: AsyncSession, _s: Settings, _org: uuid.UUID, _id: uuid.UUID, channel: Channel
    ) -> str | None:
        return receiver.url(f"/services/{channel.value}")

    webhook_source("test_hook")(url)
    yield WebhookTarget(Channel.SLACK, "test_hook", uuid.UUID(int=1))
    WEBHOOK_SOURCES.pop("test_hook")


async def _deliveries(db: AsyncSession) -> list[NotificationDelivery]:
    await db.rollback()
    return list((await db.scalars(select(NotificationDelivery))).all())


class TestTargets:
    async def test_preferences_off_and_deactivated_users_get_nothing(
        self,
        db: AsyncSession,
        client_for: ClientFor,
        org: Org,
        admin: User,
        member: User,
        viewer: User,
    ) -> None:
        r = await client_for(member).patch(
            "/users/notification-preferences", json={"budget_alert": False}
        )
        assert r.status_code == 200
        gone = await db.get_one(User, viewer.id)
        gone.status = UserStatus.DEACTIVATED
        await db.commit()
        await notify(db, budget_alert(org, None))
        await db.commit()
        assert [d.target for d in await _deliveries(db)] == [admin.email]

    async def test_org_wide_events_skip_users_limited_to_some_accounts(
        self, db: AsyncSession, org: Org, admin: User, member: User
    ) -> None:
        await grant(db, member, await make_account(db, org))
        await notify(db, budget_alert(org, None))
        await db.commit()
        assert [d.target for d in await _deliveries(db)] == [admin.email]

    async def test_welcome_goes_to_its_user_only(
        self, db: AsyncSession, org: Org, admin: User, member: User
    ) -> None:
        event = Welcome(org_id=org.id, user_id=member.id, user_name="Mia", org_name="Acme")
        await notify(db, event)
        await db.commit()
        assert [d.target for d in await _deliveries(db)] == [member.email]

    async def test_a_rolled_back_caller_queues_nothing(
        self, db: AsyncSession, org: Org, admin: User
    ) -> None:
        await notify(db, budget_alert(org, None))
        await db.rollback()
        assert await _deliveries(db) == []
        assert (await db.scalars(select(Job))).all() == []


class TestSeverityRules:
    async def test_low_is_email_only_medium_reaches_webhooks(
        self, db: AsyncSession, org: Org, admin: User, hook: WebhookTarget
    ) -> None:
        await notify(db, anomaly(org, None, Severity.LOW), targets=[hook])
        await db.commit()
        assert [d.channel for d in await _deliveries(db)] == [Channel.EMAIL]
        await notify(db, anomaly(org, None, Severity.MEDIUM), targets=[hook])
        await db.commit()
        channels = sorted(d.channel.value for d in await _deliveries(db))
        assert channels == ["email", "email", "slack"]  # the escalation is a new occurrence

    async def test_critical_goes_in_the_interactive_lane(
        self, db: AsyncSession, org: Org, admin: User, hook: WebhookTarget
    ) -> None:
        await notify(db, anomaly(org, None, Severity.CRITICAL), targets=[hook])
        await db.commit()
        lanes = {j.lane for j in (await db.scalars(select(Job))).all()}
        assert lanes == {int(Lane.INTERACTIVE)}

    async def test_types_meant_for_email_only_never_reach_webhooks(
        self, db: AsyncSession, org: Org, admin: User, hook: WebhookTarget
    ) -> None:
        event = Welcome(org_id=org.id, user_id=admin.id, user_name="Ada", org_name="Acme")
        await notify(db, event, targets=[hook])
        await db.commit()
        assert [d.channel for d in await _deliveries(db)] == [Channel.EMAIL]


class TestDelivery:
    async def test_anomaly_email_and_slack_carry_the_numbers(
        self,
        db: AsyncSession,
        settings: Settings,
        mailbox: Mailbox,
        org: Org,
        admin: User,
        hook: WebhookTarget,
        receiver: Receiver,
    ) -> None:
        await notify(db, anomaly(org, None, Severity.CRITICAL), targets=[hook])
        await db.commit()
        await run_jobs(settings)
        text = text_of(mailbox.last_to(admin.email))
        for expected in ("$750.00", "$100.00", "650.0 %", "i-0abc", "$580.00", "critical"):
            assert expected in text
        assert "http://127.0.0.1:8000/anomalies/00000000-0000-0000-0000-00000000002a" in text
        (post,) = receiver.to("/services/slack")
        assert post.body["blocks"][1]["text"]["text"].startswith(":red_circle:")
        assert "$750.00" in post.body["text"]

    async def test_smtp_failing_twice_delivers_on_the_third_try(
        self, db: AsyncSession, settings: Settings, mailbox: Mailbox, org: Org, admin: User
    ) -> None:
        mailbox.fail_next = 2
        await notify(db, budget_alert(org, None))
        await db.commit()
        await run_jobs_with_retries(settings)
        assert len(mailbox.to(admin.email)) == 1
        (row,) = await _deliveries(db)
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 3)

    async def test_without_smtp_the_email_is_held_in_the_outbox(
        self, db: AsyncSession, db_url: str, tmp_path: Path, org: Org, admin: User
    ) -> None:
        settings = make_settings(db_url, tmp_path)
        await notify(db, budget_alert(org, None))
        await db.commit()
        await run_jobs(settings)
        (row,) = await _deliveries(db)
        assert row.status == DeliveryStatus.HELD
        held = await db.scalar(select(OutboxMessage))
        assert held is not None
        assert (held.to_address, held.status) == (admin.email, OutboxStatus.HELD)
        assert "$4,100.46" in held.text_body


SAMPLE_EVENTS = [
    budget_alert(Org(id=uuid.UUID(int=1), name="x", slug="x"), None),
    ProjectedOverrun(
        org_id=uuid.UUID(int=1),
        budget_id=uuid.UUID(int=2),
        budget_name="Prod",
        amount=Decimal("1000"),
        current_spend=Decimal("600"),
        forecast=Decimal("1250.5"),
        forecast_low=Decimal("1100"),
        forecast_high=Decimal("1400"),
        currency="EUR",
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 31),
    ),
    SyncFailed(
        org_id=uuid.UUID(int=1),
        cloud_account_id=uuid.UUID(int=3),
        run_id=uuid.UUID(int=4),
        account_name="prod <script>",
        provider="aws",
        error="AccessDenied",
        failed_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
    ),
    SyncComplete(
        org_id=uuid.UUID(int=1),
        cloud_account_id=uuid.UUID(int=3),
        run_id=uuid.UUID(int=4),
        account_name="prod",
        provider="aws",
        rows=120,
        data_through=date(2026, 12, 2),
        finished_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
    ),
    WeeklyDigest(
        org_id=uuid.UUID(int=1),
        week_start=date(2026, 11, 23),
        week_end=date(2026, 11, 29),
        currency="JPY",
        total=Decimal("123456.7"),
        previous_total=Decimal("100000"),
        top_services=(ServiceSpend(service="Compute", amount=Decimal("50000")),),
    ),
    RiSpExpiration(
        org_id=uuid.UUID(int=1),
        commitment_id="ri-1",
        commitment_type="reserved_instance",
        description="m5.large x4",
        expires_on=date(2027, 1, 2),
        days_left=30,
        monthly_cost=Decimal("300"),
        currency="USD",
    ),
    RecommendationNotice(
        org_id=uuid.UUID(int=1),
        recommendation_id=uuid.UUID(int=5),
        title="Stop idle i-1",
        monthly_savings=Decimal("42"),
        currency="USD",
    ),
    ApprovalNotice(
        org_id=uuid.UUID(int=1),
        approval_id=uuid.UUID(int=6),
        status="requested",
        action="stop_idle_instance",
        requested_by="ann@example.com",
    ),
]


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.type.value)
def test_every_event_renders_for_every_channel(event: object, settings: Settings) -> None:
    assert isinstance(event, Notification)
    subject, text, html = render.email(event, settings)
    assert subject.startswith("[Xplorr] ")
    assert "http://127.0.0.1:8000/" in text
    assert "<script>" not in html
    blocks = render.slack(event, settings)["blocks"]
    assert blocks[0]["type"] == "header"
    assert render.teams(event, settings)["attachments"][0]["content"]["type"] == "AdaptiveCard"


def test_amounts_follow_their_currency() -> None:
    assert render.fmt_money(Decimal("123456.7"), "JPY") == "¥123,457"
    assert render.fmt_money(Decimal("1250.5"), "EUR") == "€1,250.50"
    assert (
        render.fmt_money(Decimal("1.2345"), "KWD") == "KWD1.235"
    )  # babel (CLDR en_US) writes no space


class TestListDeliveries:
    async def test_members_see_their_own_admins_the_orgs(
        self,
        db: AsyncSession,
        client_for: ClientFor,
        org: Org,
        other_org: Org,
        admin: User,
        member: User,
        other_admin: User,
    ) -> None:
        await notify(db, budget_alert(org, None))
        await notify(db, budget_alert(other_org, None))
        await db.commit()
        mine = (await client_for(member).get("/notifications")).json()
        assert [d["target"] for d in mine["data"]] == [member.email]
        assert mine["data"][0]["status"] == "pending"
        everyone = (await client_for(admin).get("/notifications")).json()
        assert sorted(d["target"] for d in everyone["data"]) == sorted([admin.email, member.email])
        theirs = (await client_for(other_admin).get("/notifications")).json()
        assert [d["target"] for d in theirs["data"]] == [other_admin.email]
        sent = await client_for(admin).get("/notifications", params={"status": "sent"})
        assert sent.json()["total"] == 0
        bad = await client_for(admin).get("/notifications", params={"status": "lost"})
        assert bad.status_code == 422


async def test_a_user_deactivated_or_limited_after_queueing_is_skipped(
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
    member: User,
    viewer: User,
) -> None:
    prod = await make_account(db, org)
    await notify(db, budget_alert(org, prod.id))
    await db.commit()
    gone = await db.get_one(User, viewer.id)
    gone.status = UserStatus.DEACTIVATED
    await db.commit()
    await grant(db, member, await make_account(db, org))  # no longer sees prod
    await run_jobs(settings)
    assert [m["To"] for m in mailbox.messages] == [admin.email]
    statuses = {d.target: d.status for d in await _deliveries(db)}
    assert statuses[viewer.email] == statuses[member.email] == DeliveryStatus.SKIPPED
