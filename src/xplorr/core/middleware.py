"""Pure ASGI middleware: a request id on every response and log line, the request context
(client IP, user agent) for audit rows, and a 1 MiB cap on request bodies (API4).

The cap is enforced on the declared Content-Length and on the bytes actually streamed: past the
cap the app is told the client went away, and whatever it answers is replaced by the 413
envelope (raising from ``receive`` would be turned into a 400 by FastAPI's body parser)."""

import re
import uuid

import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xplorr.core import context
from xplorr.core.errors import envelope
from xplorr.core.ratelimit import RateLimiter

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
MAX_BODY_BYTES = 1024 * 1024


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # The limiter is read from the app bound to this request (``bind``), not kept here: an
        # application object can be rebound to other settings without rebuilding its stack.
        limiter: RateLimiter = scope["app"].state.kit.limiter
        ip = limiter.client_ip(Request(scope))
        token = context.current.set(
            context.RequestContext(request_id, ip, headers.get("user-agent"))
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)

        received = 0
        too_large = replaced = False

        async def capped_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if too_large and message["type"] == "http.response.start":
                replaced = True
                await self._too_large(scope, send_with_id_raw)
                return
            await send_with_id_raw(message)

        async def send_with_id_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body:
                await self._too_large(scope, send_with_id_raw)
                return
            await self.app(scope, capped_receive, send_with_id)
            if too_large and not replaced:
                await self._too_large(scope, send_with_id_raw)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            context.current.reset(token)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        mib = self.max_body / (1024 * 1024)
        response = envelope(413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {mib:g} MiB.")
        await response(scope, _disconnected, send)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}
