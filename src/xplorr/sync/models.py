"""Sync runs: one row per requested sync of a cloud account, kept after its job is purged."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, Enum, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class SyncState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncTrigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    CONNECT = "connect"  # first sync after an account is connected
    CLI = "cli"  # `xplorr import focus`: an operator loaded files by hand


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class SyncRun(OrgOwned, Base):
    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_account_created", "cloud_account_id", "created_at"),)
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE")
    )
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    trigger: Mapped[SyncTrigger] = mapped_column(
        Enum(SyncTrigger, native_enum=False, length=16, values_callable=_values)
    )
    state: Mapped[SyncState] = mapped_column(
        Enum(SyncState, native_enum=False, length=16, values_callable=_values),
        default=SyncState.QUEUED,
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    rows: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)  # readable, credentials masked
    data_through: Mapped[date | None] = mapped_column(Date)  # last complete day of data
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # periods imported/skipped
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
