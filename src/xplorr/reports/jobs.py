"""Scheduled reports' jobs: the due scanner (every minute) queues one ``reports.send_scheduled``
per due schedule and slot; the send builds the report as the schedule's owner and queues the
mail (``reports.scheduling``). A failed attempt leaves its error on the schedule and is retried
with the runner's backoff."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock
from xplorr.core.jobs import periodic, registry
from xplorr.core.jobs.queue import error_text
from xplorr.core.jobs.registry import JobContext, Lane, PermanentJobError, job
from xplorr.core.settings import Settings
from xplorr.notifications.hub import digest_batching
from xplorr.reports import chat, digests, scheduling, weekly
from xplorr.reports.models import DigestSetting, ScheduledReport

SCAN_JOB = "reports.scan_scheduled"
SEND_JOB = "reports.send_scheduled"

periodic.due_scanner(SCAN_JOB, model=ScheduledReport, job=SEND_JOB, lane=Lane.BULK)


async def _on_failure(
    ctx: JobContext, payload: dict[str, Any], error: BaseException, final: bool
) -> None:
    if ctx.org_id is None:
        return
    prefix = "" if final else "Will retry: "
    await scheduling.record_failure(
        ctx.db, ctx.org_id, uuid.UUID(payload["id"]), prefix + error_text(error)
    )


@job(SEND_JOB, max_attempts=5, on_failure=_on_failure, lane=Lane.BULK)
async def send_scheduled(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one slot of one scheduled report (idempotent: a slot already sent is skipped)."""
    if ctx.org_id is None:
        raise PermanentJobError("a scheduled report's send job must carry its organization")
    try:
        await scheduling.send_slot(
            ctx.db,
            ctx.settings,
            ctx.org_id,
            uuid.UUID(payload["id"]),
            datetime.fromisoformat(payload["due_at"]),
            release=ctx.release_connection,
        )
    except scheduling.SendProblem as exc:
        raise PermanentJobError(str(exc)) from exc


DIGEST_SCAN_JOB = "reports.scan_digests"
DIGEST_SEND_JOB = "reports.send_digest"

periodic.due_scanner(DIGEST_SCAN_JOB, model=DigestSetting, job=DIGEST_SEND_JOB, lane=Lane.BULK)


async def _on_digest_failure(
    ctx: JobContext, payload: dict[str, Any], error: BaseException, final: bool
) -> None:
    if ctx.org_id is None:
        return
    prefix = "" if final else "Will retry: "
    await digests.record_failure(
        ctx.db, ctx.org_id, uuid.UUID(payload["id"]), prefix + error_text(error)
    )


@job(DIGEST_SEND_JOB, max_attempts=5, on_failure=_on_digest_failure, lane=Lane.BULK)
async def send_digest(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one slot of one daily digest (idempotent: a slot already sent is skipped)."""
    if ctx.org_id is None:
        raise PermanentJobError("a digest's send job must carry its organization")
    await digests.send_digest_slot(
        ctx.db,
        ctx.settings,
        ctx.org_id,
        uuid.UUID(payload["id"]),
        datetime.fromisoformat(payload["due_at"]),
    )


WEEKLY_FAN_OUT = "reports.weekly_fan_out"
WEEKLY_JOB = "reports.weekly_summary"


def weekly_cron(settings: Settings) -> str:
    """``XPLORR_WEEKLY_SUMMARY_CRON`` (UTC; default Mondays 09:00, product-notes section 25)."""
    return settings.weekly_summary_cron


periodic.fan_out_per_org(WEEKLY_FAN_OUT, job=WEEKLY_JOB)
registry.schedule(
    f"{WEEKLY_JOB}.every", cron=weekly_cron, timezone="UTC", job=WEEKLY_FAN_OUT, key=WEEKLY_FAN_OUT
)


@job(WEEKLY_JOB, max_attempts=5, lane=Lane.BULK)
async def weekly_summary(ctx: JobContext, _payload: dict[str, Any]) -> None:
    """Send one organization's weekly summaries: the users' emails and the chat post
    (idempotent per user, per chat and week); one LLM insight per distinct set of figures."""
    if ctx.org_id is None:
        raise PermanentJobError("a weekly summary job must carry its organization")
    today = clock.now().date()
    insights: weekly.InsightCache = {}
    await weekly.send_weekly(ctx.db, ctx.settings, ctx.org_id, today, insights=insights)
    await chat.post_weekly(
        ctx.db, ctx.settings, ctx.org_id, *weekly.week_before(today), insights=insights
    )


CHAT_DIGEST_FAN_OUT = "reports.chat_digest_fan_out"
CHAT_DIGEST_JOB = "reports.chat_digest"

periodic.fan_out_per_org(CHAT_DIGEST_FAN_OUT, job=CHAT_DIGEST_JOB, orgs=chat.orgs_with_chat)
registry.schedule(
    f"{CHAT_DIGEST_JOB}.every",
    every=timedelta(minutes=15),
    job=CHAT_DIGEST_FAN_OUT,
    key=CHAT_DIGEST_FAN_OUT,
)


@job(CHAT_DIGEST_JOB, max_attempts=5, lane=Lane.BULK)
async def chat_digest(ctx: JobContext, _payload: dict[str, Any]) -> None:
    """Post one organization's daily digest to its chat once its digest time has come (the
    digest is built at most once a day: ``reports.chat``)."""
    if ctx.org_id is None:
        raise PermanentJobError("a chat digest job must carry its organization")
    now = clock.now()
    await chat.post_daily(ctx.db, ctx.org_id, now)
    await chat.post_channel_dailies(ctx.db, ctx.org_id, now)


@digest_batching("reports.daily_digest")
async def digest_recipients(db: AsyncSession, org_id: uuid.UUID) -> frozenset[str]:
    """The addresses an enabled daily digest of the org goes to (the hub holds their
    low-severity notifications for it)."""
    return await digests.recipients_of(db, org_id)
