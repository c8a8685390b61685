"""Job handlers for the job-runner tests; worker subprocesses import this module through
XPLORR_JOB_MODULES. Handlers record what they did in a file named by the payload, so a test can
read it even after the worker process was killed."""

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from xplorr.core import audit
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs.registry import JobContext, job, schedule


def _note(payload: dict[str, Any], line: str) -> None:
    with Path(payload["file"]).open("a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@job("test.record")
async def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    _note(payload, f"run {ctx.attempt}")


@job("test.slow")
async def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Sleeps long on the first attempt (to be killed), briefly on later ones."""
    _note(payload, f"start {ctx.attempt}")
    await asyncio.sleep(payload["first_sleep"] if ctx.attempt == 1 else 0.1)
    _note(payload, f"done {ctx.attempt}")


@job("test.flaky", max_attempts=5)
async def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
    if ctx.attempt < payload["succeed_on"]:
        raise RuntimeError(f"transient failure {ctx.attempt}")


@job("test.always_fails", max_attempts=2)
async def always_fails(_ctx: JobContext, _payload: dict[str, Any]) -> None:
    raise RuntimeError("boom")


@job("test.writes")
async def writes(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Writes an audit row in the attempt's transaction, then maybe fails."""
    await audit.record(ctx.db, "test.job_wrote", details={"attempt": ctx.attempt})
    await ctx.db.flush()
    if payload.get("fail"):
        raise ValueError("fails after writing")


GATES: dict[str, asyncio.Event] = {}


@job("test.gated")
async def gated(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Waits until the test opens its gate (in-process workers only), then writes an audit row
    in the attempt's transaction."""
    await GATES[payload["gate"]].wait()
    await audit.record(ctx.db, "test.gated_wrote", details={"attempt": ctx.attempt})
    await ctx.db.flush()


@job("test.overlap")
async def overlap(ctx: JobContext, payload: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    _note(payload, f"start {loop.time():.6f}")
    await asyncio.sleep(0.15)
    _note(payload, f"end {loop.time():.6f}")


if os.environ.get("XPLORR_TEST_SCHEDULE_FILE"):
    schedule(
        "test.periodic",
        every=timedelta(seconds=float(os.environ.get("XPLORR_TEST_SCHEDULE_SECONDS", "3600"))),
        job="test.record",
        payload={"file": os.environ["XPLORR_TEST_SCHEDULE_FILE"]},
    )


@job("test.holds_transaction")
async def holds_transaction(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Reads (which opens the attempt's transaction), then waits with it open."""
    await ctx.db.execute(select(func.count()).select_from(AuditEntry))
    await asyncio.sleep(payload["seconds"])


@job("test.network_outside_transaction")
async def network_outside_transaction(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Reads, ends its transaction, waits for the test's gate (the "network"), then writes."""
    await ctx.db.execute(select(func.count()).select_from(AuditEntry))
    await ctx.release_connection()
    await GATES[payload["gate"]].wait()
    await audit.record(ctx.db, "test.after_network", details={"attempt": ctx.attempt})
    await ctx.db.flush()


@job("test.release_after_write", max_attempts=1)
async def release_after_write(ctx: JobContext, _payload: dict[str, Any]) -> None:
    await audit.record(ctx.db, "test.before_network", details={})
    await ctx.db.flush()
    await ctx.release_connection()


@job("test.remind")
async def remind(_ctx: JobContext, _payload: dict[str, Any]) -> None:
    """The job a scheduled test row (tests/jobs/test_platform.py) runs."""
