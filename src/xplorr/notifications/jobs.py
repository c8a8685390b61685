"""``notifications.deliver``: send one delivery row (email, Slack or Teams), at least once.

The job re-reads its row (by id and the job's org) and does nothing unless it is still
``pending``: a re-run after success sends nothing. It ends its transaction before the network
(``release_connection``), then marks the row ``sent`` in the transaction that records the job's
success. A worker killed between the receiver's answer and that commit sends again (at least
once; the event key keeps evaluations from adding deliveries, not the network from repeating).

Transient failures (connection errors, timeouts, SMTP 4xx, HTTP 429 and 5xx) are retried with
the runner's exponential backoff; permanent ones (SMTP 5xx, HTTP 3xx/4xx, a URL ``core.egress``
refuses, an unregistered webhook source) fail at once. Each failed attempt is written on the row
(``attempts``, ``last_error``); a delivery that failed for good is ``failed`` and leaves an audit
row (``notification.delivery_failed``) that org admins read in the audit log.

A delivery is ``skipped`` when, at send time, its user is no longer active or may no longer see
the event's account (``principal_for_user``), or its webhook's owner (an alert rule) is gone.
"""

import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import httpx
import structlog
from pydantic import BaseModel
from sqlalchemy import select

from xplorr.core import audit, clock, egress
from xplorr.core import email as core_email
from xplorr.core.jobs.queue import error_text
from xplorr.core.jobs.registry import JobContext, PermanentJobError, job
from xplorr.core.settings import Settings
from xplorr.notifications import render
from xplorr.notifications.batching import still_allowed
from xplorr.notifications.events import EVENT_TYPES, Notification, NotificationType
from xplorr.notifications.hub import CHANNEL_SENDERS, DELIVER_JOB, WEBHOOK_SOURCES
from xplorr.notifications.models import Channel, DeliveryStatus, NotificationDelivery

log = structlog.get_logger("xplorr.notifications")

MAX_ATTEMPTS = 6  # with the default 2 s base backoff: retries over about a minute
SLACK_HOSTS = ("hooks.slack.com",)
SLACK_PATHS = ("/services/", "/triggers/", "/workflows/")


class DeliverPayload(BaseModel):
    delivery_id: uuid.UUID


class TransientDeliveryError(Exception):
    """The receiver may accept it later (429, 5xx): retried with backoff."""


async def _load(ctx: JobContext, payload: dict[str, Any]) -> NotificationDelivery | None:
    p = DeliverPayload.model_validate(payload)
    return await ctx.db.scalar(
        select(NotificationDelivery).where(
            NotificationDelivery.id == p.delivery_id, NotificationDelivery.org_id == ctx.org_id
        )
    )


def event_of(delivery: NotificationDelivery) -> Notification:
    return EVENT_TYPES[NotificationType(delivery.event_type)].model_validate(delivery.payload)


def email_message(settings: Settings, to: str, subject: str, text: str, html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp.from_
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="xplorr.notifications")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


async def _send_email(ctx: JobContext, delivery: NotificationDelivery) -> DeliveryStatus:
    if not await still_allowed(ctx.db, delivery):
        return DeliveryStatus.SKIPPED
    subject, text, html = render.email(event_of(delivery), ctx.settings)
    smtp = ctx.settings.smtp
    if not smtp.host:
        # No SMTP: keep it readable with `xplorr outbox`, as every other email.
        ctx.db.add(
            core_email.OutboxMessage(
                id=uuid.uuid4(),
                org_id=delivery.org_id,
                to_address=delivery.target,
                subject=subject,
                template=f"notify_{delivery.event_type}",
                text_body=text,
                html_body=html,
                status=core_email.OutboxStatus.HELD,
            )
        )
        return DeliveryStatus.HELD
    message = email_message(ctx.settings, delivery.target, subject, text, html)
    await ctx.release_connection()
    try:
        await core_email.deliver(smtp, message)
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentJobError(f"The mail server refused the message ({exc.code}).") from exc
        raise
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise PermanentJobError("The mail server refused the recipient.") from exc
    return DeliveryStatus.SENT


