"""The hub end to end: notify() in a transaction -> delivery rows + jobs -> a real worker loop
-> real SMTP (aiosmtpd) and a local HTTP receiver for Slack/Teams."""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import grant, make_account
from tests.mail import Mailbox, html_of, run_jobs, text_of
from xplorr.core.settings import Settings
from xplorr.notifications import notify
from xplorr.notifications.events import BudgetAlert, Severity
from xplorr.notifications.models import DeliveryStatus, NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User


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
