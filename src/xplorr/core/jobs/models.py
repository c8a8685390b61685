import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import clock
from xplorr.core.models import Base, IdMixin, JSONType, Timestamped


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"


class Job(IdMixin, Timestamped, Base):
    """A unit of background work; the table is the queue (ARCHITECTURE.md, security guide 3).

    ``key`` serialises work: at most one job per key is running (partial unique index), e.g.
    ``sync:<account id>``. A job enqueued with ``dedupe`` is also the only one of its key
    waiting to start (another partial unique index; a retry waiting out its backoff has
    ``attempts > 0`` and is not counted). ``attempts`` is bumped at each claim and fences
    zombie workers. ``lane`` (``registry.Lane``) orders claims: lower first.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "lane", "run_at"),
        Index(
            "uq_jobs_running_key",
            "key",
            unique=True,
            sqlite_where=text("status = 'running' AND key IS NOT NULL"),
            postgresql_where=text("status = 'running' AND key IS NOT NULL"),
        ),
        Index(
            "uq_jobs_queued_dedupe",
            "key",
            unique=True,
            sqlite_where=text("status = 'queued' AND attempts = 0 AND dedupe"),
            postgresql_where=text("status = 'queued' AND attempts = 0 AND dedupe"),
        ),
    )
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[JobStatus] = mapped_column(
        Enum(
            JobStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=JobStatus.QUEUED,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    lane: Mapped[int] = mapped_column(SmallInteger, default=1, server_default=text("1"))
    dedupe: Mapped[bool] = mapped_column(default=False, server_default=false())
    run_at: Mapped[datetime] = mapped_column(default=clock.now)
    lease_until: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class ScheduleSlot(Base):
    """One row per (schedule, time slot): the insert that wins fires the slot, so N workers fire
    each slot once with no leader."""

    __tablename__ = "job_schedule_slots"
    __table_args__ = (UniqueConstraint("schedule", "slot_at"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(100))
    slot_at: Mapped[datetime]
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
