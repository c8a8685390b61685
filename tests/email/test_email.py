"""Email delivery: outbox row + job in the request's transaction, sent by the worker to a real
SMTP server on loopback, multipart with links from XPLORR_BASE_URL; without SMTP the message is
held in the outbox and `xplorr outbox` shows its link; SMTP failures are retried."""

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from tests.conftest import make_settings
from tests.mail import Mailbox, html_of, run_jobs, text_of
from xplorr.core import email
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.settings import Settings, SmtpSettings


async def _queue(settings: Settings, **context: object) -> email.OutboxMessage:
    engine = make_engine(settings.db_url)
    async with make_sessionmaker(engine)() as db:
        msg = await email.queue_email(
            db,
            to="ann@acme.example.com",
            template="invitation",
            context={
                "inviter_name": "Bob <b>",
                "org_name": "Acme & Co",
                "role": "member",
                "link": email.link(settings, "/accept-invitation?token=abc"),
                "expires_days": 7,
                **context,
            },
            org_id=None,
        )
        await db.commit()
    await engine.dispose()
    return msg


async def test_sent_by_the_job_as_multipart_with_escaped_html(
    settings: Settings, mailbox: Mailbox, db: AsyncSession
) -> None:
    msg = await _queue(settings)
    assert mailbox.messages == []  # nothing is sent before a worker runs the job
    await run_jobs(settings)
    assert len(mailbox.messages) == 1
    sent = mailbox.messages[0]
    assert sent["To"] == "ann@acme.example.com"
    assert sent["Subject"] == "You are invited to join Acme & Co on Xplorr"
    assert sent.get_content_type() == "multipart/alternative"
    assert "http://127.0.0.1:8000/accept-invitation?token=abc" in text_of(sent)
    assert "Bob <b> invited you" in text_of(sent)
    html = html_of(sent)
    assert "Bob &lt;b&gt;" in html
    assert "Acme &amp; Co" in html
    row = await db.get(email.OutboxMessage, msg.id)
    assert row is not None
    assert row.status == email.OutboxStatus.SENT
    assert row.sent_at is not None
    await run_jobs(settings)
    assert len(mailbox.messages) == 1  # a re-run sends nothing twice


async def test_links_follow_base_url(db_url: str, tmp_path, mailbox: Mailbox, smtp) -> None:
    settings = make_settings(
        db_url,
        tmp_path,
        base_url="https://finops.example.org/",
        smtp=SmtpSettings(host="127.0.0.1", port=smtp[0], tls=False),
    )
    await _queue(settings, link=email.link(settings, "/x?token=t"))
    await run_jobs(settings)
    assert "https://finops.example.org/x?token=t" in text_of(mailbox.messages[0])


@pytest.mark.slow
async def test_without_smtp_the_message_is_held_and_listed_by_the_cli(
    settings: Settings, db: AsyncSession
) -> None:
    assert settings.smtp.host is None
    with capture_logs() as logs:
        msg = await _queue(settings)
        await run_jobs(settings)
    row = await db.get(email.OutboxMessage, msg.id)
    assert row is not None
    assert row.status == email.OutboxStatus.HELD
    held = [e for e in logs if e["event"] == "email_held_in_outbox"]
    assert held
    assert held[0]["to"] == "ann@acme.example.com"
    assert "token=abc" not in repr(logs)  # the link's token never reaches the log
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "xplorr", "outbox"],
        capture_output=True,
        text=True,
        check=True,
        env={"XPLORR_DATABASE_URL": settings.db_url, "XPLORR_DATA_DIR": str(settings.data_dir)},
    )
    assert "ann@acme.example.com" in out.stdout
    assert "http://127.0.0.1:8000/accept-invitation?token=abc" in out.stdout


async def test_a_refused_send_is_retried(
    db_url: str, tmp_path, mailbox: Mailbox, smtp, db: AsyncSession
) -> None:
    settings = make_settings(
        db_url,
        tmp_path,
        job_backoff_base_seconds=0.05,
        smtp=SmtpSettings(host="127.0.0.1", port=smtp[0], tls=False),
    )
    mailbox.fail_next = 1
    msg = await _queue(settings)
    for _ in range(20):
        await run_jobs(settings)
        if mailbox.messages:
            break
        await asyncio.sleep(0.05)
    job = await db.scalar(select(Job).where(Job.name == "email.send"))
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)  # 451 first, then sent
    assert len(mailbox.messages) == 1
    row = await db.get(email.OutboxMessage, msg.id)
    assert row is not None
    assert row.status == email.OutboxStatus.SENT
