"""The Monday weekly summary: the previous Monday-Sunday, to each active user whose
``weekly_digest`` preference is on, built with that user's own access, once per week."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import Dataset
from tests.factories.cloud_accounts import grant
from tests.mail import Mailbox, run_jobs, text_of
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import periodic
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.reports import jobs as report_jobs
from xplorr.reports import weekly
from xplorr.users.models import NotificationPreference, User, UserStatus

MONDAY = date(2024, 9, 16)  # summarises 2024-09-09 .. 2024-09-15


async def run_week(settings: Settings, org: Org, today: date = MONDAY) -> int:
    engine = make_engine(settings.db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            sent = await weekly.send_weekly(s, settings, org.id, today)
            await s.commit()
    finally:
        await engine.dispose()
    await run_jobs(settings)
    return sent


def test_the_week_is_the_monday_to_sunday_before() -> None:
    assert weekly.week_before(MONDAY) == (date(2024, 9, 9), date(2024, 9, 15))
    assert weekly.week_before(date(2024, 9, 18)) == (date(2024, 9, 9), date(2024, 9, 15))


def test_the_monday_schedule_fans_out_per_org() -> None:
    fan = periodic.FAN_OUTS[report_jobs.WEEKLY_FAN_OUT]
    assert fan.job == report_jobs.WEEKLY_JOB


async def test_each_user_who_wants_it_gets_their_own_summary_once(
    db: AsyncSession,
    org: Org,
    admin: User,
    member: User,
    viewer: User,
    owner: User,
    data: Dataset,
    mailbox: Mailbox,
    settings: Settings,
) -> None:
    admin_email, member_email, viewer_email, owner_email = (
        admin.email,
        member.email,
        viewer.email,
        owner.email,
    )
    db.add(
        NotificationPreference(org_id=org.id, user_id=member.id, settings={"weekly_digest": False})
    )
    gone = await db.get(User, owner.id)
    assert gone is not None
    gone.status = UserStatus.DEACTIVATED
    await db.commit()
    await grant(db, viewer, data.aws)

    assert await run_week(settings, org) == 2
    assert await run_week(settings, org) == 0  # the same week again: nothing
    assert mailbox.to(member_email) == []  # turned off
    assert mailbox.to(owner_email) == []  # deactivated
    (msg,) = mailbox.to(admin_email)
    assert msg["Subject"] == "Weekly cloud cost summary of Acme, 2024-09-09 to 2024-09-15"
    text = text_of(msg)
    # 20.125 (Compute Engine, 09-15) against 3.25 (S3, 09-02) the week before.
    assert "USD: $20.13 (+519.23 % week over week; the week before: $3.25)" in text
    assert "Google Cloud: $20.13 (100.00 %)" in text
    assert "Compute Engine: $20.13 (n/a)" in text
    # The viewer sees the AWS account only: nothing spent there that week, S3 the week before.
    seen = text_of(mailbox.to(viewer_email)[0])
    assert "USD: $0.00 (-100.00 % week over week; the week before: $3.25)" in seen
    assert "Compute Engine" not in seen
