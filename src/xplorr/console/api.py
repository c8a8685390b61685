"""The console's only way to data: the REST API of the same process, called in memory.

Every page is a view over the API a script would use, so a page can never disagree with it:
the same validation, role and account checks, rate limits, audit rows and error envelope.
A call carries an access token minted for the browser's login session (never sent to the
browser) and the browser's address, so limits and audit rows name the real client.
Numbers are parsed as ``Decimal``: the API sends exact amounts and the console keeps them.
"""

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from fastapi import Request

from xplorr.auth.browser import INTERNAL_READ_HEADER, BrowserLogin, internal_read_proof
from xplorr.core import security
from xplorr.core.deps import AuthKit

API_BASE = "http://console.internal/api/v1"


@dataclass
class ApiError(Exception):
    """The API's error envelope: what the console shows a person, in words."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    retry_after: str | None = None

    def __str__(self) -> str:
        return self.message

    def field_errors(self) -> dict[str, str]:
        """``{field: message}`` from a 422's details, for showing next to form inputs."""
        found: dict[str, str] = {}
        for item in self.details:
            name = str(item.get("field") or "").removeprefix("body.").removeprefix("query.")
            if name and name not in found:
                found[name] = str(item.get("message") or item.get("issue") or "")
        return found


@dataclass(frozen=True, slots=True)
class Download:
    content: bytes
    media_type: str
    filename: str | None


def _loads(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal) if content else None


def _encode(value: Any) -> Any:
    """Request bodies: Decimals go as JSON numbers with their exact digits."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


class ConsoleApi:
    """Calls to ``/api/v1`` on behalf of one browser request (with its login, or anonymous)."""

    def __init__(self, request: Request, kit: AuthKit, login: BrowserLogin | None) -> None:
        self._request = request
        self._kit = kit
        self.login = login

    def _client(self, method: str, *, counted: bool) -> httpx.AsyncClient:
        headers = {"accept": "application/json"}
        if method == "GET" and not counted:
            # Counted once as a page view by the console (web.py), not per read here.
            headers[INTERNAL_READ_HEADER] = internal_read_proof(self._kit)
        if self.login is not None:
            token = security.issue_access_token(
                self._kit.jwt,
                user_id=self.login.user_id,
                org_id=self.login.org_id,
                session_id=self.login.session_id,
            )
            headers["authorization"] = f"Bearer {token}"
        request_id = getattr(self._request.state, "request_id", None)
        if request_id:
            headers["x-request-id"] = request_id
        for name in ("user-agent", "x-forwarded-for"):
            if value := self._request.headers.get(name):
                headers[name] = value
        peer = self._request.client
        transport = httpx.ASGITransport(
            app=self._request.app,
            client=(peer.host, peer.port) if peer else ("127.0.0.1", 0),
        )
        return httpx.AsyncClient(transport=transport, base_url=API_BASE, headers=headers)

    async def raw(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        counted: bool = False,
    ) -> httpx.Response:
        """``counted``: a GET the API's own rate limit counts (writes always are)."""
        async with self._client(method, counted=counted) as client:
            response = await client.request(
                method,
                path,
                params=params,
                content=None if json_body is None else json.dumps(_encode(json_body)),
                headers={
                    **({"content-type": "application/json"} if json_body is not None else {}),
                    **(headers or {}),
                },
            )
        if response.status_code >= 400:
            raise _error(response)
        return response

    async def get(self, path: str, params: Any = None) -> Any:
        return _loads((await self.raw("GET", path, params=params)).content)

    async def post(self, path: str, body: Any = None, params: Any = None) -> Any:
        response = await self.raw("POST", path, params=params, json_body=body)
        return _loads(response.content)

    async def patch(self, path: str, body: Any) -> Any:
        return _loads((await self.raw("PATCH", path, json_body=body)).content)

    async def put(self, path: str, body: Any) -> Any:
        return _loads((await self.raw("PUT", path, json_body=body)).content)

    async def delete(self, path: str) -> Any:
        return _loads((await self.raw("DELETE", path)).content)

    async def download(self, path: str, params: Any = None) -> Download:
        # A file (a PDF, an export of 50,000 rows) costs what a page view does not: the
        # API's own limit counts it (PDF and Excel 10 per 15 minutes), as for any API caller.
        response = await self.raw("GET", path, params=params, counted=True)
        disposition = response.headers.get("content-disposition", "")
        filename = None
        if "filename=" in disposition:
            filename = disposition.split("filename=", 1)[1].strip().strip('"')
        return Download(
            content=response.content,
            media_type=response.headers.get("content-type", "application/octet-stream"),
            filename=filename,
        )


async def all_of(*calls: Awaitable[Any]) -> tuple[Any, ...]:
    """API calls of one page made side by side, every one finished before the first failure
    (in the order given) is raised: ``asyncio.gather`` alone would raise at once and leave the
    others running, with their database sessions, after the page has answered."""
    answers: tuple[Any, ...] = tuple(await asyncio.gather(*calls, return_exceptions=True))
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


def _error(response: httpx.Response) -> ApiError:
    try:
        err = response.json()["error"]
        return ApiError(
            status=response.status_code,
            code=str(err.get("code") or "ERROR"),
            message=str(err.get("message") or "The request failed."),
            details=list(err.get("details") or []),
            retry_after=response.headers.get("retry-after"),
        )
    except (ValueError, KeyError, TypeError):
        return ApiError(
            response.status_code, "ERROR", f"The server answered {response.status_code}."
        )
