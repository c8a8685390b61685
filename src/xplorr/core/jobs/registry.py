"""Job handlers and periodic schedules, registered by name at import time.

Names are ``"<area>.<verb>"`` strings (CONVENTIONS.md). A handler gets a ``JobContext`` whose
session is the attempt's unit of work: the runner commits the handler's writes together with the
job's ``succeeded`` mark, or rolls both back.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.settings import Settings

DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class JobContext:
    db: AsyncSession
    job_id: uuid.UUID
    attempt: int
    org_id: uuid.UUID | None
    settings: Settings


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass(frozen=True, slots=True)
class Schedule:
    """Enqueue ``job`` once per ``every`` (slots aligned on the Unix epoch, in UTC)."""

    name: str
    every: timedelta
    job: str
    payload: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


JOBS: dict[str, JobSpec] = {}
SCHEDULES: dict[str, Schedule] = {}


def job(name: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Callable[[Handler], Handler]:
    """Register ``handler`` under ``name``: ``@job("budgets.evaluate")``."""

    def register(handler: Handler) -> Handler:
        if name in JOBS and JOBS[name].handler is not handler:
            raise ValueError(f"job {name!r} is already registered")
        JOBS[name] = JobSpec(name, handler, max_attempts)
        return handler

    return register


def schedule(
    name: str,
    *,
    every: timedelta,
    job: str,
    payload: dict[str, Any] | None = None,
    key: str | None = None,
) -> Schedule:
    if every < timedelta(seconds=1):
        raise ValueError("a schedule fires at most once a second")
    sched = Schedule(name, every, job, dict(payload or {}), key)
    SCHEDULES[name] = sched
    return sched
