"""Workers: ``xplorr worker`` processes, or one task inside ``xplorr serve`` when embedded.

Each loop turn: reap expired leases (at most every half lease), fire schedule slots that changed
since this worker last looked, then claim jobs while below ``concurrency``. A claimed job runs as
an asyncio task with a heartbeat task beside it; its handler's writes and its ``succeeded`` mark
commit together (one session, one commit per attempt). No leader: every worker does everything,
and the database decides who wins.

Stopping (SIGTERM/SIGINT for ``xplorr worker``, task cancellation for the embedded worker) lets
running jobs finish for a grace period, then cancels them; a cancelled attempt rolls back and
gives its job straight back to the queue. A killed worker gives nothing back: its jobs wait for
their leases to expire and the reaper of any other worker (or of its own next start).

Claims take the interactive lane first, and a worker with more than one slot keeps its last
free slot for that lane: a user's "sync now" starts within a poll even while bulk work (every
organization's digests) fills the others.

On SQLite the engine has one connection (one writer at a time), shared with the API when
embedded: an attempt holds it from its first query to its commit. Handlers keep that window
short: network calls outside it (``JobContext.release_connection`` ends a transaction that only
read), and long work split into one job per file, day or page (they enqueue their successors),
never minutes inside one transaction. A transaction open longer than
``XPLORR_JOB_TRANSACTION_WARN_SECONDS`` is logged (``job_transaction_long``) while it is still
open and again when it ends, with the job's name.
"""

import asyncio
import contextlib
import functools
import os
import signal
import socket
import uuid
from collections.abc import Coroutine, Iterable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from xplorr.core import clock
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import JobStatus
from xplorr.core.jobs.registry import (
    JOBS,
    SCHEDULES,
    JobContext,
    Lane,
    LeaseExpiredError,
    PermanentJobError,
    discover,
)
from xplorr.core.jobs.unit import UnitOfWork
from xplorr.core.settings import Settings

log = structlog.get_logger("xplorr.jobs")
# Below the 10 s most supervisors (docker stop, systemd's default is 90 s) wait before SIGKILL, so
# unfinished jobs are released rather than left for the reaper.
SHUTDOWN_GRACE_SECONDS = 8.0


class ZombieAttemptError(Exception):
    """This attempt's lease was taken over by another worker: its work must not commit."""


def load_job_modules(extra: Iterable[str] = ()) -> None:
    """Import every model and every job handler (``registry.discover``) and ``extra``."""
    discover(extra)


