"""The /alerts HTTP contract: the reference's camelCase body, admins write, webhook URLs checked
against SSRF (422 naming the field), stored sealed and shown masked."""

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.alerts import make_alert_rule
from tests.factories.cloud_accounts import grant, make_account
from xplorr.alerts.models import AlertRule
from xplorr.core.audit import AuditEntry
from xplorr.orgs.models import Org
from xplorr.users.models import User

BODY = {
    "name": "Daily AWS > $500",
    "metric": "daily_spend",
    "conditionOp": ">",
    "threshold": 500,
    "currency": "USD",
    "notifyEmails": ["finops@example.com"],
    "serviceFilter": "Amazon EC2",
    "regionFilter": "us-east-1",
    "slackWebhookUrl": "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXXabcd",
}


class TestCreate:
    async def test_reference_body_round_trips_and_the_webhook_is_masked(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org)
        r = await client_for(admin).post(
            "/alerts", json={**BODY, "cloudAccountId": str(account.id)}
        )
        assert r.status_code == 201, r.text
        out = r.json()
        for key in ("name", "metric", "conditionOp", "currency", "notifyEmails", "serviceFilter"):
            assert out[key] == BODY[key]
        assert out["threshold"] == 500
        assert out["cloudAccountId"] == str(account.id)
        assert out["slackWebhookUrl"] == "https://hooks.slack.com/…abcd"
        assert "secret" not in r.text
        assert out["recentTriggers"] == []
        assert out["lastTriggeredAt"] is None
        row = await db.get_one(AlertRule, uuid.UUID(out["id"]))
        assert row.slack_webhook_encrypted is not None
        assert b"hooks.slack.com" not in row.slack_webhook_encrypted
        got = await client_for(admin).get(f"/alerts/{out['id']}")
        assert got.json() == out
        actions = (await db.scalars(select(AuditEntry.action))).all()
        assert "alert_rule.created" in actions

    async def test_without_recipients_the_creator_is_emailed(
        self, client_for: ClientFor, admin: User
    ) -> None:
        body = {k: v for k, v in BODY.items() if k not in ("notifyEmails", "slackWebhookUrl")}
        r = await client_for(admin).post("/alerts", json=body)
        assert r.json()["notifyEmails"] == [admin.email]

    async def test_duplicate_name_is_409(self, client_for: ClientFor, admin: User) -> None:
        assert (await client_for(admin).post("/alerts", json=BODY)).status_code == 201
        r = await client_for(admin).post("/alerts", json=BODY)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "ALERT_RULE_EXISTS")

    async def test_another_orgs_account_is_404(
        self, client_for: ClientFor, admin: User, other_org: Org, db: AsyncSession
    ) -> None:
        foreign = await make_account(db, other_org)
        r = await client_for(admin).post(
            "/alerts", json={**BODY, "cloudAccountId": str(foreign.id)}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("metric", "hourly_spend"),
            ("conditionOp", "=="),
            ("threshold", -1),
            ("currency", "XYZ"),
            ("notifyEmails", ["not-an-email"]),
            ("name", ""),
            ("unknownField", 1),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self, client_for: ClientFor, admin: User, field: str, value: object
    ) -> None:
        r = await client_for(admin).post("/alerts", json={**BODY, field: value})
        assert r.status_code == 422, r.text
        fields = [d["field"] for d in r.json()["error"]["details"]]
        assert any(f.startswith(field) for f in fields), fields


class TestWebhookSsrf:
    @pytest.mark.parametrize(
        ("field", "url", "phrase"),
        [
            ("slackWebhookUrl", "https://169.254.169.254/services/x", "private or reserved"),
            ("slackWebhookUrl", "https://10.0.0.1/services/x", "private or reserved"),
            (
                "slackWebhookUrl",
                "https://[::ffff:169.254.169.254]/services/x",
                "private or reserved",
            ),
            ("slackWebhookUrl", "http://hooks.slack.com/services/x", "https://"),
            ("slackWebhookUrl", "https://evil.example.com/services/x", "hooks.slack.com"),
            ("slackWebhookUrl", "https://u:p@hooks.slack.com/services/x", "user name"),
            ("slackWebhookUrl", "https://hooks.slack.com:8443/services/x", "default HTTPS port"),
            ("teamsWebhookUrl", "https://localhost/workflows/x", "resolves to a private"),
            ("teamsWebhookUrl", "https://169.254.169.254/latest/meta-data", "private or reserved"),
            ("teamsWebhookUrl", "https://10.0.0.1/x", "private or reserved"),
            ("teamsWebhookUrl", "https://2130706433/x", "private"),
        ],
    )
    async def test_unsafe_webhook_is_refused_with_422_naming_the_field(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        field: str,
        url: str,
        phrase: str,
    ) -> None:
        body = {k: v for k, v in BODY.items() if k != "slackWebhookUrl"}
        r = await client_for(admin).post("/alerts", json={**body, field: url})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["details"] == [{"field": field, "message": error["details"][0]["message"]}]
        assert phrase in error["message"]
        assert await db.scalar(select(AlertRule)) is None

    async def test_patch_checks_the_webhook_too(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        rule = await make_alert_rule(db, org)
        r = await client_for(admin).patch(
            f"/alerts/{rule.id}", json={"slackWebhookUrl": "https://10.0.0.1/services/x"}
        )
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "slackWebhookUrl"


class TestUpdateDeleteList:
    async def test_patch_changes_only_what_is_sent_and_null_clears(
        self, client_for: ClientFor, admin: User
    ) -> None:
        client = client_for(admin)
        created = (await client.post("/alerts", json=BODY)).json()
        r = await client.patch(
            f"/alerts/{created['id']}",
            json={"threshold": 750.5, "slackWebhookUrl": None, "regionFilter": None},
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["threshold"] == 750.5
        assert out["slackWebhookUrl"] is None
        assert out["regionFilter"] is None
        assert out["serviceFilter"] == BODY["serviceFilter"]
        bad = await client.patch(f"/alerts/{created['id']}", json={"metric": None})
        assert bad.status_code == 422

    async def test_delete_removes_the_rule(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        rule = await make_alert_rule(db, org)
        assert (await client_for(admin).delete(f"/alerts/{rule.id}")).status_code == 204
        assert (await client_for(admin).get(f"/alerts/{rule.id}")).status_code == 404

    async def test_a_member_limited_to_an_account_sees_only_its_rules(
        self, client_for: ClientFor, member: User, org: Org, db: AsyncSession
    ) -> None:
        mine = await make_account(db, org)
        theirs = await make_account(db, org)
        await grant(db, member, mine)
        visible = await make_alert_rule(db, org, account=mine)
        hidden = await make_alert_rule(db, org, account=theirs)
        await make_alert_rule(db, org)  # org-wide: not for a member limited to some accounts
        listed = (await client_for(member).get("/alerts")).json()
        assert [r["id"] for r in listed["data"]] == [str(visible.id)]
        assert listed["total"] == 1
        assert (await client_for(member).get(f"/alerts/{hidden.id}")).status_code == 404
