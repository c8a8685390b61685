"""Low-severity notifications wait for the daily digest of a recipient who gets one (section
11), through the real hub, worker and SMTP: the digest lists them once; everyone else, and
medium and above, still get them at once; a digest turned off lets its held ones go."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.reports import make_digest
from tests.mail import Mailbox, run_jobs, text_of
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.settings import Settings
from xplorr.notifications import notify
from xplorr.notifications.events import AnomalyDetected, Severity
from xplorr.notifications.models import Channel, DeliveryStatus, NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.reports import jobs as report_jobs
from xplorr.users.models import User


def anomaly(org_id: uuid.UUID, severity: Severity, service: str) -> AnomalyDetected:
    return AnomalyDetected(
        org_id=org_id,
        severity=severity,
        anomaly_id=uuid.uuid4(),
        scope="service",
        service=service,
        day=date(2026, 12, 1),
        actual=Decimal("165"),
        baseline=Decimal("100"),
        percent_above=Decimal("65"),
        currency="USD",
    )


async def send_digest(settings: Settings, org_id: uuid.UUID, row_id: uuid.UUID) -> None:
    engine = make_engine(settings.db_url)
    due = datetime.now(UTC) + timedelta(minutes=1)
    try:
        async with make_sessionmaker(engine)() as s:
            await queue.enqueue(
                s,
                report_jobs.DIGEST_SEND_JOB,
                {"id": str(row_id), "due_at": due.isoformat()},
                org_id=org_id,
            )
            await s.commit()
    finally:
        await engine.dispose()
    await run_jobs(settings)


async def _statuses(db: AsyncSession) -> dict[tuple[str, str], DeliveryStatus]:
    await db.rollback()
    rows = await db.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.channel == Channel.EMAIL)
        .execution_options(populate_existing=True)
    )
    return {(d.target, d.event_key.rsplit(":", 1)[-1]): d.status for d in rows.all()}


async def test_low_severity_waits_for_the_digest_and_goes_once(
    db: AsyncSession,
    client_for: ClientFor,
    org: Org,
    admin: User,
    member: User,
    mailbox: Mailbox,
    settings: Settings,
) -> None:
    org_id, admin_email, member_email = org.id, admin.email, member.email
    digest = await make_digest(db, org, admin, recipients=[admin_email])
    digest_id = digest.id
    await notify(db, anomaly(org_id, Severity.LOW, "AmazonS3"))
    await notify(db, anomaly(org_id, Severity.MEDIUM, "AmazonEC2"))
    await db.commit()
    await run_jobs(settings)
    # The admin gets a digest: the low one waits; the member gets no digest: at once.
    assert [m["Subject"] for m in mailbox.to(admin_email)] == [
        "[Xplorr] Medium cost anomaly: AmazonEC2"
    ]
    assert len(mailbox.to(member_email)) == 2
    assert (await _statuses(db))[(admin_email, "low")] == DeliveryStatus.BATCHED

    await send_digest(settings, org_id, digest_id)
    (digest_mail,) = [m for m in mailbox.to(admin_email) if "AmazonEC2" not in m["Subject"]]
    text = text_of(digest_mail)
    assert "Low-severity notifications since your last digest:" in text
    assert "[low] Low cost anomaly: AmazonS3" in text
    # Taken by this digest: marked sent, so no later digest lists it again.
    assert (await _statuses(db))[(admin_email, "low")] == DeliveryStatus.SENT

    # Held again, then the digest is turned off: the held one goes out on its own.
    await notify(db, anomaly(org_id, Severity.LOW, "AWSLambda"))
    await db.commit()
    before = len(mailbox.to(admin_email))
    r = await client_for(admin).patch(f"/digest-settings/{digest_id}", json={"enabled": False})
    assert r.status_code == 200, r.text
    await run_jobs(settings)
    (released,) = mailbox.to(admin_email)[before:]
    assert released["Subject"] == "[Xplorr] Low cost anomaly: AWSLambda"
    statuses = await _statuses(db)
    assert set(statuses.values()) == {DeliveryStatus.SENT}
