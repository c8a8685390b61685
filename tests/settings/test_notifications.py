"""The org's webhooks as the hub's fallback chat target (section 25), end to end: notify() ->
delivery rows -> a real worker -> the local receiver speaking Slack's and Teams' webhook
answers; and the org's settings read by the other areas (default currency)."""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.factories.settings import make_org_settings
from tests.mail import load_job_modules, run_jobs
from tests.webhooks import Receiver
from xplorr.core.settings import Settings
from xplorr.core.tenancy import org_scope
from xplorr.costs import service as costs_service
from xplorr.notifications import notify
from xplorr.notifications.events import (
    AnomalyDetected,
    BudgetAlert,
    Notification,
    Severity,
    SyncComplete,
)
from xplorr.notifications.hub import CHANNEL_ROUTING, channel_routing
from xplorr.notifications.models import Channel, DeliveryStatus, NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.settings.service import WEBHOOK_SOURCE


def anomaly(org_id: uuid.UUID, severity: Severity) -> AnomalyDetected:
    return AnomalyDetected(
        org_id=org_id,
        severity=severity,
        anomaly_id=uuid.uuid4(),
        scope="org",
        day=date(2026, 11, 30),
        actual=Decimal("750"),
        baseline=Decimal("100"),
        percent_above=Decimal("650"),
        currency="USD",
    )


def budget(org_id: uuid.UUID) -> BudgetAlert:
    return BudgetAlert(
        org_id=org_id,
        budget_id=uuid.UUID(int=7),
        budget_name="AWS Production",
        threshold_percent=80,
        amount=Decimal("5000"),
        current_spend=Decimal("4100.456"),
        percent_used=Decimal("82.0091"),
        currency="USD",
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 31),
    )


def sync_complete(org_id: uuid.UUID) -> SyncComplete:
    return SyncComplete(
        org_id=org_id,
        severity=Severity.MEDIUM,
        run_id=uuid.uuid4(),
        account_name="prod",
        provider="aws",
        rows=10,
        finished_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


@pytest.fixture
def with_channels() -> Iterator[set[uuid.UUID]]:
    """A channel-routing check of this test: the orgs in the set have channels."""
    load_job_modules()
    orgs: set[uuid.UUID] = set()

    async def has_channels(_db: AsyncSession, org_id: uuid.UUID) -> bool:
        return org_id in orgs

    channel_routing("test_channels")(has_channels)
    yield orgs
    CHANNEL_ROUTING.pop("test_channels")


async def _webhook_deliveries(db: AsyncSession, event: Notification) -> list[NotificationDelivery]:
    await notify(db, event)
    await db.commit()
    rows = await db.scalars(
        select(NotificationDelivery).where(
            NotificationDelivery.org_id == event.org_id,
            NotificationDelivery.event_key == event.event_key,
            NotificationDelivery.channel != Channel.EMAIL,
        )
    )
    return sorted(rows.all(), key=lambda d: d.channel.value)


async def test_the_org_webhooks_get_what_section_25_sends_unless_channels_exist(
    db: AsyncSession,
    org: Org,
    other_org: Org,
    settings: Settings,
    receiver: Receiver,
    with_channels: set[uuid.UUID],
) -> None:
    org_id = org.id
    await make_org_settings(
        db,
        org,
        settings=settings,
        slack_webhook=receiver.url("/services/org/slack"),
        teams_webhook=receiver.url("/workflows/org/teams"),
    )
    sent = await _webhook_deliveries(db, budget(org_id))
    assert [(d.channel, d.target) for d in sent] == [
        (Channel.SLACK, f"{WEBHOOK_SOURCE}:{org.id}"),
        (Channel.TEAMS, f"{WEBHOOK_SOURCE}:{org.id}"),
    ]
    assert await _webhook_deliveries(db, anomaly(org_id, Severity.HIGH)) != []
    # Low severity is email-only; a type section 25 does not send to the webhook gets nothing.
    assert await _webhook_deliveries(db, anomaly(org_id, Severity.LOW)) == []
    assert await _webhook_deliveries(db, sync_complete(org_id)) == []
    # Another org without webhooks gets none.
    assert await _webhook_deliveries(db, budget(other_org.id)) == []

    await run_jobs(settings)
    slack, _anomaly = sorted(receiver.to("/services/org/slack"), key=lambda p: p.body["text"])
    teams, _anomaly = receiver.to("/workflows/org/teams")
    assert "AWS Production" in slack.body["text"]
    assert slack.body["blocks"][0]["type"] == "header"
    card = teams.body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    await db.rollback()
    statuses = {
        d.status
        for d in (
            await db.scalars(
                select(NotificationDelivery).where(NotificationDelivery.channel != Channel.EMAIL)
            )
        ).all()
    }
    assert statuses == {DeliveryStatus.SENT}

    # Channels configured: the org webhook is no longer the fallback.
    with_channels.add(org_id)
    assert await _webhook_deliveries(db, anomaly(org_id, Severity.CRITICAL)) == []


async def test_a_webhook_cleared_before_sending_is_skipped(
    db: AsyncSession, org: Org, settings: Settings, receiver: Receiver
) -> None:
    load_job_modules()
    org_id = org.id
    row = await make_org_settings(
        db, org, settings=settings, slack_webhook=receiver.url("/services/org/slack")
    )
    (delivery,) = await _webhook_deliveries(db, budget(org_id))
    row = await db.get_one(type(row), row.id)
    row.slack_webhook_encrypted = None
    row.slack_key_version = None
    await db.commit()
    await run_jobs(settings)
    await db.rollback()
    got = await db.get_one(NotificationDelivery, delivery.id, populate_existing=True)
    assert got.status == DeliveryStatus.SKIPPED, (got.attempts, got.last_error)
    assert receiver.posts == []


async def test_default_currency_setting_comes_before_the_billing_currency(
    db: AsyncSession, org: Org
) -> None:
    account = await make_account(db, org)
    await add_costs(db, account, [{"usage_date": "2026-11-01", "billed_cost": "10"}])
    who = org_scope(org.id)
    assert await costs_service.default_currency(db, who) == "USD"
    await make_org_settings(db, org, default_currency="EUR")
    assert await costs_service.default_currency(db, who) == "EUR"
