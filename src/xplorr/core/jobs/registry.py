"""Job handlers and periodic schedules, registered by name at import time.

Names are ``"<area>.<verb>"`` strings (CONVENTIONS.md): the name is what the jobs table stores, so
it must outlive refactors of the Python module that handles it. Handlers live in their area's
``jobs.py``: ``discover()`` imports every ``xplorr.<area>.jobs`` module it finds (plus core's own
and ``Settings.job_modules``), so a new area's jobs need no list, and every process that enqueues
knows every name: ``enqueue`` refuses a name nobody registered (``UnknownJobError``), and a worker
that meets a job without a handler (a row written by another version) fails it for good.

A job runs in a lane (``Lane``): a worker takes the interactive lane first and keeps one of its
slots for it, so a user's "sync now" never waits behind every organization's digests.

A handler gets a ``JobContext`` whose session is the attempt's unit of work: the runner commits
the handler's writes together with the job's ``succeeded`` mark, or rolls both back. Handlers
never commit, and must be idempotent: delivery is at-least-once (a worker killed after the
handler's effects left the process, e.g. an email sent, re-runs it).

A failed attempt rolls its writes back. A handler that must leave a trace of its failure (a sync
run marked ``failed``) registers ``on_failure``: the runner calls it in the transaction that
records the failure, after every failed attempt (``final`` says whether the job is now dead).
``PermanentJobError`` fails a job at once, without the retries meant for transient errors.
"""

import importlib
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import areas
from xplorr.core.jobs import cron as crontab
from xplorr.core.jobs.unit import UnitOfWork
from xplorr.core.settings import Settings

DEFAULT_MAX_ATTEMPTS = 5
MAX_NAME_LENGTH = 100  # jobs.name and job_schedule_slots.schedule are String(100)
_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
# Core's own job modules; areas are found by ``discover`` (``xplorr.<area>.jobs``).
CORE_JOB_MODULES = ("xplorr.core.jobs.maintenance", "xplorr.core.email")


class Lane(IntEnum):
    """Which jobs a worker takes first (lower first); stored in ``jobs.lane``.

    ``INTERACTIVE``: someone is waiting for it (a sync asked for now, a PDF, a verification
    email); a worker with more than one slot keeps one for this lane. ``DEFAULT``: follow-ups of
    a change. ``BULK``: periodic work over every organization (fan-outs, digests, scheduled
    syncs), which may wait."""

    INTERACTIVE = 0
    DEFAULT = 1
    BULK = 2


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
    unit: UnitOfWork | None = None  # set by __post_init__: watches ``db``'s transactions

    def __post_init__(self) -> None:
        if self.unit is None:
            object.__setattr__(self, "unit", UnitOfWork(self.db))

    async def release_connection(self) -> None:
        """End this attempt's transaction before network I/O (a cloud API, SMTP, a webhook),
        so no lock or connection is held while waiting on the network: on SQLite that
        transaction holds the one connection, which the embedded API needs too.

        Only a transaction that has not written yet can end this way (its reads are simply
        over); after one that wrote it raises RuntimeError, since ending it would lose the
        writes. The next query opens a new transaction, which commits with the job's success.
        Objects read before are expired: read again what you use (``await db.refresh(row)``),
        it may have changed meanwhile."""
        assert self.unit is not None
        await self.unit.release()


class PermanentJobError(Exception):
    """Raised by a handler: retrying cannot help (bad credentials, bad data, a refused path).
    The job is buried as ``dead`` at once; the message is what operators read, so make it a
    sentence that says what to fix."""


class LeaseExpiredError(Exception):
    """What ``on_failure`` hooks receive for an attempt whose worker stopped heartbeating."""


class UnknownJobError(LookupError):
    """``enqueue`` of a name no handler is registered under (a typo, or a handler outside any
    discovered ``jobs`` module): refused at once rather than left to fail in a worker."""


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
# (context of the failed attempt, payload, the error, final: the job is now dead)
FailureHook = Callable[[JobContext, dict[str, Any], BaseException, bool], Awaitable[None]]
Interval = timedelta | Callable[[Settings], timedelta]
Cron = str | Callable[[Settings], str]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    on_failure: FailureHook | None = None
    lane: Lane = Lane.DEFAULT


