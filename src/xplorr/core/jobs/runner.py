"""Workers: ``xplorr worker`` processes, or one task inside ``xplorr serve`` when embedded.

Each loop turn: reap expired leases (at most every half lease), fire schedule slots that changed
since this worker last looked, then claim jobs while below ``concurrency``. A claimed job runs as
an asyncio task with a heartbeat task beside it; its handler's writes and its ``succeeded`` mark
commit together (one session, one commit per attempt). No leader: every worker does everything,
and the database decides who wins.
"""

import asyncio
import contextlib
import functools
import importlib
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
from xplorr.core.jobs.registry import JOBS, SCHEDULES, JobContext
from xplorr.core.settings import Settings

log = structlog.get_logger("xplorr.jobs")

BUILTIN_JOB_MODULES = ("xplorr.auth.jobs",)
SHUTDOWN_GRACE_SECONDS = 10.0


class ZombieAttemptError(Exception):
    """This attempt's lease was taken over by another worker: its work must not commit."""


def load_job_modules(extra: Iterable[str] = ()) -> None:
    """Import every model (foreign keys resolve across areas) and every job handler."""
    for module in ("xplorr.models_registry", *BUILTIN_JOB_MODULES, *extra):
        importlib.import_module(module)


class Worker:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
        self.concurrency = concurrency or settings.worker_concurrency
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._fired: dict[str, datetime] = {}
        self._last_reap: datetime | None = None
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
                requeued, dead = await queue.reap(db)
            self._last_reap = now
            if requeued or dead:
                log.warning("jobs_reaped", requeued=requeued, dead=dead, worker=self.id)
        await self.fire_schedules(now)
        while len(self.running) < self.concurrency:
            async with self.sessions() as db, db.begin():
                job = await queue.claim(db, self.id, self.lease)
            if job is None:
                return
            task = asyncio.create_task(self._execute(job), name=f"job:{job.name}:{job.id}")
            self.running[job.id] = task
            task.add_done_callback(functools.partial(self._done, job.id))

    def _done(self, job_id: uuid.UUID, _task: "asyncio.Task[None]") -> None:
        self.running.pop(job_id, None)
        self._wake.set()

    async def fire_schedules(self, now: datetime) -> None:
        for sched in list(SCHEDULES.values()):
            slot = queue.slot_of(sched, now)
            if self._fired.get(sched.name) == slot:
                continue
            async with self.sessions() as db, db.begin():
                fired = await queue.fire_slot(db, sched, slot)
            self._fired[sched.name] = slot
            if fired is not None:
                log.info("schedule_fired", schedule=sched.name, slot=slot.isoformat(), job=fired.id)

    async def _execute(self, job: queue.Claimed) -> None:
        logger = log.bind(job=str(job.id), name=job.name, attempt=job.attempt, worker=self.id)
        spec = JOBS.get(job.name)
        beat = asyncio.create_task(self._heartbeat(job, asyncio.current_task()))
        try:
            if spec is None:
                raise LookupError(f"no handler registered for job {job.name!r}")
            async with self.sessions() as db:
                ctx = JobContext(db, job.id, job.attempt, job.org_id, self.settings)
                await spec.handler(ctx, job.payload)
                if not await queue.mark_succeeded(db, job.id, job.attempt):
                    raise ZombieAttemptError(str(job.id))
                await db.commit()
            logger.info("job_succeeded")
        except asyncio.CancelledError:
            await self._release(job, logger)
            raise
        except ZombieAttemptError:
            logger.warning("job_attempt_superseded")
        except Exception as exc:
            logger.exception("job_failed")
            async with self.sessions() as db, db.begin():
                outcome = await queue.mark_failed(
                    db, job, exc, self.settings.job_backoff_base_seconds
                )
            if outcome is not None:
                logger.warning("job_will_retry" if outcome == JobStatus.QUEUED else "job_dead")
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self, job: queue.Claimed, runner: asyncio.Task[None] | None) -> None:
        interval = max(0.5, self.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.sessions() as db, db.begin():
                    owned = await queue.heartbeat(db, job.id, job.attempt, self.lease)
            except Exception:
                log.exception("job_heartbeat_failed", job=str(job.id))
                continue
            if not owned and runner is not None:
                log.warning("job_lease_lost", job=str(job.id), attempt=job.attempt)
                runner.cancel()
                return

    async def _release(
        self, job: queue.Claimed, logger: structlog.typing.FilteringBoundLogger
    ) -> None:
        try:
            async with self.sessions() as db, db.begin():
                await queue.release(db, job)
            logger.info("job_released")
        except Exception:
            logger.exception("job_release_failed")

    async def _drain(self) -> None:
        if not self.running:
            return
        tasks = list(self.running.values())
        _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
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
    """``xplorr worker``: until SIGTERM/SIGINT, then finish or give back running jobs."""
    load_job_modules(settings.job_modules)
    engine = make_engine(settings.db_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Worker(settings, engine, concurrency=concurrency).run(stop)
    finally:
        await engine.dispose()
