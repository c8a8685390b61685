"""The issue's "Done when" as one flow, through the API and a real worker against the local
Slack: an admin installs Slack (OAuth v2), routes anomalies of the ``team:data`` tag to one
channel and everything else to a default channel (``POST /channels``), a recommendation above
the approval threshold is announced with its buttons, a member clicks Apply (an approval is
requested: the request is posted with Approve/Reject and tags the org's admins), and an admin
clicks Approve on that message."""

import json
import time
import uuid
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.factories.recommendations import make_recommendation
from tests.factories.users import make_user
from tests.mail import run_jobs
from tests.slack.fake_slack import SIGNING_SECRET, FakeSlack
from xplorr.approvals.models import Approval, ApprovalStatus
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.notifications import hub
from xplorr.notifications.events import AnomalyDetected, Severity
from xplorr.orgs.models import Org
from xplorr.recommendations import service as recommendations
from xplorr.recommendations.models import Recommendation, RecommendationStatus
from xplorr.users.models import User

JSON = {"Accept": "application/json"}
ANOMALIES_ONLY = {"digest": False, "alerts": False, "anomalies": True, "budgets": False,
                  "recommendations": False}  # fmt: skip


def signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=ts, body=body
        ),
    }


def buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]


def click(post: dict[str, Any], ts: str, label: str, user: str) -> bytes:
    """What Slack posts when ``user`` clicks the button labelled ``label`` of a bot message."""
    (button,) = [b for b in buttons(post) if b["text"]["text"] == label]
    payload = {
        "type": "block_actions",
        "team": {"id": "T001"},
        "user": {"id": user},
        "channel": {"id": post["channel"]},
        "message": {"ts": ts, "text": post["text"], "blocks": post["blocks"]},
        "actions": [{"action_id": button["action_id"], "value": button["value"]}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def verified(db: AsyncSession, org: Org, role: Role, email: str) -> User:
    user = await make_user(db, org, role=role, email=email)
    await db.execute(update(User).where(User.id == user.id).values(email_verified_at=clock.now()))
    await db.commit()
    return user


async def test_install_route_and_approve_a_recommendation_from_slack(
    client_for: ClientFor,
    admin: User,
    db: AsyncSession,
    org: Org,
    slack: FakeSlack,
    settings: Settings,
) -> None:
    load_job_modules()  # the areas' registrations with the hub (an app or worker does this)
    client = client_for(admin)
    # 1. The admin installs Slack: Slack's consent page, then its redirect back with a code.
    r = await client.get("/slack/install", headers=JSON)
    state = parse_qs(urlsplit(r.json()["redirect_url"]).query)["state"][0]
    r = await client_for(None).get(
        "/slack/oauth_redirect", params={"code": slack.grant(), "state": state}, headers=JSON
    )
    assert r.json()["result"] == "installed", r.text

    # 2. team:data anomalies to #data; everything else to the default channel.
    r = await client.post("/channels", json={
        "provider": "slack", "channel_id": "CDATA", "channel_name": "#data",
        "scope_type": "tags", "scope_values": ["team:data"], "notify": ANOMALIES_ONLY})  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.post("/channels", json={
        "provider": "slack", "channel_id": "CDEFAULT", "channel_name": "#costs",
        "is_default": True})  # fmt: skip
    assert r.status_code == 201, r.text

    account = await make_account(db, org)
    day = date(2026, 11, 30)
    await add_costs(db, account, [
        {"usage_date": day, "billed_cost": "300", "service_name": "AmazonEC2",
         "tags": {"team": "data"}},
        {"usage_date": day, "billed_cost": "200", "service_name": "AmazonS3",
         "tags": {"team": "web"}},
    ])  # fmt: skip
    for service in ("AmazonEC2", "AmazonS3"):
        await hub.notify(db, AnomalyDetected(
            org_id=org.id, cloud_account_id=account.id, severity=Severity.HIGH,
            anomaly_id=uuid.uuid4(), scope="service", service=service, day=day,
            actual=Decimal(300), baseline=Decimal(100), percent_above=Decimal(200),
            currency="USD"))  # fmt: skip
    # 3. A recommendation above the org's approval threshold (500 a month) is announced.
    big = await make_recommendation(db, account, savings="900")
    acct = await db.get(CloudAccount, account.id)
    assert acct is not None
    await recommendations.notify_new(db, acct, [big])
    await db.commit()
    await run_jobs(settings)

    posts = slack.of("chat.postMessage")
    (issued,) = slack.tokens  # the bot token the install received, sealed, now posting
    assert {p.token for p in posts} == {issued}
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for p in posts:
        by_channel.setdefault(p.args["channel"], []).append(p.args)
    (data_post,) = by_channel["CDATA"]  # the team:data anomaly only
    assert "AmazonEC2 cost" in data_post["text"]
    assert len(by_channel["CDEFAULT"]) == 2  # the S3 anomaly and the recommendation
    s3_post, rec_post = sorted(by_channel["CDEFAULT"], key=lambda p: "Recommendation" in p["text"])
    assert "AmazonS3 cost" in s3_post["text"]
    assert [(b["text"]["text"], b.get("action_id"), b.get("value")) for b in buttons(rec_post)] == [
        ("Apply", "xplorr:recommendation.apply", str(big.id)),
        ("Snooze 7d", "xplorr:recommendation.snooze", str(big.id)),
        ("Dismiss", "xplorr:recommendation.dismiss", str(big.id)),
        ("Details", "open", None),
    ]
    assert buttons(rec_post)[-1]["url"].endswith(f"/recommendations/{big.id}")

    # 4. A member clicks Apply: above the threshold, an approval is requested.
    await verified(db, org, Role.MEMBER, "member@acme.test")
    approver = await verified(db, org, Role.ADMIN, "approver@acme.test")
    await verified(db, org, Role.OWNER, "owner@acme.test")
    slack.add_user("UM", "member@acme.test")
    slack.add_user("UA", "approver@acme.test")
    slack.add_user("UO", "owner@acme.test")
    slack.add_user("UX", admin.email)  # an admin whose email Xplorr has not verified
    body = click(rec_post, "1700000000.000003", "Apply", "UM")
    r = await client_for(None).post("/slack/interactions", content=body, headers=signed(body))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True
    assert "Approval requested by member@acme.test" in r.json()["message"]
    (rewritten,) = slack.of("chat.update")  # the clicked message says so, its buttons gone
    assert rewritten.args["ts"] == "1700000000.000003"
    assert [b["text"]["text"] for b in buttons(rewritten.args)] == ["Details"]

    await run_jobs(settings)
    (approval_post,) = [p.args for p in slack.of("chat.postMessage") if "Approve" in str(p.args)]
    assert approval_post["channel"] == "CDEFAULT"
    approval = await db.scalar(select(Approval).where(Approval.recommendation_id == big.id))
    assert approval is not None
    assert approval.status == ApprovalStatus.PENDING
    assert [(b["text"]["text"], b.get("value")) for b in buttons(approval_post)] == [
        ("Approve", str(approval.id)),
        ("Reject", str(approval.id)),
        ("Details", None),
    ]
    # The org's admins and owners with a verified email that Slack knows are tagged.
    mention = approval_post["blocks"][0]["text"]["text"]
    assert mention == "<@UA> <@UO>: an approval is waiting for an admin."
    assert approval_post["text"].startswith("<@UA> <@UO>:")
    lookups = sorted(c.args["email"] for c in slack.of("users.lookupByEmail"))
    assert lookups == ["approver@acme.test", "owner@acme.test"]

    # 5. The admin approves from the Slack message.
    body = click(approval_post, "1700000000.000004", "Approve", "UA")
    r = await client_for(None).post("/slack/interactions", content=body, headers=signed(body))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True, r.json()
    assert "approved by approver@acme.test" in r.json()["message"]
    db.expunge_all()
    await db.rollback()  # read what the request committed
    decided = await db.get(Approval, approval.id)
    assert decided is not None
    assert (decided.status, decided.decided_by) == (ApprovalStatus.APPROVED, approver.id)
    rec = await db.get(Recommendation, big.id)
    assert rec is not None
    assert rec.status == RecommendationStatus.IN_PROGRESS