@dataclass(frozen=True, slots=True)
class Schedule:
    """Enqueue ``job`` once per slot: per ``every`` (slots aligned on the Unix epoch, in UTC),
    or per fire time of the cron expression ``cron`` read in ``timezone`` (``core.jobs.cron``).

    ``every`` is a ``timedelta``, or a function of the worker's ``Settings`` returning one (an
    interval an operator configures, e.g. ``XPLORR_SYNC_INTERVAL_MINUTES``); ``cron`` likewise
    a string or a function of ``Settings`` (``XPLORR_WEEKLY_SUMMARY_CRON``): workers call
    ``resolve(settings)`` before computing slots."""

    name: str
    every: Interval | None
    job: str
    payload: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    cron: Cron | None = None
    timezone: str = "UTC"

    def resolve(self, settings: Settings) -> "Schedule":
        """This schedule with a fixed interval or cron string (itself when it has one)."""
        every, cron = self.every, self.cron
        if every is not None and not isinstance(every, timedelta):
            every = every(settings)
            _check_interval(every)
        if cron is not None and not isinstance(cron, str):
            cron = cron(settings)
            crontab.check(cron, self.timezone)
        if every is self.every and cron is self.cron:
            return self
        return Schedule(
            self.name, every, self.job, dict(self.payload), self.key, cron, self.timezone
        )


JOBS: dict[str, JobSpec] = {}
SCHEDULES: dict[str, Schedule] = {}
_discovered = False


def area_job_modules() -> list[str]:
    """``xplorr.<area>.jobs`` for every area package that has one."""
    return areas.area_modules("jobs")


def discover(extra: Iterable[str] = ()) -> None:
    """Import every model (foreign keys resolve across areas), core's job modules, every
    area's ``jobs`` module and ``extra`` (``Settings.job_modules``): their handlers, schedules
    and event subscriptions register themselves. Idempotent and cheap after the first call."""
    global _discovered
    if not _discovered:
        areas.import_models()
        for module in (*CORE_JOB_MODULES, *area_job_modules()):
            importlib.import_module(module)
        _discovered = True
    for module in extra:
        importlib.import_module(module)


def spec_for(name: str) -> JobSpec:
    """The handler registered under ``name`` (discovering the job modules first if this
    process has not yet), or ``UnknownJobError``."""
    spec = JOBS.get(name)
    if spec is None and not _discovered:
        discover()
        spec = JOBS.get(name)
    if spec is None:
        raise UnknownJobError(
            f"no job handler is registered under {name!r}: register it with @job in its "
            "area's jobs.py (xplorr.<area>.jobs modules are discovered)"
        )
    return spec


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
    lane: Lane = Lane.DEFAULT,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` under ``name``: ``@job("budgets.evaluate", max_attempts=5)``.

    ``max_attempts`` and ``lane`` are the defaults for jobs of this name; ``enqueue`` may
    override them per job. ``on_failure`` runs in the transaction that records each failed
    attempt (module docstring). Registering another handler under a taken name is an error,
    not a silent replacement."""
    check_name(name)
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(handler: Handler) -> Handler:
        if name in JOBS and JOBS[name].handler is not handler:
            raise ValueError(f"job {name!r} is already registered")
        JOBS[name] = JobSpec(name, handler, max_attempts, on_failure, Lane(lane))
        return handler

    return register


def schedule(
    name: str,
    *,
    job: str,
    every: Interval | None = None,
    cron: Cron | None = None,
    timezone: str = "UTC",
    payload: dict[str, Any] | None = None,
    key: str | None = None,
) -> Schedule:
    """Enqueue ``job`` with ``payload`` once per slot, whatever the number of workers: give
    ``every`` or ``cron`` (and its ``timezone``).

    Interval slots are aligned on the Unix epoch: ``every=timedelta(hours=1)`` fires at the top
    of each UTC hour (or at the first worker tick after it); ``every`` may be a function of
    ``Settings`` (see ``Schedule``). A cron schedule (``cron="0 9 * * 1"``,
    ``timezone="Europe/Paris"``) fires at each fire time, read on that zone's wall clock.
    Either way a worker fires the current slot if no worker did: slots missed while no worker
    ran collapse into one run. Pass ``key`` to keep a slow run from overlapping the next
    slot's. Per-row schedules (a report each user schedules) use ``periodic.due_scanner``."""
    check_name(name)
    check_name(job)
    if (every is None) == (cron is None):
        raise ValueError(f"schedule {name!r}: give exactly one of every= and cron=")
    if isinstance(every, timedelta):
        _check_interval(every)
    if isinstance(cron, str):
        crontab.check(cron, timezone)
    sched = Schedule(name, every, job, dict(payload or {}), key, cron, timezone)
    if name in SCHEDULES and SCHEDULES[name] != sched:
        raise ValueError(f"schedule {name!r} is already registered")
    SCHEDULES[name] = sched
    return sched