class Worker:
    """One worker loop over one engine. ``tick`` is one turn of the loop (tests drive it
    directly); ``run`` repeats it until ``stop`` is set or the task is cancelled."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
        shutdown_grace: float = SHUTDOWN_GRACE_SECONDS,
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.settings = settings
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
        self.concurrency = concurrency or settings.worker_concurrency
        self.shutdown_grace = shutdown_grace
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.transaction_warn = settings.job_transaction_warn_seconds
        # SQLite: one connection, which a handler's open transaction holds.
        self.single_connection = engine.dialect.name == "sqlite"
        self.running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._fired: dict[str, datetime] = {}
        self._last_reap: datetime | None = None
        self._claiming: asyncio.Future[bool] | None = None
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker_started", worker=self.id, concurrency=self.concurrency)
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    # A database hiccup must not kill the worker; the next turn retries.
                    log.exception("worker_tick_failed", worker=self.id)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        _first(stop.wait(), self._wake.wait()),
                        timeout=self.settings.job_poll_seconds,
                    )
        finally:
            await self._drain()
            log.info("worker_stopped", worker=self.id)

    async def tick(self) -> None:
        now = clock.now()
        if self._last_reap is None or now - self._last_reap >= self.lease / 2:
            async with self.sessions() as db, db.begin():
                requeued, dead = await queue.reap_expired(db)
                for job, final in [(j, False) for j in requeued] + [(j, True) for j in dead]:
                    expired = LeaseExpiredError(
                        "the worker running this job stopped (crashed or killed) before finishing"
                    )
                    await self._failure_hook(db, job, expired, final)
            self._last_reap = now
            if requeued or dead:
                log.warning("jobs_reaped", requeued=len(requeued), dead=len(dead), worker=self.id)
        await self.fire_schedules(now)
        while len(self.running) < self.concurrency:
            # Shielded: a worker cancelled (app shutdown) between the claim's commit and the
            # start of its task would strand the job until its lease ran out. ``_drain`` waits
            # for a claim in flight, then finishes or releases the job it started.
            self._claiming = asyncio.ensure_future(self._claim_and_start())
            if not await asyncio.shield(self._claiming):
                return

    async def _claim_and_start(self) -> bool:
        # The last free slot of a worker with several is kept for the interactive lane.
        reserved = self.concurrency > 1 and len(self.running) >= self.concurrency - 1
        async with self.sessions() as db, db.begin():
            job = await queue.claim(
                db, self.id, self.lease, max_lane=Lane.INTERACTIVE if reserved else None
            )
        if job is None:
            return False
        task = asyncio.create_task(self._execute(job), name=f"job:{job.name}:{job.id}")
        self.running[job.id] = task
        task.add_done_callback(functools.partial(self._done, job.id))
        return True

    def _done(self, job_id: uuid.UUID, _task: "asyncio.Task[None]") -> None:
        self.running.pop(job_id, None)
        self._wake.set()

    async def fire_schedules(self, now: datetime) -> None:
        """Try each schedule's current slot once per worker; the database picks one winner."""
        for registered in list(SCHEDULES.values()):
            try:
                sched = registered.resolve(self.settings)
            except Exception:
                log.exception("schedule_interval_invalid", schedule=registered.name)
                continue
            slot = queue.slot_of(sched, now)
            if self._fired.get(sched.name) == slot:
                continue
            try:
                async with self.sessions() as db, db.begin():
                    fired = await queue.fire_slot(db, sched, slot)
            except Exception:
                # One broken schedule must not stop the others, nor the claims; retried next tick.
                log.exception("schedule_fire_failed", schedule=sched.name, worker=self.id)
                continue
            self._fired[sched.name] = slot
            if fired is not None:
                log.info(
                    "schedule_fired", schedule=sched.name, slot=slot.isoformat(), job=str(fired.id)
                )

    async def _execute(self, job: queue.Claimed) -> None:
        """One attempt: handler and ``succeeded`` mark in one transaction, heartbeats beside.

        Outcomes: committed success; a fenced (superseded) attempt rolled back; a failure
        recorded for retry or as ``dead``; or, when the worker stops, the job released. A
        handler cancelled because its lease was lost is not released: it is no longer ours.
        A job whose name has no handler here fails for good: no retry will bring one."""
        logger = log.bind(job=str(job.id), name=job.name, attempt=job.attempt, worker=self.id)
        spec = JOBS.get(job.name)
        lease_lost, beat_stop = asyncio.Event(), asyncio.Event()
        db = self.sessions()
        unit = UnitOfWork(db)
        beat = asyncio.create_task(
            self._heartbeat(job, asyncio.current_task(), lease_lost, beat_stop, unit, logger)
        )

        async def end_heartbeat() -> None:
            # Asked, not cancelled: a heartbeat cancelled mid-statement would leave the driver
            # finishing it for a caller that is gone.
            beat_stop.set()
            await asyncio.wait([beat])

        try:
            if spec is None:
                raise PermanentJobError(
                    f"no handler registered for job {job.name!r} in this worker (was it "
                    "enqueued by another version of Xplorr, or is XPLORR_JOB_MODULES missing "
                    "a module?)"
                )
            async with db:
                ctx = JobContext(db, job.id, job.attempt, job.org_id, self.settings, unit)
                await spec.handler(ctx, job.payload)
                # Stop renewing before finishing: the fenced update below is the last word on
                # ownership, and a heartbeat racing the commit would only cancel a winner.
                await end_heartbeat()
                if not await queue.mark_succeeded(db, job.id, job.attempt):
                    raise ZombieAttemptError(str(job.id))
                await db.commit()
            logger.info("job_succeeded")
        except asyncio.CancelledError:
            await end_heartbeat()
            if lease_lost.is_set():
                logger.warning("job_lease_lost_attempt_abandoned")
            else:
                await self._release(job, logger)
            raise
        except ZombieAttemptError:
            logger.warning("job_attempt_superseded_rolled_back")
        except Exception as exc:
            await end_heartbeat()
            logger.exception("job_failed")
            await self._record_failure(job, exc, logger)
        finally:
            await end_heartbeat()
            await db.close()
            if unit.longest > self.transaction_warn:
                logger.warning("job_transaction_long", seconds=round(unit.longest, 3))

    async def _record_failure(
        self, job: queue.Claimed, exc: Exception, logger: structlog.typing.FilteringBoundLogger
    ) -> None:
        try:
            async with self.sessions() as db, db.begin():
                outcome = await queue.mark_failed(
                    db, job, exc, self.settings.job_backoff_base_seconds
                )
                if outcome is not None:
                    await self._failure_hook(db, job, exc, outcome == JobStatus.DEAD)
        except Exception:
            # The lease runs out and the reaper requeues the job: nothing is lost.
            logger.exception("job_failure_not_recorded")
            return
        if outcome is None:
            logger.warning("job_attempt_superseded_failure_ignored")
        elif outcome == JobStatus.DEAD:
            logger.error("job_dead", attempts=job.attempt)
        else:
            logger.warning("job_will_retry")

    async def _failure_hook(
        self, db: AsyncSession, job: queue.Claimed, exc: BaseException, final: bool
    ) -> None:
        """The job's ``on_failure`` hook, in the transaction recording the failure. In a
        savepoint: a broken hook is logged and rolled back, and the failure is still recorded
        (else a hook failing for good would keep the reaper from ever reaping)."""
        spec = JOBS.get(job.name)
        if spec is None or spec.on_failure is None:
            return
        ctx = JobContext(db, job.id, job.attempt, job.org_id, self.settings)
        try:
            async with db.begin_nested():
                await spec.on_failure(ctx, job.payload, exc, final)
        except Exception:
            log.exception("job_failure_hook_failed", job=str(job.id), name=job.name)

    async def _heartbeat(
        self,
        job: queue.Claimed,
        runner: asyncio.Task[Any] | None,
        lost: asyncio.Event,
        stop: asyncio.Event,
        unit: UnitOfWork,
        logger: structlog.typing.FilteringBoundLogger,
    ) -> None:
        """Renew the lease every third of it until ``stop``; cancel the handler once the job is
        not ours. Warns once about a transaction held open too long, while it still is."""
        interval = max(0.5, min(self.lease.total_seconds() / 3, self.transaction_warn / 2))
        renew_every = max(0.5, self.lease.total_seconds() / 3)
        renewed = asyncio.get_running_loop().time()
        warned = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
                return
            if not warned and unit.open_for() > self.transaction_warn:
                warned = True
                logger.warning(
                    "job_transaction_long", seconds=round(unit.open_for(), 3), still_open=True
                )
            if asyncio.get_running_loop().time() - renewed < renew_every:
                continue
            if self.single_connection and unit.open_for():
                # The attempt's own transaction holds the one connection: a beat would wait on
                # it, and the attempt's commit on the beat. Renew once the transaction ends
                # (a transaction held past the lease is what the warning above is about).
                continue
            renewed = asyncio.get_running_loop().time()
            try:
                async with self.sessions() as db, db.begin():
                    owned = await queue.heartbeat(db, job.id, job.attempt, self.lease)
            except Exception:
                # Transient (database restart, SQLite busy): the lease has slack for two misses.
                log.exception("job_heartbeat_failed", job=str(job.id), attempt=job.attempt)
                continue
            if not owned:
                log.warning("job_lease_lost", job=str(job.id), attempt=job.attempt)
                lost.set()
                if runner is not None:
                    runner.cancel()
                return

    async def _release(
        self, job: queue.Claimed, logger: structlog.typing.FilteringBoundLogger
    ) -> None:
        try:
            async with self.sessions() as db, db.begin():
                released = await queue.release(db, job)
        except Exception:
            # Not fatal: the lease expires and the reaper requeues the job.
            logger.exception("job_release_failed")
            return
        logger.info("job_released" if released else "job_release_skipped_not_owned")

    def abort(self) -> None:
        """Cancel running handlers now; each gives its job back (second Ctrl-C)."""
        for task in list(self.running.values()):
            task.cancel()

    async def _drain(self) -> None:
        """Let running jobs finish within the grace period, then cancel (release) the rest."""
        claiming = self._claiming
        if claiming is not None and not claiming.done():
            await asyncio.wait([claiming])
            if not claiming.cancelled() and claiming.exception() is not None:
                log.error("job_claim_failed", worker=self.id, exc_info=claiming.exception())
        if not self.running:
            return
        tasks = list(self.running.values())
        log.info("worker_draining", worker=self.id, running=len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=self.shutdown_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _first(*aws: Coroutine[Any, Any, Any]) -> None:
    """Return when the first of ``aws`` completes; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


async def run_embedded(settings: Settings, engine: AsyncEngine) -> None:
    """The worker inside ``xplorr serve`` (embedded mode); stops when its task is cancelled."""
    load_job_modules(settings.job_modules)
    await Worker(settings, engine).run(asyncio.Event())


async def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    """``xplorr worker``: until SIGTERM/SIGINT, then let running jobs finish for a grace period
    and give back the rest. A second signal gives them back at once."""
    load_job_modules(settings.job_modules)
    slots = concurrency or settings.worker_concurrency
    # Each running job holds a connection for its handler and briefly takes one to heartbeat;
    # the loop takes one to claim. SQLite keeps make_engine's single connection (one writer).
    pool: dict[str, Any] = (
        {} if settings.is_sqlite else {"pool_size": slots + 2, "max_overflow": slots}
    )
    engine = make_engine(settings.db_url, **pool)
    worker = Worker(settings, engine, concurrency=concurrency)
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        log.info("worker_signal", signal=signal.Signals(signum).name, worker=worker.id)
        if stop.is_set():
            worker.abort()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await worker.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await engine.dispose()
