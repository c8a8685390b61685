"""Alert rules evaluated for real: cost rows through the cost store, the evaluation jobs (on
create, after a cost change, per org) run by a real worker loop, email through aiosmtpd and
Slack/Teams posts to a local HTTP receiver; a rule fires once per day or month."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.alerts import costs_through, make_alert_rule
from tests.factories.cloud_accounts import make_account
from tests.mail import Mailbox, html_of, run_jobs, run_jobs_with_retries, text_of
from tests.webhooks import Receiver
from xplorr.alerts import service
from xplorr.alerts.models import AlertMetric, AlertRule, AlertTrigger, ConditionOp
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import events
from xplorr.core.audit import AuditEntry
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.settings import Settings
from xplorr.costs.events import CostDataChanged
from xplorr.notifications.models import Channel, DeliveryStatus, NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User

DAY = date(2026, 11, 20)


def daily(start: date, amounts: list[str], **extra: object) -> list[dict[str, object]]:
    return [
        {"usage_date": start + timedelta(days=i), "billed_cost": amount, **extra}
        for i, amount in enumerate(amounts)
    ]


async def _rule(client_for: ClientFor, admin: User, receiver: Receiver, **body: object) -> dict:
    payload = {
        "name": "Daily EC2 > $500",
        "metric": "daily_spend",
        "conditionOp": ">",
        "threshold": 500,
        "currency": "USD",
        "notifyEmails": ["finops@example.com", "cfo@example.com"],
        "serviceFilter": "AmazonEC2",
        "slackWebhookUrl": receiver.url("/services/T1/B1/slack"),
        "teamsWebhookUrl": receiver.url("/workflows/teams"),
        **body,
    }
    r = await client_for(admin).post("/alerts", json=payload)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _emit_change(settings: Settings, account: CloudAccount, first: date, last: date) -> None:
    engine = make_engine(settings.db_url)
    async with make_sessionmaker(engine)() as db:
        await events.emit(
            db,
            CostDataChanged(
                org_id=account.org_id, cloud_account_id=account.id, first_day=first, last_day=last
            ),
        )
        await db.commit()
    await engine.dispose()


class TestDailySpend:
    async def test_fires_once_to_every_target_and_never_twice(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        mailbox: Mailbox,
        receiver: Receiver,
    ) -> None:
        account = await make_account(db, org, name="prod")
        through = await costs_through(db, account, daily(DAY, ["400", "420", "612.345"]))
        await costs_through(db, account, daily(DAY, ["900", "900", "900"], service_name="AmazonS3"))
        created = await _rule(client_for, admin, receiver, cloudAccountId=str(account.id))
        await run_jobs(settings)  # the evaluation queued on create, then its deliveries

        assert sorted(m["To"] for m in mailbox.messages) == [
            "cfo@example.com",
            "finops@example.com",
        ]
        msg = mailbox.last_to("finops@example.com")
        assert msg["Subject"] == "[Xplorr] Alert: Daily EC2 > $500"
        text = text_of(msg)
        assert "$612.35" in text  # EC2 only: S3's 900 is filtered out; rounded to cents
        assert "> $500.00" in text
        assert through.isoformat() in text
        assert f"http://127.0.0.1:8000/alerts/{created['id']}" in text
        assert "$612.35" in html_of(msg)

        slack = receiver.to("/services/T1/B1/slack")
        assert len(slack) == 1
        blocks = slack[0].body["blocks"]
        assert blocks[0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": "Alert: Daily EC2 > $500"},
        }
        assert "$612.35" in slack[0].body["text"]
        assert any(b["type"] == "actions" for b in blocks)
        assert slack[0].headers["Host"] == f"127.0.0.1:{receiver.port}"

        teams = receiver.to("/workflows/teams")
        assert len(teams) == 1
        attachment = teams[0].body["attachments"][0]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard"
        facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
        assert facts["Value"] == "$612.35"

        rule = (await client_for(admin).get(f"/alerts/{created['id']}")).json()
        assert rule["lastTriggeredAt"] is not None
        assert rule["recentTriggers"] == [
            {
                "windowStart": through.isoformat(),
                "windowEnd": through.isoformat(),
                "value": 612.35,
                "threshold": 500,
                "currency": "USD",
                "triggeredAt": rule["recentTriggers"][0]["triggeredAt"],
            }
        ]

        # The same data again (a re-sync), and the hourly evaluation: nothing new is sent.
        await _emit_change(settings, account, DAY, through)
        await run_jobs(settings)
        engine = make_engine(settings.db_url)
        async with make_sessionmaker(engine)() as s:
            await queue.enqueue(s, "alerts.evaluate_org", {}, org_id=org.id)
            await s.commit()
        await engine.dispose()
        await run_jobs(settings)
        assert len(mailbox.messages) == 2
        assert len(receiver.posts) == 2
        assert len((await db.scalars(select(AlertTrigger))).all()) == 1

    async def test_a_cost_change_evaluates_the_changed_days_of_the_last_week(
        self,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        mailbox: Mailbox,
    ) -> None:
        account = await make_account(db, org)
        rule = await make_alert_rule(db, org, threshold=Decimal("100"), emails=["ops@example.com"])
        amounts = ["50", "150", "60", "170", "80"]
        through = await costs_through(db, account, daily(DAY, amounts))
        await _emit_change(settings, account, DAY, through)
        await run_jobs(settings)
        fired = sorted(t.window_start for t in (await db.scalars(select(AlertTrigger))).all())
        assert fired == [DAY + timedelta(days=1), DAY + timedelta(days=3)]
        assert len(mailbox.to("ops@example.com")) == 2
        await db.refresh(rule)
        assert rule.last_triggered_at is not None

    async def test_other_currencies_are_never_added(
        self, org: Org, db: AsyncSession, settings: Settings, mailbox: Mailbox
    ) -> None:
        account = await make_account(db, org)
        through = await costs_through(
            db, account, [*daily(DAY, ["90"]), *daily(DAY, ["5000"], currency="EUR")]
        )
        rule = await make_alert_rule(db, org, threshold=Decimal("100"))
        assert await service.evaluate_rule(db, rule) == 0
        await db.commit()
        eur = await make_alert_rule(db, org, threshold=Decimal("100"), currency="EUR")
        assert await service.evaluate_rule(db, eur) == 1
        await db.commit()
        assert through == DAY


class TestPeriodRules:
    async def test_monthly_spend_fires_once_per_month(
        self, org: Org, db: AsyncSession, settings: Settings, mailbox: Mailbox
    ) -> None:
        account = await make_account(db, org)
        await costs_through(db, account, daily(date(2026, 11, 1), ["100"] * 10))
        rule = await make_alert_rule(
            db, org, metric=AlertMetric.MONTHLY_SPEND, op=ConditionOp.GE, threshold=Decimal("1000")
        )
        assert await service.evaluate_rule(db, rule) == 1
        assert await service.evaluate_rule(db, rule) == 0  # same month
        await db.commit()
        trigger = await db.scalar(select(AlertTrigger))
        assert trigger is not None
        assert (trigger.window_start, trigger.window_end) == (date(2026, 11, 1), date(2026, 11, 30))
        assert trigger.value == Decimal("1000")
        await run_jobs(settings)
        assert "Month-to-date spend" in text_of(mailbox.last_to("finops@example.com"))

    async def test_forecast_rule_uses_the_month_forecast(
        self, org: Org, db: AsyncSession, settings: Settings
    ) -> None:
        account = await make_account(db, org)
        await costs_through(db, account, daily(date(2026, 10, 20), ["100"] * 31))  # to Nov 19
        above = await make_alert_rule(
            db, org, metric=AlertMetric.FORECAST, threshold=Decimal("2500")
        )
        below = await make_alert_rule(
            db, org, metric=AlertMetric.FORECAST, threshold=Decimal("3500")
        )
        assert await service.evaluate_rule(db, above) == 1  # ~3000 for November
        assert await service.evaluate_rule(db, below) == 0
        await db.commit()
        trigger = await db.scalar(select(AlertTrigger).where(AlertTrigger.rule_id == above.id))
        assert trigger is not None
        assert trigger.value == Decimal("3000")


class TestDelivery:
    async def test_a_receiver_failing_twice_gets_it_on_the_third_try(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        receiver: Receiver,
    ) -> None:
        account = await make_account(db, org)
        await costs_through(db, account, daily(DAY, ["900"]))
        receiver.fail_next(2, 503)
        await _rule(client_for, admin, receiver, notifyEmails=[], teamsWebhookUrl=None)
        await run_jobs_with_retries(settings)
        assert len(receiver.to("/services/T1/B1/slack")) == 1
        row = await db.scalar(
            select(NotificationDelivery).where(NotificationDelivery.channel == Channel.SLACK)
        )
        assert row is not None
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 3)

    async def test_a_4xx_fails_at_once_and_is_audited(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        receiver: Receiver,
    ) -> None:
        account = await make_account(db, org)
        await costs_through(db, account, daily(DAY, ["900"]))
        receiver.fail_next(1, 404)
        await _rule(client_for, admin, receiver, notifyEmails=[], teamsWebhookUrl=None)
        await run_jobs_with_retries(settings)
        assert receiver.posts == []
        row = await db.scalar(select(NotificationDelivery))
        assert row is not None
        assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 1)
        assert row.last_error is not None
        assert "HTTP 404" in row.last_error
        entry = await db.scalar(
            select(AuditEntry).where(AuditEntry.action == "notification.delivery_failed")
        )
        assert entry is not None
        assert entry.org_id == org.id
        assert entry.details["channel"] == "slack"
        assert "/services/" not in str(entry.details)  # the webhook URL is a secret

    async def test_a_redirect_is_not_followed(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        receiver: Receiver,
    ) -> None:
        account = await make_account(db, org)
        await costs_through(db, account, daily(DAY, ["900"]))
        receiver.fail_next(1, 302)  # Location: the metadata address
        await _rule(client_for, admin, receiver, notifyEmails=[], teamsWebhookUrl=None)
        await run_jobs_with_retries(settings)
        row = await db.scalar(select(NotificationDelivery))
        assert row is not None
        assert row.status == DeliveryStatus.FAILED
        assert "HTTP 302" in (row.last_error or "")

    async def test_a_deleted_rule_skips_its_queued_webhook(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        receiver: Receiver,
    ) -> None:
        account = await make_account(db, org)
        await costs_through(db, account, daily(DAY, ["900"]))
        created = await _rule(client_for, admin, receiver, notifyEmails=[], teamsWebhookUrl=None)
        rule = await db.get_one(AlertRule, uuid.UUID(created["id"]))
        assert await service.evaluate_rule(db, rule) == 1
        await db.commit()
        assert (await client_for(admin).delete(f"/alerts/{created['id']}")).status_code == 204
        await run_jobs(settings)
        assert receiver.posts == []
        statuses = {r.status for r in (await db.scalars(select(NotificationDelivery))).all()}
        assert statuses == {DeliveryStatus.SKIPPED}
