"""One exception tree and one envelope: ``{"error": {"code", "message", "status"}}``.

XplorrError 500 INTERNAL_ERROR
  BadRequest 400 BAD_REQUEST
  Unauthorized 401 UNAUTHORIZED (+ WWW-Authenticate: Bearer)
  Forbidden 403 FORBIDDEN
  NotFound 404 NOT_FOUND, or <RESOURCE>_NOT_FOUND via ``NotFound.of``
  Conflict 409 CONFLICT
  PayloadTooLarge 413 PAYLOAD_TOO_LARGE
  ValidationFailed 422 VALIDATION_ERROR (+ details naming fields, never values)
  RateLimited 429 RATE_LIMITED (+ Retry-After)
  Upstream 502 UPSTREAM_ERROR
  DatabaseBusy 503 DATABASE_BUSY (+ Retry-After)

Codes are explicit attributes, not class names. Validation details never echo the input (it may be
a password) and a 500 never carries exception text: it is logged with the request id instead.
What does echo input (a field name that is a key the client sent, a path, a name in a conflict)
is cut short (``clip``): messages to ``MAX_MESSAGE`` characters, field names to ``MAX_FIELD``.
"""

import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar, Self

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("xplorr.errors")

MAX_MESSAGE = 500
MAX_FIELD = 100
MAX_FIELD_PART = 40  # one key of a field's path


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _clip_details(details: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    return [
        {
            key: clip(str(value), MAX_FIELD if key == "field" else MAX_MESSAGE)
            for key, value in detail.items()
        }
        for detail in details
    ]


class XplorrError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        commit: bool = False,
    ) -> None:
        self.message = clip(message or HTTPStatus(self.status).phrase, MAX_MESSAGE)
        self.error_code = code or self.code
        self.details = None if details is None else _clip_details(details)
        self.headers = dict(headers or {})
        # True: the request's unit of work is committed although the request fails (audit rows,
        # revocations that must survive the error response).
        self.commit = commit
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.error_code!r}, {self.message!r})"

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.error_code, "message": self.message}
        err["status"] = self.status
        if self.details is not None:
            err["details"] = list(self.details)
        return {"error": err}


class BadRequest(XplorrError):
    status, code = 400, "BAD_REQUEST"


