"""Per-request facts (request id, client IP, user agent) that logs and audit rows need."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    ip: str | None = None
    user_agent: str | None = None


current: ContextVar[RequestContext | None] = ContextVar("xplorr_request", default=None)


def get() -> RequestContext | None:
    return current.get()
