"""``POST /slack/interactions``: signed by Slack, acted as the Xplorr user with the clicking
Slack user's verified email, through the anomalies service and its role rule."""

import json
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import AppWith, ClientFor, asgi_client
from tests.factories.anomalies import make_anomaly
from tests.factories.channels import make_slack_install
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.recommendations import make_recommendation
from tests.factories.users import make_user
from tests.slack.conftest import slack_settings
from tests.slack.fake_slack import SIGNING_SECRET, FakeSlack
from xplorr.anomalies.models import Anomaly, AnomalyStatus
from xplorr.approvals.models import Approval, ApprovalStatus
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.recommendations.models import Recommendation, RecommendationStatus
from xplorr.users.models import User

TOKEN = "xoxb-T001-interactions"


def click(
    action_id: str, value: str, *, user: str = "U1", team: str = "T001", blocks: bool = False
) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "username": "someone", "team_id": team},
        "api_app_id": "A001",
        "channel": {"id": "CDATA", "name": "data-costs"},
        "message": {"ts": "1700000000.000100", "text": "anomaly", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Rightsize i-1"}},
            {"type": "actions", "elements": [
                {"type": "button", "action_id": action_id, "value": value},
                {"type": "button", "action_id": "open", "url": "http://console.test/x"}]},
        ] if blocks else []},
        "response_url": "https://hooks.slack.com/actions/T001/1/x",
        "actions": [{"action_id": action_id, "block_id": "b", "value": value,
                     "type": "button", "action_ts": "1700000001.0"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, *, at: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(at if at is not None else int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


async def verified(db: AsyncSession, org: Org, role: Role, email: str) -> User:
    user = await make_user(db, org, role=role, email=email)
    await db.execute(update(User).where(User.id == user.id).values(email_verified_at=clock.now()))
    await db.commit()
    return user


async def test_requests_not_signed_by_slack_are_refused(
    client_for: ClientFor, db: AsyncSession, org: Org, slack: FakeSlack
) -> None:
    await make_slack_install(db, org, token=TOKEN)
    slack.tokens[TOKEN] = "T001"
    account = await make_account(db, org)
    anomaly = await make_anomaly(db, org, account=account)
    member = await verified(db, org, Role.MEMBER, "m@acme.test")
    slack.add_user("U1", member.email)
    anon = client_for(None)
    body = click("xplorr:anomaly.acknowledge", str(anomaly.id))
    now = int(time.time())
    cases = [
        ({**signed(body), "X-Slack-Signature": "v0=" + "0" * 64}, "SLACK_SIGNATURE_INVALID"),
        (signed(body, secret="another-secret"), "SLACK_SIGNATURE_INVALID"),
        ({k: v for k, v in signed(body).items() if k != "X-Slack-Signature"},
         "SLACK_SIGNATURE_INVALID"),
        ({**signed(body), "X-Slack-Request-Timestamp": "yesterday"}, "SLACK_SIGNATURE_INVALID"),
        (signed(body, at=now - 301), "SLACK_REQUEST_EXPIRED"),  # a validly signed replay
        (signed(body, at=now + 400), "SLACK_REQUEST_EXPIRED"),
    ]  # fmt: skip
    for headers, code in cases:
        r = await anon.post("/slack/interactions", content=body, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (401, code), headers
    # A body changed after signing does not pass either.
    headers = signed(body)
    r = await anon.post("/slack/interactions", content=body + b"&x=1", headers=headers)
    assert r.status_code == 401
    assert slack.calls == []
    db.expunge_all()
    assert (await db.get(Anomaly, anomaly.id)).status == AnomalyStatus.OPEN  # type: ignore[union-attr]

    r = await anon.post(
        "/slack/interactions", content=b"payload=%7B", headers=signed(b"payload=%7B")
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "BAD_REQUEST")


async def test_without_a_signing_secret_interactions_are_refused_unread(
    app_with: AppWith, db: AsyncSession, org: Org, slack: FakeSlack
) -> None:
    # The app installed (client id and secret set) but the operator left out the signing
    # secret: nothing can be verified, so nothing is read or done, and the 409 says what to set.
    await make_slack_install(db, org, token=TOKEN)
    slack.tokens[TOKEN] = "T001"
    anomaly = await make_anomaly(db, org, account=await make_account(db, org))
    app = app_with(slack=slack_settings(slack, signing_secret=None))
    body = click("xplorr:anomaly.acknowledge", str(anomaly.id))
    async with asgi_client(app) as anon:
        r = await anon.post("/slack/interactions", content=body, headers=signed(body))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "SLACK_NOT_CONFIGURED")
    assert "XPLORR_SLACK_SIGNING_SECRET" in r.json()["error"]["message"]
    assert "XPLORR_SLACK_CLIENT_ID" not in r.json()["error"]["message"]
    assert slack.calls == []
    db.expunge_all()
    assert (await db.get(Anomaly, anomaly.id)).status == AnomalyStatus.OPEN  # type: ignore[union-attr]


async def test_acknowledge_from_slack_runs_as_the_mapped_user_with_api_roles(
    client_for: ClientFor, db: AsyncSession, org: Org, other_org: Org, slack: FakeSlack
) -> None:
    await make_slack_install(db, org, token=TOKEN)
    slack.tokens[TOKEN] = "T001"
    account = await make_account(db, org)
    hidden = await make_account(db, org)
    anomaly = await make_anomaly(db, org, account=account)
    elsewhere = await make_anomaly(db, org, account=hidden)
    foreign = await make_anomaly(db, other_org, account=await make_account(db, other_org))
    viewer = await verified(db, org, Role.VIEWER, "viewer@acme.test")
    member = await verified(db, org, Role.MEMBER, "Member@Acme.test")
    limited = await verified(db, org, Role.MEMBER, "limited@acme.test")
    await db.execute(update(User).where(User.id == limited.id)
                     .values(account_access_restricted=True))  # fmt: skip
    await db.commit()
    await grant(db, limited, account)
    unverified = await make_user(db, org, role=Role.ADMIN, email="new@acme.test")
    stranger = await verified(db, other_org, Role.ADMIN, "stranger@globex.test")
    for slack_id, user in [("UV", viewer), ("UM", member), ("UL", limited),
                           ("UN", unverified), ("US", stranger)]:  # fmt: skip
        slack.add_user(slack_id, user.email.lower())
    slack.add_user("UX", "nobody@acme.test")
    slack.add_user("UC", member.email, confirmed=False)
    anon = client_for(None)

    async def press(user: str, value: str, action: str = "xplorr:anomaly.acknowledge",
                    team: str = "T001") -> dict[str, object]:  # fmt: skip
        body = click(action, value, user=user, team=team)
        r = await anon.post("/slack/interactions", content=body, headers=signed(body))
        assert r.status_code == 200, r.text
        return r.json()

    refused = [
        ("UV", anomaly.id, "viewer"),  # the API's role rule: members and above
        ("UN", anomaly.id, "verified email"),
        ("US", anomaly.id, "verified email"),  # another org's user: not of this workspace's org
        ("UX", anomaly.id, "verified email"),
        ("UC", anomaly.id, "verified email"),  # Slack has not confirmed the address
        ("UL", elsewhere.id, "no longer exists"),  # a member limited to other accounts
        ("UM", foreign.id, "no longer exists"),  # another org's anomaly
    ]
    for user, ident, says in refused:
        out = await press(user, str(ident))
        assert out["ok"] is False
        assert says in str(out["message"]), (user, out)
        (reply,) = slack.of("chat.postEphemeral")[-1:]
        assert (reply.args["user"], reply.args["channel"]) == (user, "CDATA")
        assert reply.args["text"] == out["message"]
        assert reply.token == TOKEN
    assert len(slack.of("chat.postEphemeral")) == len(refused)
    out = await press("UM", str(anomaly.id), action="xplorr:cluster.delete")
    assert "not available" in str(out["message"])
    out = await press("UM", str(anomaly.id), team="T999")
    assert "not connected" in str(out["message"])

    db.expunge_all()
    await db.rollback()
    for row in (anomaly, elsewhere, foreign):
        assert (await db.get(Anomaly, row.id)).status == AnomalyStatus.OPEN  # type: ignore[union-attr]

    out = await press("UM", str(anomaly.id))
    assert out == {"ok": True, "action": "anomaly.acknowledge", "message": out["message"]}
    assert "acknowledged by Member@Acme.test" in str(out["message"])
    (thread,) = slack.of("chat.postMessage")
    assert thread.args["thread_ts"] == "1700000000.000100"
    assert thread.args["channel"] == "CDATA"
    db.expunge_all()
    await db.rollback()
    row = await db.get(Anomaly, anomaly.id)
    assert row is not None
    assert row.status == AnomalyStatus.ACKNOWLEDGED
    assert row.status_changed_by == member.id
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "anomaly.status_changed"))
    assert entry is not None
    assert entry.actor_user_id == member.id
    out = await press("UL", str(anomaly.id))  # granted: may act on this one
    assert out["ok"] is True


async def test_recommendation_and_approval_buttons_follow_the_savings_rules(
    client_for: ClientFor, db: AsyncSession, org: Org, slack: FakeSlack
) -> None:
    await make_slack_install(db, org, token=TOKEN)
    slack.tokens[TOKEN] = "T001"
    account = await make_account(db, org)
    big = await make_recommendation(db, account, savings="900")  # above the 500 threshold
    small = await make_recommendation(db, account, savings="40")
    other = await make_recommendation(db, account, savings="30")
    member = await verified(db, org, Role.MEMBER, "member@acme.test")
    admin = await verified(db, org, Role.ADMIN, "admin@acme.test")
    await verified(db, org, Role.ADMIN, "admin2@acme.test")
    slack.add_user("UM", member.email)
    slack.add_user("UA", admin.email)
    anon = client_for(None)

    async def press(user: str, action: str, value: object) -> dict[str, object]:
        body = click(f"xplorr:{action}", str(value), user=user, blocks=True)
        r = await anon.post("/slack/interactions", content=body, headers=signed(body))
        assert r.status_code == 200, r.text
        return r.json()

    out = await press("UM", "recommendation.apply", big.id)
    assert out["ok"] is True
    assert "Approval requested by member@acme.test" in str(out["message"])
    db.expunge_all()
    await db.rollback()
    approval = await db.scalar(select(Approval).where(Approval.recommendation_id == big.id))
    assert approval is not None
    assert approval.status == ApprovalStatus.PENDING
    assert approval.requested_by == member.id
    assert (await db.get(Recommendation, big.id)).status == RecommendationStatus.OPEN  # type: ignore[union-attr]

    out = await press("UM", "approval.approve", approval.id)  # a member may not decide
    assert out["ok"] is False
    assert "role (member) cannot approve" in str(out["message"])
    out = await press("UA", "approval.approve", approval.id)
    assert out["ok"] is True, out
    assert "approved by admin@acme.test" in str(out["message"])
    out = await press("UA", "approval.reject", approval.id)  # decided already
    assert "already approved" in str(out["message"])

    assert (await press("UM", "recommendation.apply", small.id))["ok"] is True
    assert (await press("UM", "recommendation.snooze", other.id))["ok"] is True
    out = await press("UM", "recommendation.dismiss", other.id)
    assert "dismissed" in str(out["message"])
    db.expunge_all()
    await db.rollback()
    rows = {r.id: r for r in (await db.scalars(select(Recommendation))).all()}
    assert rows[big.id].status == RecommendationStatus.IN_PROGRESS
    assert rows[small.id].status == RecommendationStatus.IN_PROGRESS
    assert rows[other.id].status == RecommendationStatus.DISMISSED
    assert rows[other.id].snoozed_until is not None
    decided = await db.get(Approval, approval.id)
    assert decided is not None
    assert (decided.status, decided.decided_by) == (ApprovalStatus.APPROVED, admin.id)
    # The clicked messages are rewritten: buttons gone, the link kept, the outcome below.
    updates = slack.of("chat.update")
    assert [u.args["text"].split(":")[0] for u in updates[:1]] == [
        "Approval requested by member@acme.test"
    ]
    first = updates[0].args["blocks"]
    assert [b["type"] for b in first] == ["section", "actions", "context"]
    assert [e["action_id"] for e in first[1]["elements"]] == ["open"]
    assert "Approval requested" in first[2]["elements"][0]["text"]
    assert any("approved by admin@acme.test" in u.args["text"] for u in updates)
    assert all(u.args["ts"] == "1700000000.000100" for u in updates)
