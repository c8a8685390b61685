"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and a helper that runs
the queued jobs (the email sends among them) with a real worker loop."""

import asyncio
import re
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from xplorr.core import clock
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.jobs.registry import SCHEDULES
from xplorr.core.jobs.runner import Worker, load_job_modules
from xplorr.core.settings import Settings


class Mailbox:
    """aiosmtpd handler: every message accepted is parsed and kept, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fail_next = 0  # answer 451 to this many DATA commands (transient failure)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.fail_next:
            self.fail_next -= 1
            return "451 Try again later"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def last_to(self, address: str) -> EmailMessage:
        found = self.to(address)
        assert found, f"no email to {address}; got {[m['To'] for m in self.messages]}"
        return found[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_smtp() -> tuple[Controller, Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, box


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def token_in(msg: EmailMessage, path: str) -> str:
    """The token of the link to ``path`` in the plain-text part."""
    match = re.search(rf"https?://\S+{re.escape(path)}\?token=([A-Za-z0-9_\-]+)", text_of(msg))
    assert match, text_of(msg)
    return match.group(1)


async def run_jobs(settings: Settings, rounds: int = 50) -> None:
    """Run every due job (and the jobs they enqueue) to completion with a real worker loop.
    Periodic schedules are held back meanwhile: only what the test queued runs."""
    load_job_modules()
    saved = dict(SCHEDULES)
    SCHEDULES.clear()
    engine = make_engine(settings.db_url)
    worker = Worker(settings, engine)
    try:
        for _ in range(rounds):
            await worker.tick()
            await asyncio.gather(*worker.running.values(), return_exceptions=True)
            # A job may finish (and queue its successor, e.g. the email it composed) while the
            # tick is still claiming: ask the table, not ``worker.running``, whether work is left.
            async with make_sessionmaker(engine)() as db:
                due = await db.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.status == JobStatus.QUEUED, Job.run_at <= clock.now())
                )
            if not due and not worker.running:
                return
        raise AssertionError("jobs did not drain")
    finally:
        SCHEDULES.update(saved)
        await engine.dispose()


async def drain(worker: Worker, rounds: int = 50) -> None:
    """Tick ``worker`` until nothing runs and nothing due is queued (bounded). The table is
    asked, not only ``worker.running``: a job may start and finish within one tick, and a busy
    worker keeps its last slot for the interactive lane, leaving other due jobs for later."""
    for _ in range(rounds):
        await worker.tick()
        await asyncio.gather(*worker.running.values(), return_exceptions=True)
        async with worker.sessions() as db:
            due = await db.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.status == JobStatus.QUEUED, Job.run_at <= clock.now())
            )
        if not due and not worker.running:
            return
    raise AssertionError("worker did not drain")


async def run_jobs_with_retries(
    settings: Settings, *, wait: float = 0.05, rounds: int = 40
) -> None:
    """``run_jobs``, then again while retried jobs wait for their (short) backoff."""
    engine = make_engine(settings.db_url)
    try:
        for _ in range(rounds):
            await run_jobs(settings)
            async with make_sessionmaker(engine)() as db:
                waiting = await db.scalar(
                    select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)
                )
            if not waiting:
                return
            await asyncio.sleep(wait)
        raise AssertionError("retried jobs did not finish")
    finally:
        await engine.dispose()
