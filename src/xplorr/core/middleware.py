"""Pure ASGI middleware: a request id on every response and log line, the request context
(client IP, user agent) for audit rows, and the checks every request passes where it enters,
whatever route it reaches (API4, and PostgreSQL's limits on text):

- request headers over ``MAX_HEADER_BYTES`` in all: 431 ``REQUEST_HEADER_FIELDS_TOO_LARGE``;
- a body over ``MAX_BODY_BYTES`` (1 MiB; a route registered with ``allow_large_body`` has its
  own cap): 413 ``PAYLOAD_TOO_LARGE``;
- a NUL character in the path, a query parameter or a header, or text the database cannot
  store anywhere in a JSON or form body (``core.untrusted``): 422 ``VALIDATION_ERROR`` naming
  the field, never quoting it;
- a JSON body that is malformed or nested deeper than ``untrusted.MAX_JSON_DEPTH``: 422 with
  ``field: "body"``.

The body cap is enforced on the declared Content-Length and on the bytes actually streamed: past
the cap the app is told the client went away, and whatever it answers is replaced by the 413
envelope (raising from ``receive`` would be turned into a 400 by FastAPI's body parser). JSON
and form bodies are read whole (they are capped) and checked before the app sees them, then
handed to it unchanged."""

import email.message
import re
import time
import uuid
from urllib.parse import parse_qsl

import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xplorr.core import context, untrusted
from xplorr.core.errors import ValidationFailed, envelope, error_response, field_name
from xplorr.core.ratelimit import RateLimiter

access_log = structlog.get_logger("xplorr.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Path parameters whose values are credentials (an invitation or reset token): never logged.
_SECRET_PARAM = re.compile(r"token|secret|code|password|key", re.IGNORECASE)
MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024  # names and values together; Node's and h11's default
_NUL = "Must not contain a NUL character."
# Routes that take bodies larger than MAX_BODY_BYTES, and compressed ones, by path prefix
# (``allow_large_body``; an area registers its own, core names none). A compressed body
# (Content-Encoding other than identity) is passed through unread there: the endpoint inflates
# it under a cap of its own and checks it with ``untrusted`` itself. Elsewhere a Content-Encoding
# changes nothing: FastAPI never inflates, so the body is checked as sent.
_LARGE_BODIES: dict[str, int] = {}


def allow_large_body(prefix: str, max_bytes: int) -> None:
    """Let requests whose path starts with ``prefix`` send up to ``max_bytes`` (on the wire),
    and send them compressed."""
    _LARGE_BODIES[prefix] = max_bytes


def _large_body_cap(path: str) -> int | None:
    return next((cap for prefix, cap in _LARGE_BODIES.items() if path.startswith(prefix)), None)


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

        large_cap = _large_body_cap(scope["path"])
        cap = large_cap or self.max_body
        encoded = headers.get("content-encoding", "identity").strip().lower() != "identity"
        received = 0
        too_large = replaced = False
        started = time.perf_counter()
        status = 0

        async def capped_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if too_large and message["type"] == "http.response.start":
                replaced = True
                await self._too_large(scope, send_with_id_raw, cap)
                return
            await send_with_id_raw(message)

        async def send_with_id_raw(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
                kib = MAX_HEADER_BYTES // 1024
                response = envelope(
                    431,
                    "REQUEST_HEADER_FIELDS_TOO_LARGE",
                    f"Request headers are larger than {kib} KiB in all.",
                )
                await response(scope, _disconnected, send_with_id_raw)
                return
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                await self._too_large(scope, send_with_id_raw, cap)
                return
            if refused := _refused_in_head(scope):
                await _refuse(refused, scope, send_with_id_raw)
                return
            kind = _body_kind(headers.get("content-type"))
            if large_cap is not None and encoded:
                kind = None  # inflated and checked by the endpoint
            if kind is None:
                await self.app(scope, capped_receive, send_with_id)
            else:
                body = await _read_body(capped_receive)
                if too_large:
                    await self._too_large(scope, send_with_id_raw, cap)
                    return
                if body is None:  # the client went away before sending it all
                    return
                if body and (refused := _refused_in_body(kind, body)):
                    await _refuse(refused, scope, send_with_id_raw)
                    return
                await self.app(scope, _replay(body, receive), send_with_id)
            if too_large and not replaced:
                await self._too_large(scope, send_with_id_raw, cap)
        finally:
            if scope["app"].state.settings.access_log:
                _log_access(scope, status, time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")
            context.current.reset(token)

    async def _too_large(self, scope: Scope, send: Send, cap: int) -> None:
        mib = cap / (1024 * 1024)
        response = envelope(413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {mib:g} MiB.")
        await response(scope, _disconnected, send)


def _log_access(scope: Scope, status: int, seconds: float) -> None:
    """One line per request: method, path, status, duration, request id (bound in the
    context), user id. Never a query value (only the parameter names: a value can be a
    token) nor a path parameter that is a credential (an invitation link's token)."""
    path = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        if _SECRET_PARAM.search(name) and isinstance(value, str) and value:
            path = path.replace(value, "[redacted]")
    query = scope.get("query_string", b"").decode("latin-1")
    who = scope.get("state", {}).get("principal")
    access_log.info(
        "request",
        method=scope["method"],
        path=path,
        query_params=sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)}) or None,
        status=status or 500,  # nothing sent: the client went away, or the app crashed
        duration_ms=round(seconds * 1000, 1),
        user_id=str(who.user_id) if who is not None else None,
    )


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


# -- what enters ----------------------------------------------------------------------------

Refusal = tuple[str, str]  # (field, message)


def _refused_in_head(scope: Scope) -> Refusal | None:
    """A NUL in the path, a query parameter (name or value, once decoded) or a header."""
    if "\x00" in scope["path"]:
        return "path", _NUL
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name:
                return "query", "A parameter name must not contain a NUL character."
            if "\x00" in value:
                return field_name(("query", name)), _NUL
    for name, value in scope["headers"]:
        if b"\x00" in value or b"\x00" in name:
            return field_name(("header", name.decode("latin-1").replace("\x00", ""))), _NUL
    return None


def _body_kind(content_type: str | None) -> str | None:
    """``json`` or ``form`` for the bodies the API parses (as FastAPI decides it: a missing
    Content-Type is not JSON), else None: passed through unread."""
    if not content_type:
        return None
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    if parsed.get_content_maintype() != "application":
        return None
    subtype = parsed.get_content_subtype()
    if subtype == "json" or subtype.endswith("+json"):
        return "json"
    if subtype == "x-www-form-urlencoded":
        return "form"
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when the client disconnected first (or it was too large)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _refused_in_body(kind: str, body: bytes) -> Refusal | None:
    if kind == "form":
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name:
                return "body", "A form field name must not contain a NUL character."
            if "\x00" in value:
                return field_name(("body", name)), _NUL
        return None
    try:
        untrusted.parse_json(body)
    except untrusted.RefusedInput as exc:
        message = "Malformed JSON body." if exc.message == "Malformed JSON." else exc.message
        return field_name(("body", *exc.path)), message
    return None


async def _refuse(refused: Refusal, scope: Scope, send: Send) -> None:
    field, message = refused
    error = ValidationFailed.on(field, message)
    await error_response(error)(scope, _disconnected, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body, already read, as one message; then whatever the client sends next (its
    disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
