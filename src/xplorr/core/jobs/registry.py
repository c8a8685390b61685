"""Job handlers and periodic schedules, registered by name at import time.

Names are ``"<area>.<verb>"`` strings (CONVENTIONS.md): the name is what the jobs table stores, so
it must outlive refactors of the Python module that handles it. A worker only knows the handlers
of the modules it imported: its built-in ones plus ``Settings.job_modules``.

A handler gets a ``JobContext`` whose session is the attempt's unit of work: the runner commits
the handler's writes together with the job's ``succeeded`` mark, or rolls both back. Handlers
never commit, and must be idempotent: delivery is at-least-once (a worker killed after the
handler's effects left the process, e.g. an email sent, re-runs it).

A failed attempt rolls its writes back. A handler that must leave a trace of its failure (a sync
run marked ``failed``) registers ``on_failure``: the runner calls it in the transaction that
records the failure, after every failed attempt (``final`` says whether the job is now dead).
``PermanentJobError`` fails a job at once, without the retries meant for transient errors.
"""

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.settings import Settings

DEFAULT_MAX_ATTEMPTS = 5
MAX_NAME_LENGTH = 100  # jobs.name and job_schedule_slots.schedule are String(100)
_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler may use: this attempt's session, and the job row's identity.

    ``org_id`` comes from the job row, written by the service that enqueued it: trust it rather
    than an org id inside the payload."""

    db: AsyncSession
    job_id: uuid.UUID
    attempt: int
    org_id: uuid.UUID | None
    settings: Settings


class PermanentJobError(Exception):
    """Raised by a handler: retrying cannot help (bad credentials, bad data, a refused path).
    The job is buried as ``dead`` at once; the message is what operators read, so make it a
    sentence that says what to fix."""


class LeaseExpiredError(Exception):
    """What ``on_failure`` hooks receive for an attempt whose worker stopped heartbeating."""


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
# (context of the failed attempt, payload, the error, final: the job is now dead)
FailureHook = Callable[[JobContext, dict[str, Any], BaseException, bool], Awaitable[None]]
Interval = timedelta | Callable[[Settings], timedelta]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    on_failure: FailureHook | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """Enqueue ``job`` once per ``every`` (slots aligned on the Unix epoch, in UTC).

    ``every`` is a ``timedelta``, or a function of the worker's ``Settings`` returning one (an
    interval an operator configures, e.g. ``XPLORR_SYNC_INTERVAL_MINUTES``): workers call
    ``resolve(settings)`` before computing slots."""

    name: str
    every: Interval
    job: str
    payload: dict[str, Any] = field(default_factory=dict)
    key: str | None = None

    def resolve(self, settings: Settings) -> "Schedule":
        """This schedule with a fixed interval (itself when it already has one)."""
        if isinstance(self.every, timedelta):
            return self
        every = self.every(settings)
        _check_interval(every)
        return Schedule(self.name, every, self.job, dict(self.payload), self.key)


JOBS: dict[str, JobSpec] = {}
SCHEDULES: dict[str, Schedule] = {}


def check_name(name: str) -> str:
    """``"<area>.<verb>"``: lowercase dotted identifiers, at most 100 characters."""
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise ValueError(f"job and schedule names look like 'area.verb', got {name!r}")
    return name


def _check_interval(every: timedelta) -> None:
    if every < timedelta(seconds=1):
        raise ValueError("a schedule fires at most once a second")


def job(
    name: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    on_failure: FailureHook | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` under ``name``: ``@job("budgets.evaluate", max_attempts=5)``.

    ``max_attempts`` is the default for jobs of this name; ``enqueue`` may override it per job.
    ``on_failure`` runs in the transaction that records each failed attempt (module docstring).
    Registering another handler under a taken name is an error, not a silent replacement."""
    check_name(name)
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(handler: Handler) -> Handler:
        if name in JOBS and JOBS[name].handler is not handler:
            raise ValueError(f"job {name!r} is already registered")
        JOBS[name] = JobSpec(name, handler, max_attempts, on_failure)
        return handler

    return register


def schedule(
    name: str,
    *,
    every: Interval,
    job: str,
    payload: dict[str, Any] | None = None,
    key: str | None = None,
) -> Schedule:
    """Enqueue ``job`` with ``payload`` once per ``every``, whatever the number of workers.

    Slots are aligned on the Unix epoch: ``every=timedelta(hours=1)`` fires at the top of each
    UTC hour (or at the first worker tick after it). A slot missed while no worker ran is not
    caught up; pass ``key`` to keep a slow run from overlapping the next slot's. ``every`` may
    be a function of ``Settings`` (see ``Schedule``)."""
    check_name(name)
    check_name(job)
    if isinstance(every, timedelta):
        _check_interval(every)
    sched = Schedule(name, every, job, dict(payload or {}), key)
    if name in SCHEDULES and SCHEDULES[name] != sched:
        raise ValueError(f"schedule {name!r} is already registered")
    SCHEDULES[name] = sched
    return sched
