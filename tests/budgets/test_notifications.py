"""Budget alerts end to end: a cost change (CostDataChanged) -> budgets.evaluate on a real
worker -> the hub -> real SMTP. Dated from today: the evaluation runs as of today."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs, mark_imported
from tests.mail import Mailbox, run_jobs, text_of
from xplorr.budgets import service
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.events import emit
from xplorr.core.settings import Settings
from xplorr.costs.events import CostDataChanged
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def _sync(db: AsyncSession, account: CloudAccount, amount: str) -> None:
    """What a sync leaves: today's cost of ``amount`` stored and the change announced."""
    today = service.today()
    await add_costs(db, account, [{"usage_date": today, "billed_cost": amount}])
    await mark_imported(db, account)
    await emit(
        db,
        CostDataChanged(
            org_id=account.org_id, cloud_account_id=account.id, first_day=today, last_day=today
        ),
    )
    await db.commit()


def _subjects(mailbox: Mailbox, address: str) -> list[str]:
    return sorted(m["Subject"] for m in mailbox.to(address))


async def test_80_then_100_percent_one_email_each_to_eligible_users(
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
    await grant(db, member, other)  # the member may not see prod: no email
    await make_budget(db, org, name="AWS Production", amount="1000", account=prod)

    await _sync(db, prod, "850")
    await run_jobs(settings)
    at_80 = "[Xplorr] Budget AWS Production reached 80 %"
    first = _subjects(mailbox, admin.email)
    assert at_80 in first
    assert "$850.00" in text_of(next(m for m in mailbox.to(admin.email) if m["Subject"] == at_80))

    await _sync(db, prod, "200")  # 1,050 of 1,000
    await run_jobs(settings)
    await _sync(db, prod, "1")  # a third sync crosses nothing new
    await run_jobs(settings)

    today = service.today()
    for user in (admin, viewer):
        got = _subjects(mailbox, user.email)
        assert got.count(at_80) == 1
        assert got.count("[Xplorr] Budget AWS Production reached 100 %") == 1
        overrun = got.count("[Xplorr] Budget AWS Production is projected to overrun")
        # The forecast (850 a day for the days left) exceeds the amount from the first sync,
        # unless today ends the month and nothing is left to project: once per period.
        assert overrun == (0 if (today + timedelta(days=1)).day == 1 else 1)
        assert len(got) == 2 + overrun
    assert mailbox.to(member.email) == []
    assert await service.alert_count(db, org.id) == len(_subjects(mailbox, admin.email))
