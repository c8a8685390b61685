"""/settings: defaults for an org that never saved any, admins change them (audited, webhooks
redacted), hostile input is a 422 that changes nothing, webhooks are sealed and answered
masked, and the Slack test posts to a local receiver and says what it answered."""

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.settings import make_org_settings
from tests.webhooks import Receiver
from xplorr.core.audit import AuditEntry
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.settings import service
from xplorr.settings.models import OrgSetting
from xplorr.users.models import User

SLACK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXXabcd"
TEAMS = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/run?sig=s3cr3tzz"
DEFAULTS = {
    "approval_threshold": 500,
    "default_currency": None,
    "timezone": "UTC",
    "anomaly_min_delta": 10,
    "anomaly_detect_drops": False,
    "digest_enabled": True,
    "digest_time": "09:00",
    "weekly_summary_enabled": True,
    "commitment_term": "one_year",
    "commitment_payment_option": "no_upfront",
    "slack_webhook_url": None,
    "teams_webhook_url": None,
    "aws_base_access_key_id": None,
    "aws_base_secret_access_key": None,
    "aws_base_keys_changed_at": None,
    "updated_at": None,
}
BODY = {
    "approval_threshold": 1250.5,
    "default_currency": "eur",
    "timezone": "Europe/Paris",
    "anomaly_min_delta": 25,
    "anomaly_detect_drops": True,
    "digest_enabled": False,
    "digest_time": "7:30",
    "weekly_summary_enabled": False,
    "commitment_term": "three_years",
    "commitment_payment_option": "partial_upfront",
    "slack_webhook_url": SLACK,
    "teams_webhook_url": TEAMS,
}


async def _row(db: AsyncSession, org: Org) -> OrgSetting | None:
    db.expire_all()
    return await db.scalar(select(OrgSetting).where(OrgSetting.org_id == org.id))


async def test_an_org_that_never_saved_reads_the_defaults(
    client_for: ClientFor, viewer: User, org: Org, db: AsyncSession
) -> None:
    r = await client_for(viewer).get("/settings")
    assert r.status_code == 200, r.text
    assert r.json() == DEFAULTS
    assert await service.get_org_settings(db, org.id) == service.OrgSettings()


async def test_admin_saves_every_setting_audited_with_webhooks_redacted(
    client_for: ClientFor, admin: User, member: User, org: Org, db: AsyncSession
) -> None:
    r = await client_for(admin).patch("/settings", json=BODY)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["updated_at"] is not None
    assert {k: v for k, v in out.items() if k != "updated_at"} == {
        **BODY,
        "default_currency": "EUR",
        "digest_time": "07:30",
        "slack_webhook_url": "https://hooks.slack.com/…abcd",
        "teams_webhook_url": "https://prod-01.westeurope.logic.azure.com/…3tzz",
        "aws_base_access_key_id": None,
        "aws_base_secret_access_key": None,
        "aws_base_keys_changed_at": None,
    }
    assert "XXXXsecretXXXX" not in r.text  # the webhook's path
    assert "s3cr3t" not in r.text
    assert (await client_for(member).get("/settings")).json() == out

    row = await _row(db, org)
    assert row is not None
    assert row.slack_webhook_encrypted is not None
    assert b"hooks" not in row.slack_webhook_encrypted
    assert row.teams_webhook_encrypted is not None
    assert b"s3cr3t" not in row.teams_webhook_encrypted
    got = await service.get_org_settings(db, org.id)
    assert got == service.OrgSettings(
        approval_threshold=Decimal("1250.5"),
        default_currency="EUR",
        timezone="Europe/Paris",
        anomaly_min_delta=Decimal(25),
        anomaly_detect_drops=True,
        digest_enabled=False,
        digest_time="07:30",
        weekly_summary_enabled=False,
        commitment_term="three_years",
        commitment_payment_option="partial_upfront",
        has_slack_webhook=True,
        has_teams_webhook=True,
    )
    assert (got.digest_hour, got.digest_minute) == (7, 30)
    with pytest.raises(AttributeError):
        got.timezone = "UTC"  # type: ignore[misc]

    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "settings.updated"))
    assert entry is not None
    assert entry.org_id == org.id
    assert entry.actor_user_id == admin.id
    changes = entry.details["changes"]
    assert changes["slack_webhook_url"] == "[REDACTED]"
    assert changes["teams_webhook_url"] == "[REDACTED]"
    assert changes["approval_threshold"] == "1250.5"
    assert changes["timezone"] == "Europe/Paris"
    assert "hooks.slack.com" not in str(entry.details)
    assert "s3cr3t" not in str(entry.details)

    # Only what is sent changes; null clears a webhook and the default currency.
    r = await client_for(admin).patch(
        "/settings", json={"slack_webhook_url": None, "default_currency": None, "timezone": "UTC"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        **out,
        "slack_webhook_url": None,
        "default_currency": None,
        "timezone": "UTC",
        "updated_at": r.json()["updated_at"],
    }
    last = (
        await db.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "settings.updated")
            .order_by(AuditEntry.created_at.desc())
        )
    ).first()
    assert last is not None
    assert last.details["changes"] == {
        "slack_webhook_url": "cleared",
        "default_currency": None,
        "timezone": "UTC",
    }
    assert not (await service.get_org_settings(db, org.id)).has_slack_webhook


