"""Pure ASGI middleware: a request id on every response and log line, the request context
(client IP, user agent) for audit rows, and a cap on request bodies (API4)."""

import re
import uuid
from typing import Any

import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xplorr.core import context
from xplorr.core.errors import envelope
from xplorr.core.ratelimit import RateLimiter

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
MAX_BODY_BYTES = 1024 * 1024


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        ip = self.limiter.client_ip(Request(scope))
        token = context.current.set(
            context.RequestContext(request_id, ip, headers.get("user-agent"))
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body:
                await self._too_large(send_with_id)
                return
            await self.app(scope, self._capped(receive), send_with_id)
        except _BodyTooLarge:
            await self._too_large(send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            context.current.reset(token)

    def _capped(self, receive: Receive) -> Receive:
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge
            return message

        return capped

    async def _too_large(self, send: Send) -> None:
        response = envelope(413, "PAYLOAD_TOO_LARGE", "Request body is larger than 1 MiB.")
        scope: dict[str, Any] = {"type": "http"}
        await response(scope, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
