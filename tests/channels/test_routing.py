"""Channel routing: the rules as a table, tag scopes read from each event's own tags (an
anomaly's cost data, a budget's tag filter, a recommendation's resource), and one routed anomaly
posted by the bot end to end."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.budgets import make_budget
from tests.factories.channels import make_channel, make_slack_install
from tests.factories.cloud_accounts import _test_settings, make_account
from tests.factories.costs import add_costs
from tests.factories.inventory import make_resource
from tests.factories.recommendations import make_recommendation
from tests.mail import run_jobs
from tests.slack.fake_slack import FakeSlack
from xplorr.channels import routing
from xplorr.channels.models import ScopeType
from xplorr.core.crypto import OrgCipher
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings
from xplorr.notifications import hub
from xplorr.notifications.events import (
    AlertTriggered,
    AnomalyDetected,
    ApprovalNotice,
    BudgetAlert,
    Notification,
    ProjectedOverrun,
    RecommendationNotice,
    Severity,
    SyncComplete,
    WeeklyDigest,
    WeeklySummary,
)
from xplorr.notifications.models import DeliveryStatus, NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.slack.models import INCOMING_WEBHOOK

ORG = uuid.uuid4()
ACCOUNT = uuid.uuid4()
OTHER = uuid.uuid4()


@dataclass
class Ch:
    name: str
    scope_type: ScopeType = ScopeType.ALL
    scope_values: list[str] = field(default_factory=list)
    notify: dict[str, bool] = field(default_factory=dict)
    is_default: bool = False


def anomaly(severity: Severity = Severity.HIGH, account: uuid.UUID | None = ACCOUNT,
            service: str | None = "AmazonEC2") -> AnomalyDetected:  # fmt: skip
    return AnomalyDetected(
        org_id=ORG, cloud_account_id=account, severity=severity, anomaly_id=uuid.uuid4(),
        scope="service", service=service, day=date(2026, 11, 30), actual=Decimal(300),
        baseline=Decimal(100), percent_above=Decimal(200), currency="USD",
    )  # fmt: skip


def rec() -> RecommendationNotice:
    return RecommendationNotice(org_id=ORG, recommendation_id=uuid.uuid4(), title="Rightsize",
                                monthly_savings=Decimal(40), currency="USD")  # fmt: skip


def digest() -> WeeklyDigest:
    return WeeklyDigest(org_id=ORG, week_start=date(2026, 11, 23), week_end=date(2026, 11, 29),
                        currency="USD", total=Decimal(1000))  # fmt: skip


def weekly() -> WeeklySummary:
    return WeeklySummary(org_id=ORG, week_start=date(2026, 11, 23), week_end=date(2026, 11, 29),
                         currency="USD", total=Decimal(1000))  # fmt: skip


def budget() -> BudgetAlert:
    return BudgetAlert(
        org_id=ORG, budget_id=uuid.uuid4(), budget_name="Prod", threshold_percent=80,
        amount=Decimal(100), current_spend=Decimal(81), percent_used=Decimal(81),
        currency="USD", period_start=date(2026, 11, 1), period_end=date(2026, 11, 30),
    )  # fmt: skip


DATA_TAG = Ch("data", ScopeType.TAGS, ["team:data"], {"anomalies": True, "budgets": False})
DATA_BUDGETS = Ch("data-budgets", ScopeType.TAGS, ["team:data"])
ACCOUNTS = Ch("acct", ScopeType.ACCOUNTS, [str(ACCOUNT)])
SERVICES = Ch("ec2", ScopeType.SERVICES, ["Amazon Elastic Compute Cloud"])
DEFAULT = Ch("default", is_default=True)
QUIET_DEFAULT = Ch("quiet", is_default=True, notify={"anomalies": False})
ALL_NO_RECS = Ch("all", notify={"recommendations": False})

TAGGED = routing.Facts(ACCOUNT, "AmazonEC2", frozenset({"team:data"}))
UNTAGGED = routing.Facts(ACCOUNT, "AmazonEC2")
ELSEWHERE = routing.Facts(OTHER, "AmazonS3")
ORG_WIDE = routing.Facts(None, None)

# (case, event, channels, facts, channels that get it)
CASES: list[tuple[str, Notification, list[Ch], routing.Facts, list[str]]] = [
    ("tag scope matches", anomaly(), [DATA_TAG, DEFAULT], TAGGED, ["data"]),
    ("unmatched goes to the default", anomaly(), [DATA_TAG, DEFAULT], UNTAGGED, ["default"]),
    ("toggle off: default takes it", budget(), [DATA_TAG, DEFAULT], TAGGED, ["default"]),
    ("a tagged budget", budget(), [DATA_BUDGETS, DEFAULT], TAGGED, ["data-budgets"]),
    ("an event without tags: never a tag scope", rec(), [DATA_BUDGETS, DEFAULT], ORG_WIDE,
     ["default"]),
    ("default's own toggle off", anomaly(), [DATA_TAG, QUIET_DEFAULT], UNTAGGED, []),
    ("every matching channel", anomaly(), [ACCOUNTS, SERVICES, DATA_TAG, DEFAULT], TAGGED,
     ["acct", "ec2", "data"]),
    ("service by any spelling", anomaly(), [SERVICES], UNTAGGED, ["ec2"]),
    ("other account and service", anomaly(), [ACCOUNTS, SERVICES, DEFAULT], ELSEWHERE,
     ["default"]),
    ("org-wide event: no account scope", anomaly(account=None, service=None), [ACCOUNTS],
     ORG_WIDE, []),
    ("all scope", digest(), [ALL_NO_RECS, DEFAULT], ORG_WIDE, ["all"]),
    ("all scope, toggle off", rec(), [ALL_NO_RECS, DEFAULT], ORG_WIDE, ["default"]),
    ("low anomalies stay off channels", anomaly(Severity.LOW), [ALL_NO_RECS, DEFAULT],
     UNTAGGED, []),
    ("low recommendations reach them", rec(), [DEFAULT], ORG_WIDE, ["default"]),
    ("approvals follow recommendations", ApprovalNotice(
        org_id=ORG, approval_id=uuid.uuid4(), status="requested", action="Apply",
        requested_by="a@x"), [ALL_NO_RECS, DEFAULT], ORG_WIDE, ["default"]),
    ("types without a toggle never", SyncComplete(
        org_id=ORG, run_id=uuid.uuid4(), account_name="a", provider="aws", rows=1,
        finished_at="2026-11-30T00:00:00Z"), [DEFAULT], ORG_WIDE, []),
    ("no default, nothing matched", anomaly(), [DATA_TAG], UNTAGGED, []),
    ("weekly summary: every digest-enabled channel", weekly(),
     [ACCOUNTS, DATA_TAG, Ch("no digest", notify={"digest": False}), DEFAULT], ORG_WIDE,
     ["acct", "data", "default"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "channels", "facts", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_routing_rules(
    event: Notification, channels: list[Ch], facts: routing.Facts, expected: list[str]
) -> None:
    assert [c.name for c in routing.route(event, channels, facts)] == expected


async def test_tag_scope_reads_the_anomaly_days_cost(db: AsyncSession, org: Org) -> None:
    account = await make_account(db, org)
    day = date(2026, 11, 30)
    await add_costs(db, account, [
        {"usage_date": day, "billed_cost": "120", "service_name": "AmazonEC2",
         "tags": {"team": "data"}},
        {"usage_date": day, "billed_cost": "50", "service_name": "AmazonS3",
         "tags": {"team": "web"}},
    ])  # fmt: skip
    tags = {"team:data", "team:web", "team:ops"}

    async def found(service: str | None, account_id: uuid.UUID | None) -> set[str]:
        event = AnomalyDetected(
            org_id=org.id, cloud_account_id=account_id, anomaly_id=uuid.uuid4(), scope="service",
            service=service, day=day, actual=Decimal(1), baseline=Decimal(1),
            percent_above=Decimal(0), currency="USD",
        )  # fmt: skip
        return set((await routing.facts_of(db, event, tags)).tags)

    assert await found("AmazonEC2", account.id) == {"team:data"}
    assert await found("Amazon Elastic Compute Cloud", account.id) == {"team:data"}
    assert await found(None, account.id) == {"team:data", "team:web"}
    assert await found(None, None) == {"team:data", "team:web"}
    assert await found("AmazonS3", uuid.uuid4()) == set()


async def test_tag_scope_reads_each_events_own_tags(db: AsyncSession, org: Org) -> None:
    """A budget's events carry its tag filter (and service); a recommendation's, and its
    approval's, the tags the inventory holds for its resource in its own account; an alert
    rule has no tag filter. Then the hub routes a tagged budget alert to the tag channel."""
    load_job_modules()
    account, other_account = await make_account(db, org), await make_account(db, org)
    await make_resource(db, account, "i-data", tags={"team": "data", "env": "prod"})
    await make_resource(db, other_account, "i-web", tags={"team": "web"})
    on_data = await make_recommendation(db, account, resource_id="i-data")
    not_here = await make_recommendation(db, account, resource_id="i-web")  # other account's
    tagged = await make_budget(db, org, tag=("team", "data"), service="AmazonEC2")
    plain = await make_budget(db, org)
    tags = {"team:data", "team:web", "env:prod"}

    async def found(event: Notification) -> tuple[str | None, set[str]]:
        facts = await routing.facts_of(db, event, tags)
        return facts.service, set(facts.tags)

    def alert_of(b_id: uuid.UUID) -> BudgetAlert:
        return budget().model_copy(update={"org_id": org.id, "budget_id": b_id})

    def notice(rec_id: uuid.UUID) -> RecommendationNotice:
        return rec().model_copy(update={"org_id": org.id, "recommendation_id": rec_id})

    overrun = ProjectedOverrun(
        org_id=org.id, budget_id=plain.id, budget_name="All", amount=Decimal(100),
        current_spend=Decimal(90), forecast=Decimal(130), currency="USD",
        period_start=date(2026, 11, 1), period_end=date(2026, 11, 30),
    )  # fmt: skip
    approval = ApprovalNotice(
        org_id=org.id, approval_id=uuid.uuid4(), status="requested", action="Apply",
        requested_by="a@x", recommendation_id=on_data.id,
    )  # fmt: skip
    alert = AlertTriggered(
        org_id=org.id, rule_id=uuid.uuid4(), rule_name="S3", metric="daily_spend",
        condition_op=">", threshold=Decimal(1), value=Decimal(2), currency="USD",
        window_start=date(2026, 11, 30), window_end=date(2026, 11, 30), service_filter="AmazonS3",
    )  # fmt: skip
    assert await found(alert_of(tagged.id)) == ("AmazonEC2", {"team:data"})
    assert await found(overrun) == (None, set())
    assert await found(notice(on_data.id)) == (None, {"team:data", "env:prod"})
    assert await found(approval) == (None, {"team:data", "env:prod"})
    assert await found(notice(not_here.id)) == (None, set())
    assert await found(alert) == ("AmazonS3", set())

    data = await make_channel(db, org, channel_id="CDATA", scope_type=ScopeType.TAGS,
                              scope_values=["team:data"])  # fmt: skip
    default = await make_channel(db, org, channel_id="CDEFAULT", is_default=True)
    for event, expected in ((alert_of(tagged.id), data), (alert_of(plain.id), default)):
        targets = await hub.resolve_targets(db, event)
        assert [t.key for t in targets if isinstance(t, hub.WebhookTarget)] == [
            f"chat_channel:{expected.id}"
        ]


async def test_a_routed_anomaly_is_posted_by_the_bot_with_its_buttons(
    db: AsyncSession, org: Org, slack: FakeSlack, settings: Settings
) -> None:
    load_job_modules()  # the areas' registrations with the hub (an app or worker does this)
    token = "xoxb-T001-routed"
    slack.tokens[token] = "T001"
    await make_slack_install(db, org, token=token)
    account = await make_account(db, org)
    day = date(2026, 11, 30)
    row = {"usage_date": day, "billed_cost": "300", "service_name": "AmazonEC2",
           "tags": {"team": "data"}}  # fmt: skip
    await add_costs(db, account, [row])
    data = await make_channel(db, org, channel_id="CDATA", scope_type=ScopeType.TAGS,
                              scope_values=["team:data"])  # fmt: skip
    default = await make_channel(db, org, channel_id="CDEFAULT", is_default=True)

    tagged = anomaly().model_copy(update={"org_id": org.id, "cloud_account_id": account.id})
    other = anomaly(service="AmazonS3").model_copy(
        update={"org_id": org.id, "cloud_account_id": account.id}
    )
    await hub.notify(db, tagged)
    await hub.notify(db, other)
    await hub.notify(db, tagged)  # the same occurrence again: nothing new
    await db.commit()
    rows = (
        await db.scalars(
            select(NotificationDelivery).where(NotificationDelivery.target.like("chat_channel:%"))
        )
    ).all()
    assert sorted(r.target for r in rows) == sorted(
        [f"chat_channel:{data.id}", f"chat_channel:{default.id}"]
    )

    await run_jobs(settings)
    posts = slack.of("chat.postMessage")
    assert sorted(p.args["channel"] for p in posts) == ["CDATA", "CDEFAULT"]
    post = next(p for p in posts if p.args["channel"] == "CDATA")
    assert post.token == token
    buttons = [e for b in post.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["text"]["text"], b.get("value")) for b in buttons] == [
        ("Acknowledge", str(tagged.anomaly_id)),
        ("Details", None),
    ]
    db.expunge_all()
    await db.rollback()  # read what the worker committed
    statuses = {r.status for r in (await db.scalars(select(NotificationDelivery))).all()
                if r.target.startswith("chat_channel:")}  # fmt: skip
    assert statuses == {DeliveryStatus.SENT}


async def test_without_channels_the_install_webhook_is_the_fallback(
    db: AsyncSession, org: Org
) -> None:
    load_job_modules()
    install = await make_slack_install(db, org)
    cipher = await OrgCipher.load(db, _test_settings(), org.id)
    await cipher.seal_column(
        db, INCOMING_WEBHOOK, install, b"https://hooks.slack.com/services/T/B/x"
    )
    await db.commit()
    event = anomaly().model_copy(update={"org_id": org.id, "cloud_account_id": None})
    targets = await hub.resolve_targets(db, event)
    assert [t.key for t in targets if isinstance(t, hub.WebhookTarget)] == [
        f"slack_install_webhook:{install.id}"
    ]
    channel = await make_channel(db, org, is_default=True)
    targets = await hub.resolve_targets(db, event)
    assert [t.key for t in targets if isinstance(t, hub.WebhookTarget)] == [
        f"chat_channel:{channel.id}"
    ]
