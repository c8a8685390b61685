"""Scheduled reports: a report sent by email on a schedule of its own (``core.jobs.periodic``'s
``CronScheduled``: ``cron`` read in ``timezone``, ``next_run_at`` the next send, NULL while
paused)."""

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.jobs.periodic import CronScheduled
from xplorr.core.models import Base, JSONType


class ScheduledReport(CronScheduled, Base):
    """``created_by``: the owner whose *current* grants scope every send
    (``principal_for_user``); once that user is deactivated or removed the schedule stops
    (``is_active`` false, ``next_run_at`` NULL, ``last_error`` says why) until an admin takes
    it over by editing it. ``last_slot_at``: the fire time of the last slot sent, which makes a
    send idempotent (one email per slot, whatever the retries)."""

    __tablename__ = "scheduled_reports"
    audit_resource: ClassVar[str] = "scheduled_report"
    name: Mapped[str] = mapped_column(String(200))
    frequency: Mapped[str] = mapped_column(String(16))  # daily | weekly | monthly
    day_of_month: Mapped[int | None]
    day_of_week: Mapped[int | None]  # 0 Monday .. 6 Sunday
    hour: Mapped[int] = mapped_column(default=8)
    recipients: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    format: Mapped[str] = mapped_column(String(8))  # pdf | excel
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    last_sent_at: Mapped[datetime | None]
    last_slot_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def audit_name(self) -> str | None:
        return self.name


class DigestSetting(CronScheduled, Base):
    """A daily digest schedule (product-notes.md section 25): sent every day at ``hour``:
    ``minute`` in ``timezone`` to ``recipients`` by email (Slack and Teams channels join as
    destinations when the integrations area exists). Built as ``created_by`` as they are now;
    a deactivated creator's digests stop, as scheduled reports do."""

    __tablename__ = "digest_settings"
    audit_resource: ClassVar[str] = "digest_setting"
    recipients: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    hour: Mapped[int] = mapped_column(default=9)
    minute: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    last_sent_at: Mapped[datetime | None]
    last_slot_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A channel destination (a ``/channels`` row of the org) instead of email recipients;
    # ``destination`` stays "channel" when that row is deleted (the FK goes NULL), so the send
    # can tell a removed channel from an email digest and stop with a reason.
    destination: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    channel_config_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_channels.id", ondelete="SET NULL"), index=True
    )

    @property
    def audit_name(self) -> str | None:
        return f"daily digest {self.hour:02d}:{self.minute:02d} {self.timezone}"