class Unauthorized(XplorrError):
    status, code = 401, "UNAUTHORIZED"

    def __init__(self, message: str = "Authentication required.", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(XplorrError):
    status, code = 403, "FORBIDDEN"

    def __init__(
        self, message: str = "Your role does not allow this action.", **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)


class NotFound(XplorrError):
    status, code = 404, "NOT_FOUND"

    @classmethod
    def of(cls, resource: str, ident: object) -> Self:
        """``NotFound.of("ApiToken", id)``: 404 ``API_TOKEN_NOT_FOUND``, as in the reference."""
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", resource).upper()
        label = re.sub(r"(?<!^)(?=[A-Z])", " ", resource)
        return cls(f"{label} with ID '{ident}' not found.", code=f"{snake}_NOT_FOUND")


class Conflict(XplorrError):
    status, code = 409, "CONFLICT"


class PayloadTooLarge(XplorrError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class ValidationFailed(XplorrError):
    status, code = 422, "VALIDATION_ERROR"

    @classmethod
    def on(
        cls, field: str, message: str, *, summary: str | None = None, code: str | None = None
    ) -> Self:
        """422 naming one offending field: the message ``Invalid <field>: <message>`` (or
        ``summary``) and ``details`` ``[{"field", "message"}]``, as pydantic's errors read."""
        return cls(
            summary or f"Invalid {field}: {message}",
            code=code,
            details=[{"field": field, "message": message}],
        )


class RateLimited(XplorrError):
    status, code = 429, "RATE_LIMITED"

    def __init__(self, retry_after: int, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            message or f"Too many requests. Retry in {retry_after} seconds.",
            headers={"Retry-After": str(max(1, retry_after))},
            **kwargs,
        )


class Upstream(XplorrError):
    status, code = 502, "UPSTREAM_ERROR"


class DatabaseBusy(XplorrError):
    """The database could not be had within the API's wait (``XPLORR_DB_BUSY_TIMEOUT_SECONDS``):
    long work holds SQLite's writer, or the pool is exhausted. Nothing was changed."""

    status, code = 503, "DATABASE_BUSY"

    def __init__(self, waited_seconds: float) -> None:
        retry_after = max(1, math.ceil(waited_seconds))
        super().__init__(
            "The database is busy with other work; nothing was changed. "
            f"Retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


class ErrorBody(BaseModel):
    code: str
    message: str
    status: int
    details: list[dict[str, str]] | None = None


class ErrorEnvelope(BaseModel):
    """The body of every error response."""

    error: ErrorBody


_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    431: "REQUEST_HEADER_FIELDS_TOO_LARGE",
}


def error_response(exc: XplorrError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)


def envelope(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": clip(message, MAX_MESSAGE), "status": status}}
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def field_name(loc: Sequence[Any]) -> str:
    """``("body", "credentials", "path")`` -> ``credentials.path``. Keys may be the client's
    own (an unknown key, a tag name): each is clipped, and so is the whole name."""
    parts = [clip(str(p), MAX_FIELD_PART) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return clip(".".join(parts), MAX_FIELD) or "body"


def validation_details(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Field names and pydantic's message; never the submitted value (``input`` is dropped)."""
    details = []
    for err in errors:
        msg = str(err.get("msg", "Invalid value."))
        field = field_name(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            # FastAPI's location is ("body", <character offset>): the body is what is wrong.
            msg, field = "Malformed JSON body.", "body"
        details.append({"field": field, "message": msg})
    return details


async def _on_xplorr_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, XplorrError)
    if exc.status >= 500:
        log.error("request_failed", code=exc.error_code, error=exc.message)
    return error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc.errors())
    if len(details) == 1:
        message = f"Invalid {details[0]['field']}: {details[0]['message']}"
    else:
        message = f"Invalid request: check {', '.join(sorted({d['field'] for d in details}))}."
    return error_response(ValidationFailed(message, details=details))


class RespondWith(Exception):
    """Ends a request with ``response`` as it is: for pages (a redirect to the login page from a
    dependency), never for the API, whose errors are ``XplorrError``."""

    def __init__(self, response: Response) -> None:
        super().__init__("respond with a prepared response")
        self.response = response


async def _on_respond_with(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RespondWith)
    return exc.response


BrowserNotFound = Callable[[Request], Awaitable[Response | None]]
_browser_not_found: list[BrowserNotFound] = []


def on_browser_not_found(handler: BrowserNotFound) -> None:
    """Let a web area answer a 404 for a browser (a page, not the JSON envelope); the handler
    returns None for requests it does not serve (the API's paths, a client asking for JSON)."""
    _browser_not_found.append(handler)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        for handler in _browser_not_found:
            if (page := await handler(request)) is not None:
                return page
    headers = dict(exc.headers or {})
    path = clip(request.url.path, MAX_FIELD)
    if status == 404:
        message = f"No route for {request.method} {path}."
    elif status == 405:
        message = f"Method {request.method} is not allowed on {path}."
        if allowed := _allowed_methods(request):
            headers["Allow"] = ", ".join(allowed)
    elif status == 400:
        message = "The request body could not be read (not valid UTF-8 / JSON)."
    else:
        message = HTTPStatus(status).phrase
    return envelope(status, _CODES.get(status, "ERROR"), message, headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API serves on this path. Starlette's own ``Allow`` names only the first
    route that matched the path, while GET and POST of one path are separate routes."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    path = request.url.path
    if path in paths:  # a literal path wins over templates that would also match it
        matching = [paths[path]]
    else:
        matching = [
            operations
            for template, operations in paths.items()
            if re.match("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$", path)
        ]
    return sorted({m.upper() for operations in matching for m in operations if m != "parameters"})


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Runs in Starlette's outermost ServerErrorMiddleware, outside our request-id middleware, so
    # the id is read back from the request state and put on the response here.
    request_id = str(getattr(request.state, "request_id", ""))
    log.error(
        "unhandled_error",
        request_id=request_id,
        method=request.method,
        path=request.url.path,
        exc_info=exc,
    )
    message = f"An internal error occurred. Quote request id {request_id} when reporting it."
    return envelope(500, "INTERNAL_ERROR", message, {"X-Request-ID": request_id})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(XplorrError, _on_xplorr_error)
    app.add_exception_handler(RespondWith, _on_respond_with)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unhandled)