async def _send_webhook(ctx: JobContext, delivery: NotificationDelivery) -> DeliveryStatus:
    source, _, source_id = delivery.target.partition(":")
    sender = CHANNEL_SENDERS.get(source)
    if sender is not None:  # a chat app's bot (channel routing), not a webhook URL
        return await sender(ctx, delivery, event_of(delivery))
    resolver = WEBHOOK_SOURCES.get(source)
    if resolver is None:
        raise PermanentJobError(f"No webhook source {source!r} is registered.")
    url = await resolver(
        ctx.db, ctx.settings, delivery.org_id, uuid.UUID(source_id), delivery.channel
    )
    if url is None:
        return DeliveryStatus.SKIPPED  # the rule or its webhook was removed since
    event = event_of(delivery)
    channel = delivery.channel  # read before the transaction ends (the row expires then)
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    if channel == Channel.SLACK:
        body = render.slack(event, ctx.settings)
        hosts, paths = SLACK_HOSTS, SLACK_PATHS
    else:
        body = render.teams(event, ctx.settings)
        hosts, paths = (), ()
    await ctx.release_connection()
    try:
        answer = await egress.post_json(url, body, ctx.settings, hosts=hosts, path_prefixes=paths)
    except egress.EgressRefused as exc:
        raise PermanentJobError(f"The webhook URL is refused: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TransientDeliveryError(
            f"The {channel.value} webhook could not be reached ({type(exc).__name__})."
        ) from exc
    if 200 <= answer.status_code < 300:
        return DeliveryStatus.SENT
    # The answer's body is never shown (API7): the status code says enough.
    message = f"The {channel.value} webhook answered HTTP {answer.status_code}."
    if answer.status_code == 429 or answer.status_code >= 500:
        raise TransientDeliveryError(message)
    raise PermanentJobError(message)


async def record_failure(
    ctx: JobContext, payload: dict[str, Any], error: BaseException, final: bool
) -> None:
    """In the transaction recording the failed attempt: the attempt and its reason on the row;
    once the job is dead, ``failed`` and an audit row."""
    delivery = await _load(ctx, payload)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return
    delivery.attempts = ctx.attempt
    delivery.last_error = error_text(error)
    if not final:
        return
    delivery.status = DeliveryStatus.FAILED
    await audit.record(
        ctx.db,
        "notification.delivery_failed",
        org_id=delivery.org_id,
        target=delivery,
        details={
            "event_type": delivery.event_type,
            "event_key": delivery.event_key,
            "channel": delivery.channel.value,
            "recipient": delivery.target,
            "attempts": ctx.attempt,
            "reason": delivery.last_error,
        },
    )
    log.warning(
        "notification_failed",
        delivery=str(delivery.id),
        type=delivery.event_type,
        channel=delivery.channel.value,
        attempts=ctx.attempt,
    )


@job(DELIVER_JOB, max_attempts=MAX_ATTEMPTS, on_failure=record_failure)
async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one pending delivery; a delivery already sent, held, failed or skipped is left."""
    delivery = await _load(ctx, payload)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return
    delivery_id = delivery.id
    if delivery.channel == Channel.EMAIL:
        status = await _send_email(ctx, delivery)
    else:
        status = await _send_webhook(ctx, delivery)
    fresh = await _load(ctx, {"delivery_id": str(delivery_id)})
    if fresh is None:
        return
    fresh.status = status
    fresh.attempts = ctx.attempt
    fresh.last_error = None
    if status == DeliveryStatus.SENT:
        fresh.sent_at = clock.now()
    log.info(
        "notification_delivered",
        delivery=str(delivery_id),
        type=fresh.event_type,
        channel=fresh.channel.value,
        status=status.value,
    )
