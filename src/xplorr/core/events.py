"""Typed events: a change announces itself once, and every area that cares follows up.

An event is a small frozen pydantic model defined by the area that emits it (``costs.events``,
``orgs.events``). An area subscribes where it lives, in its ``jobs.py``::

    @subscribe(CostDataChanged, "anomalies.detect")
    async def detect(ctx: JobContext, event: CostDataChanged) -> None: ...

which registers the job ``anomalies.detect`` (its handler gets the event, validated). ``emit(db,
event)`` queues one job per subscriber in the caller's transaction: the follow-ups exist if and
only if the change commits, nobody polls, and a failing follow-up retries on its own without
touching the others. Subscribers are idempotent, as every job is (at-least-once).

``emit`` discovers the job modules first (``registry.discover``), so an event emitted by any
process (the API, a worker, a CLI command) reaches every subscriber of the installation, not
only those of the modules that process happened to import.

A ``scoped`` event (the default) queues its jobs with the event's ``org_id`` on the job row,
which the handlers trust (``ctx.org_id``) and which the organization's purge deletes. An event
about the organization's end (``OrgClosing``) is not scoped: its jobs must outlive the org row.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.jobs import queue, registry
from xplorr.core.jobs.models import Job
from xplorr.core.jobs.registry import JobContext, Lane


class Event(BaseModel):
    """Base of every event: ``name`` ("<area>.<past participle>") and the org it concerns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    scoped: ClassVar[bool] = True
    org_id: uuid.UUID


E = TypeVar("E", bound=Event)
Subscriber = Callable[[JobContext, E], Awaitable[None]]  # a handler that receives the event


@dataclass(frozen=True, slots=True)
class Subscription:
    event: type[Event]
    job: str
    lane: Lane


SUBSCRIPTIONS: dict[str, list[Subscription]] = {}  # event name -> subscribers, in order


def subscribe(
    event: type[E],
    job: str,
    *,
    max_attempts: int = registry.DEFAULT_MAX_ATTEMPTS,
    lane: Lane = Lane.DEFAULT,
    on_failure: registry.FailureHook | None = None,
) -> Callable[[Subscriber[E]], Subscriber[E]]:
    """Subscribe the job ``job`` to ``event``: register the decorated function as its handler
    (it receives the event) and queue it at every ``emit`` of that event."""
    registry.check_name(event.name)

    def register(handler: Subscriber[E]) -> Subscriber[E]:
        async def run(ctx: JobContext, payload: dict[str, Any]) -> None:
            await handler(ctx, event.model_validate(payload))

        run.__qualname__ = run.__name__ = getattr(handler, "__name__", job)
        subscribers = SUBSCRIPTIONS.setdefault(event.name, [])
        if any(s.job == job for s in subscribers):
            raise ValueError(f"job {job!r} already subscribes to {event.name!r}")
        registry.job(job, max_attempts=max_attempts, on_failure=on_failure, lane=lane)(run)
        subscribers.append(Subscription(event, job, lane))
        return handler

    return register


def unsubscribe(event: type[Event], job: str) -> None:
    """Remove a subscription and its job (tests that subscribe for one test)."""
    SUBSCRIPTIONS[event.name] = [s for s in SUBSCRIPTIONS.get(event.name, []) if s.job != job]
    registry.JOBS.pop(job, None)


def subscribers(event: type[Event]) -> list[str]:
    """The jobs subscribed to ``event`` (after discovering every job module)."""
    registry.discover()
    return [s.job for s in SUBSCRIPTIONS.get(event.name, [])]


async def emit(db: AsyncSession, event: Event) -> list[Job]:
    """Queue every subscriber's job for ``event`` in the caller's transaction (flushed, never
    committed here). -> the jobs queued."""
    registry.discover()
    payload = event.model_dump(mode="json")
    jobs = []
    for sub in SUBSCRIPTIONS.get(event.name, []):
        jobs.append(
            await queue.enqueue(
                db,
                sub.job,
                payload,
                org_id=event.org_id if event.scoped else None,
                lane=sub.lane,
            )
        )
    return jobs