BAD: list[tuple[dict[str, Any], str]] = [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "localtime"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"timezone": None}, "timezone"),
    ({"default_currency": "XYZ"}, "default_currency"),
    ({"default_currency": "EURO"}, "default_currency"),
    ({"approval_threshold": -1}, "approval_threshold"),
    ({"approval_threshold": "1e400"}, "approval_threshold"),
    ({"approval_threshold": None}, "approval_threshold"),
    ({"anomaly_min_delta": "NaN"}, "anomaly_min_delta"),
    ({"anomaly_detect_drops": "maybe"}, "anomaly_detect_drops"),
    ({"digest_time": "24:00"}, "digest_time"),
    ({"digest_time": "9h"}, "digest_time"),
    ({"commitment_term": "THREE_YEARS"}, "commitment_term"),
    ({"commitment_term": None}, "commitment_term"),
    ({"commitment_payment_option": "heavy_utilization"}, "commitment_payment_option"),
    ({"org_id": "00000000-0000-0000-0000-000000000001"}, "org_id"),
    ({"slack_webhook_url": "https://169.254.169.254/latest/meta-data/"}, "slack_webhook_url"),
    ({"slack_webhook_url": "http://hooks.slack.com/services/T/B/x"}, "slack_webhook_url"),
    ({"slack_webhook_url": "https://hooks.slack.com.evil.com/services/x"}, "slack_webhook_url"),
    ({"slack_webhook_url": "https://user@hooks.slack.com/services/x"}, "slack_webhook_url"),
    ({"slack_webhook_url": "https://hooks.slack.com:8443/services/x"}, "slack_webhook_url"),
    ({"slack_webhook_url": "https://hooks.slack.com/api/chat.postMessage"}, "slack_webhook_url"),
    ({"teams_webhook_url": "https://2852039166/workflows"}, "teams_webhook_url"),
    ({"teams_webhook_url": "https://[::ffff:a9fe:a9fe]/x"}, "teams_webhook_url"),
    ({"teams_webhook_url": "https://[::1]/x"}, "teams_webhook_url"),
]


async def test_hostile_input_is_a_422_naming_the_field_and_changes_nothing(
    client_for: ClientFor, admin: User, org: Org, db: AsyncSession, settings: Settings
) -> None:
    await make_org_settings(db, org, settings=settings, slack_webhook=SLACK, timezone="Asia/Tokyo")
    before = (await client_for(admin).get("/settings")).json()
    client = client_for(admin)
    for body, field in BAD:
        # A valid field alongside: a refused body changes nothing at all.
        r = await client.patch("/settings", json={"approval_threshold": 7, **body})
        assert r.status_code == 422, (body, r.text)
        error = r.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert field in [d["field"] for d in error["details"]], (body, error)
        assert "XXXXsecret" not in r.text
    assert (await client.get("/settings")).json() == before
    assert (
        await db.scalar(select(AuditEntry).where(AuditEntry.action == "settings.updated"))
    ) is None


async def test_each_org_sees_and_changes_only_its_own(
    client_for: ClientFor, admin: User, other_admin: User, org: Org, db: AsyncSession
) -> None:
    await make_org_settings(db, org, timezone="Asia/Tokyo", approval_threshold=Decimal(42))
    r = await client_for(other_admin).patch("/settings", json={"timezone": "America/New_York"})
    assert r.status_code == 200, r.text
    assert r.json()["approval_threshold"] == 500
    mine = (await client_for(admin).get("/settings")).json()
    assert (mine["timezone"], mine["approval_threshold"]) == ("Asia/Tokyo", 42)


class TestSlackTest:
    async def test_without_a_webhook_it_says_what_to_set(
        self, client_for: ClientFor, admin: User
    ) -> None:
        r = await client_for(admin).post("/settings/slack/test")
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "SLACK_NOT_CONFIGURED"
        assert "slack_webhook_url" in r.json()["error"]["message"]

    async def test_posts_to_the_webhook_and_answers_what_slack_said(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        receiver: Receiver,
    ) -> None:
        url = receiver.url("/services/T1/B1/tokenabcd")
        await make_org_settings(db, org, settings=settings, slack_webhook=url)
        client = client_for(admin)
        r = await client.post("/settings/slack/test")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "ok": True,
            "via": "org_webhook",
            "target": "http://127.0.0.1/…abcd",
            "status_code": 200,
            "response": "ok",
        }
        (post,) = receiver.to("/services/T1/B1/tokenabcd")
        assert "Xplorr test message" in post.body["text"]
        assert post.body["blocks"][0]["type"] == "section"

        receiver.fail_next(1, status=404)  # Slack: a removed webhook
        r = await client.post("/settings/slack/test")
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is False
        assert (r.json()["status_code"], r.json()["response"]) == (404, "invalid_payload")

        receiver.fail_next(1, status=302)  # redirects are answers, never followed
        r = await client.post("/settings/slack/test")
        assert (r.json()["ok"], r.json()["status_code"]) == (False, 302)
        assert len(receiver.posts) == 1
        tested = (
            await db.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "settings.slack_tested")
            )
        ).all()
        assert sorted(d["http_status"] for d in tested) == [200, 302, 404]

    async def test_an_unreachable_slack_is_a_502(
        self,
        client_for: ClientFor,
        admin: User,
        org: Org,
        db: AsyncSession,
        settings: Settings,
        receiver: Receiver,
    ) -> None:
        # A port nothing listens on (the receiver's, once it is closed, is not knowable):
        # port 9 (discard) is closed on the test machines.
        await make_org_settings(
            db, org, settings=settings, slack_webhook="http://127.0.0.1:9/services/x/y/z"
        )
        r = await client_for(admin).post("/settings/slack/test")
        assert r.status_code == 502
        assert r.json()["error"]["code"] == "UPSTREAM_ERROR"
        assert "/services/x" not in r.text
