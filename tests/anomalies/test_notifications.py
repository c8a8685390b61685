"""Anomaly notifications end to end: a cost change -> anomalies.detect on a real worker ->
the hub -> real SMTP, once per anomaly and severity."""

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs, mark_imported
from tests.factories.settings import make_org_settings
from tests.mail import Mailbox, html_of, run_jobs, text_of
from tests.webhooks import Receiver
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.events import emit
from xplorr.core.settings import Settings
from xplorr.costs.events import CostDataChanged
from xplorr.orgs.models import Org
from xplorr.users.models import User

SEPT1 = date(2024, 9, 1)


async def _changed(db: AsyncSession, account: CloudAccount) -> None:
    await mark_imported(db, account)
    await emit(
        db,
        CostDataChanged(
            org_id=account.org_id,
            cloud_account_id=account.id,
            first_day=SEPT1,
            last_day=date(2024, 9, 8),
        ),
    )
    await db.commit()


async def test_a_critical_spike_emails_once_and_escalation_again(
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
    member: User,
) -> None:
    prod = await make_account(db, org, name="prod")
    await grant(db, member, await make_account(db, org, name="other"))
    rows: list[dict[str, object]] = [
        {"usage_date": SEPT1 + timedelta(days=i), "billed_cost": "100", "resource_id": "i-1"}
        for i in range(7)
    ]
    rows.append({"usage_date": "2024-09-08", "billed_cost": "100", "resource_id": "i-1"})
    rows.append({"usage_date": "2024-09-08", "billed_cost": "320", "resource_id": "i-9"})
    await add_costs(db, prod, rows)
    await _changed(db, prod)
    await run_jobs(settings)

    # 420 against 100 (+320 %, high) for AmazonEC2 in prod, prod's total and the org's total.
    subjects = sorted(m["Subject"] for m in mailbox.to(admin.email))
    assert len(subjects) == 3
    assert all(s.startswith("[Xplorr] High cost anomaly") for s in subjects)
    service_mail = next(
        m for m in mailbox.to(admin.email) if "Amazon Elastic Compute Cloud" in m["Subject"]
    )
    text = text_of(service_mail)
    for expected in ("$100.00", "$420.00", "i-9"):
        assert expected in text
    assert mailbox.to(member.email) == []  # not granted prod; org-wide ones skip them too

    # The same data again: nothing new. More cost that day: critical (+650 %), notified again.
    await _changed(db, prod)
    await run_jobs(settings)
    assert len(mailbox.to(admin.email)) == 3
    await add_costs(db, prod, [{"usage_date": "2024-09-08", "billed_cost": "330"}])
    await _changed(db, prod)
    await run_jobs(settings)
    critical = [m for m in mailbox.to(admin.email) if "Critical" in m["Subject"]]
    assert len(critical) == 3


async def test_a_drop_reads_right_in_email_slack_and_teams(
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    receiver: Receiver,
    org: Org,
    admin: User,
) -> None:
    await make_org_settings(
        db,
        org,
        settings=settings,
        anomaly_detect_drops=True,
        slack_webhook=receiver.url("/services/org/slack"),
        teams_webhook=receiver.url("/workflows/org/teams"),
    )
    prod = await make_account(db, org, name="prod")
    rows: list[dict[str, object]] = []
    for i in range(7):
        day = SEPT1 + timedelta(days=i)
        rows.append({"usage_date": day, "billed_cost": "100"})
        rows.append({"usage_date": day, "billed_cost": "100", "service_name": "AmazonS3"})
    # 09-08: EC2 stops (100 -> 0: -100 %, medium), S3 goes on at 60 (-40 %: not flagged), so
    # prod's total falls from 200 to 60 (-70 %, low: email only).
    rows.append({"usage_date": "2024-09-08", "billed_cost": "60", "service_name": "AmazonS3"})
    await add_costs(db, prod, rows)
    await _changed(db, prod)
    await run_jobs(settings)

    mails = {m["Subject"]: m for m in mailbox.to(admin.email)}
    assert sorted(mails) == [
        "[Xplorr] Low cost anomaly: All accounts",
        "[Xplorr] Low cost anomaly: prod",
        "[Xplorr] Medium cost anomaly: Amazon Elastic Compute Cloud / prod",
    ]
    account = mails["[Xplorr] Low cost anomaly: prod"]
    text, html = text_of(account), html_of(account)
    assert "prod cost $60.00 on 2024-09-08, 70.0 % below its 7-day baseline of $200.00." in text
    assert "the account cost fell 70.0 % against the 7-day rolling average" in text
    assert "Percent below baseline" in text
    assert "(70.0 % below baseline)" in html
    for body in (text, html):
        assert "-70" not in body
        assert "above" not in body

    # Slack and Teams get the medium one (low anomalies are email-only), in the same words.
    (slack,) = receiver.to("/services/org/slack")
    (teams,) = receiver.to("/workflows/org/teams")
    summary = "100.0 % below its 7-day baseline of $100.00"
    assert summary in slack.body["text"]
    fields = [
        f["text"]
        for b in slack.body["blocks"]
        if b["type"] == "section"
        for f in b.get("fields", [])
    ]
    assert "*Percent below baseline*\n100.0 %" in fields
    card = teams.body["attachments"][0]["content"]
    facts = {
        f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]
    }
    assert facts["Percent below baseline"] == "100.0 %"
    assert any(summary in b.get("text", "") for b in card["body"])
    assert "-100" not in str(slack.body) + str(card)
