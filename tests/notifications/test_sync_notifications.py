"""Sync outcomes and joining notify through the hub: a failed sync emails the users who may
see the account (sync_failed is on by default), a successful one only those who turned
sync_complete on; an invited user who joins is welcomed."""

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.ingest.focus_rows import row, write_csv
from tests.mail import Mailbox, run_jobs, text_of
from tests.sync.conftest import FOCUS_10, copy_samples
from tests.webhooks import Receiver
from xplorr.auth.models import Invitation
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock, security
from xplorr.core.settings import Settings
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def test_a_failed_sync_emails_who_may_see_the_account_once(
    client_for: ClientFor,
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
    member: User,
) -> None:
    root = settings.focus_root_dirs[0]
    root.mkdir(parents=True, exist_ok=True)
    broken = await make_account(
        db, org, provider=Provider.FOCUS, name="Broken", credentials={"path": str(root / "gone")}
    )
    await grant(db, member, await make_account(db, org, name="Other"))
    r = await client_for(admin).post(f"/sync/{broken.id}")
    assert r.status_code == 202, r.text
    await run_jobs(settings)
    assert [m["To"] for m in mailbox.messages] == [admin.email]  # not the member
    msg = mailbox.last_to(admin.email)
    assert msg["Subject"] == "[Xplorr] Sync failed: Broken"
    assert f"http://127.0.0.1:8000/cloud-accounts/{broken.id}" in text_of(msg)
    rows = (await db.scalars(select(NotificationDelivery))).all()
    assert [(d.event_type, d.target) for d in rows] == [("sync_failed", admin.email)]


async def test_sync_complete_only_for_who_asked(
    client_for: ClientFor,
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
    viewer: User,
) -> None:
    folder = copy_samples(Path(settings.focus_root_dirs[0]) / "acme", FOCUS_10)
    account = await make_account(
        db, org, provider=Provider.FOCUS, name="Acme FOCUS", credentials={"path": str(folder)}
    )
    on = await client_for(viewer).patch(
        "/users/notification-preferences", json={"sync_complete": True}
    )
    assert on.json()["sync_complete"] is True
    assert (await client_for(admin).post(f"/sync/{account.id}")).status_code == 202
    await run_jobs(settings)
    assert [m["To"] for m in mailbox.messages] == [viewer.email]
    text = text_of(mailbox.last_to(viewer.email))
    assert "Sync complete: Acme FOCUS" in text
    assert "rows" in text


async def test_an_invited_user_who_joins_is_welcomed_once(
    anon: httpx.AsyncClient,
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
) -> None:
    token = security.new_opaque_token()
    db.add(
        Invitation(
            org_id=org.id,
            email="newbie@acme.example.com",
            role="member",
            account_ids=[],
            invited_by_user_id=admin.id,
            token_sha256=security.sha256_hex(token),
            expires_at=clock.now() + timedelta(days=7),
        )
    )
    await db.commit()
    r = await anon.post(
        "/auth/accept-invitation",
        json={"token": token, "name": "New Bie", "password": "a long passphrase 4 tests"},
    )
    assert r.status_code == 201, r.text
    await run_jobs(settings)
    msg = mailbox.last_to("newbie@acme.example.com")
    assert msg["Subject"] == "[Xplorr] Welcome to Acme on Xplorr"
    assert "Hello New Bie" in text_of(msg)
    assert [m["To"] for m in mailbox.messages] == ["newbie@acme.example.com"]


async def test_syncs_crossing_a_budget_and_an_alert_rule_notify_once_each(
    client_for: ClientFor,
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    receiver: Receiver,
    org: Org,
    admin: User,
) -> None:
    """The issue's "Done when" journey: an account, a budget and an alert rule made through the
    API, then two real syncs of a FOCUS folder (POST /sync/{id}, the worker's sync.account, the
    CostDataChanged it emits, the evaluations and the deliveries) crossing them: each email and
    webhook post exactly once."""
    # Today's cost, in exports stamped tomorrow 00:00 UTC: complete through today, so the
    # budget's period (this month) holds it whatever today's date.
    today = clock.now().date()
    period = f"{today.replace(day=1).isoformat()}T00:00:00Z"
    stamp = f"{(today + timedelta(days=1)).isoformat()}T00:0{{}}:00Z"
    folder = Path(settings.focus_root_dirs[0]) / "journey"

    def export(minute: int, cost: str) -> None:
        rows = [
            row(BillingPeriodStart=period, ChargePeriodStart=today.isoformat(), BilledCost=cost)
        ]
        write_csv(folder / stamp.format(minute) / "costs.csv", rows)

    export(0, "850")
    account = await make_account(
        db, org, provider=Provider.FOCUS, name="Journey", credentials={"path": str(folder)}
    )
    client = client_for(admin)
    budget = await client.post(
        "/budgets",
        json={
            "name": "Journey",
            "amount": 1000,
            "currency": "USD",
            "cloud_account_id": str(account.id),
            "alert_at_80": True,
            "alert_at_100": True,
        },
    )
    assert budget.status_code == 201, budget.text
    rule = await client.post(
        "/alerts",
        json={
            "name": "Daily > $500",
            "metric": "daily_spend",
            "conditionOp": ">",
            "threshold": 500,
            "currency": "USD",
            "notifyEmails": ["finops@example.com"],
            "cloudAccountId": str(account.id),
            "slackWebhookUrl": receiver.url("/services/T1/B1/journey"),
        },
    )
    assert rule.status_code == 201, rule.text

    assert (await client.post(f"/sync/{account.id}")).status_code == 202
    await run_jobs(settings)
    export(1, "1050")  # a newer export of the month: today now costs 1,050
    assert (await client.post(f"/sync/{account.id}")).status_code == 202
    await run_jobs(settings)

    runs = (await client.get("/sync/jobs")).json()["data"]
    assert [(r["state"], r["dataThrough"]) for r in runs] == [("succeeded", str(today))] * 2
    budget_mail = sorted(m["Subject"] for m in mailbox.to(admin.email))
    last_day = (today + timedelta(days=1)).day == 1  # nothing left to project: no overrun
    assert budget_mail == sorted(
        [
            "[Xplorr] Budget Journey reached 80 %",
            "[Xplorr] Budget Journey reached 100 %",
            *([] if last_day else ["[Xplorr] Budget Journey is projected to overrun"]),
        ]
    )
    reached_80 = next(m for m in mailbox.to(admin.email) if "80 %" in m["Subject"])
    assert "$850.00" in text_of(reached_80)
    # The rule fired on the first sync (850 > 500) and not again the same day.
    (alert,) = mailbox.to("finops@example.com")
    assert alert["Subject"] == "[Xplorr] Alert: Daily > $500"
    assert "$850.00" in text_of(alert)
    (post,) = receiver.to("/services/T1/B1/journey")
    assert "$850.00" in post.body["text"]
