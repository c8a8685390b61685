"""Email: rendered from Jinja2 templates, kept in the ``outbox`` table, sent by a job.

A request never talks to an SMTP server: ``queue_email`` renders the message (plain text and
HTML, links built from ``XPLORR_BASE_URL``), adds an outbox row and an ``email.send`` job to the
caller's unit of work, so a rolled-back request sends nothing. The job sends through
aiosmtplib (STARTTLS when ``XPLORR_SMTP_TLS``), retried with the runner's backoff on failure.
Without ``XPLORR_SMTP_HOST`` the message stays in the outbox (status ``held``) and
``xplorr outbox`` lists it with its links, so a local user can still follow them. Logs name the
recipient, subject and template, never the body (it holds single-use tokens).
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from enum import StrEnum
from typing import Any

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Enum, ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import clock
from xplorr.core.jobs import queue
from xplorr.core.jobs.registry import JobContext, job
from xplorr.core.models import Base, IdMixin
from xplorr.core.settings import Settings, SmtpSettings

log = structlog.get_logger("xplorr.email")

SEND_JOB = "email.send"
SMTP_TIMEOUT_SECONDS = 30.0
_LINK = re.compile(r"https?://\S+")

SUBJECTS = {
    "verify_email": "Verify your email address",
    "reset_password": "Reset your Xplorr password",
    "invitation": "You are invited to join {org_name} on Xplorr",
    "scheduled_report": "{report_name}: {period}",
    "daily_digest": "Cloud costs of {org_name}, {day}",
    "weekly_summary": "Weekly cloud cost summary of {org_name}, {start} to {end}",
}
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # what common mail servers accept in one message

_env = Environment(
    loader=PackageLoader("xplorr", "templates/email"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its send job
    SENT = "sent"
    HELD = "held"  # no SMTP configured: read it with `xplorr outbox`


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class OutboxMessage(IdMixin, Base):
    """One rendered email. ``org_id`` ties it to its tenant (closing an org deletes it)."""

    __tablename__ = "outbox"
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    template: Mapped[str] = mapped_column(String(64))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=16, values_callable=_values),
        default=OutboxStatus.PENDING,
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]


class OutboxAttachment(IdMixin, Base):
    """A file sent with an outbox message (a scheduled report's PDF or workbook)."""

    __tablename__ = "outbox_attachments"
    outbox_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    data: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


def link(settings: Settings, path: str) -> str:
    """An absolute link into this installation (``XPLORR_BASE_URL``)."""
    return settings.base_url.rstrip("/") + "/" + path.lstrip("/")


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of ``template`` with ``context``; HTML is autoescaped."""
    subject = SUBJECTS[template].format(**context)
    text = _env.get_template(f"{template}.txt").render(**context)
    html = _env.get_template(f"{template}.html").render(**context)
    return subject, text, html


async def queue_email(
    db: AsyncSession,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    org_id: uuid.UUID | None,
    attachments: Sequence[Attachment] = (),
) -> OutboxMessage:
    """Render a message into the outbox (with its ``attachments``) and enqueue its send job,
    in the caller's transaction."""
    if sum(len(a.data) for a in attachments) > MAX_ATTACHMENT_BYTES:
        raise ValueError(f"attachments exceed {MAX_ATTACHMENT_BYTES} bytes")
    subject, text, html = render(template, context)
    message = OutboxMessage(
        id=uuid.uuid4(),
        org_id=org_id,
        to_address=to,
        subject=subject,
        template=template,
        text_body=text,
        html_body=html,
    )
    db.add(message)
    await db.flush()  # the message row first: no relationship() orders the two inserts
    for position, attachment in enumerate(attachments):
        db.add(
            OutboxAttachment(
                outbox_id=message.id,
                position=position,
                filename=attachment.filename,
                content_type=attachment.content_type,
                data=attachment.data,
            )
        )
    await db.flush()
    await queue.enqueue(db, SEND_JOB, {"outbox_id": str(message.id)}, org_id=org_id)
    return message


def build_message(
    smtp: SmtpSettings, row: OutboxMessage, attachments: Sequence[Attachment] = ()
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = smtp.from_
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    msg["Message-ID"] = make_msgid(domain=_sender_domain(smtp.from_))
    msg.set_content(row.text_body)
    msg.add_alternative(row.html_body, subtype="html")
    for a in attachments:
        maintype, _, subtype = a.content_type.partition("/")
        msg.add_attachment(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


async def attachments_of(db: AsyncSession, outbox_id: uuid.UUID) -> list[Attachment]:
    rows = await db.scalars(
        select(OutboxAttachment)
        .where(OutboxAttachment.outbox_id == outbox_id)
        .order_by(OutboxAttachment.position)
    )
    return [Attachment(r.filename, r.content_type, r.data) for r in rows.all()]


def _sender_domain(sender: str) -> str:
    match = re.search(r"@([^>\s]+)", sender)
    return match.group(1) if match else "localhost"


async def deliver(smtp: SmtpSettings, message: EmailMessage) -> None:
    """Hand one message to the SMTP server; raises on any failure (the job retries)."""
    import aiosmtplib  # imported on first send: workers start faster

    assert smtp.host is not None
    await aiosmtplib.send(
        message,
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.user,
        password=smtp.password.get_secret_value() if smtp.password else None,
        start_tls=smtp.tls,
        timeout=SMTP_TIMEOUT_SECONDS,
    )


@job(SEND_JOB, max_attempts=8)
async def send(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one outbox message. Idempotent: a sent or held message is left alone. Delivery is
    at-least-once: a worker that dies between the SMTP answer and its commit sends again."""
    row = await ctx.db.get(OutboxMessage, uuid.UUID(payload["outbox_id"]))
    if row is None or row.status != OutboxStatus.PENDING:
        return
    smtp = ctx.settings.smtp
    if not smtp.host:
        row.status = OutboxStatus.HELD
        log.info("email_held_in_outbox", to=row.to_address, subject=row.subject, id=str(row.id))
        return
    message = build_message(smtp, row, await attachments_of(ctx.db, row.id))
    # No transaction during the SMTP conversation: on SQLite it would hold the one
    # connection (and the embedded API with it) for as long as the server takes.
    await ctx.release_connection()
    await deliver(smtp, message)
    await ctx.db.refresh(row)
    row.status, row.sent_at = OutboxStatus.SENT, clock.now()
    log.info("email_sent", to=row.to_address, subject=row.subject, id=str(row.id))


async def list_outbox(db: AsyncSession, limit: int = 50) -> list[OutboxMessage]:
    """Newest first: for ``xplorr outbox`` (an operator tool, across organizations)."""
    rows = await db.scalars(
        select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit)
    )
    return list(rows.all())


def links_in(text: str) -> list[str]:
    return [url.rstrip(".,)") for url in _LINK.findall(text)]


async def list_outbox_cli(settings: Settings, limit: int) -> list[str]:
    """Lines for ``xplorr outbox``: when, status, recipient, subject, then each link."""
    from xplorr.core.db import make_engine, make_sessionmaker

    engine = make_engine(settings.db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = await list_outbox(db, limit)
    finally:
        await engine.dispose()
    lines = []
    for row in rows:
        lines.append(
            f"{row.created_at:%Y-%m-%d %H:%M:%S}Z  {row.status.value:<7}  {row.to_address}  "
            f"{row.subject}"
        )
        lines.extend(f"    {url}" for url in links_in(row.text_body))
    return lines or ["The outbox is empty."]
