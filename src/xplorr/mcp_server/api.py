"""The Xplorr API as the MCP tools call it: an ``xplorr_`` token exchanged at
``POST /tokens/exchange`` for a JWT, kept until a minute before it expires, then every call with
that JWT.

Why exchange rather than send the API token on every call: the API hashes and looks up an API
token on each request, a JWT it only verifies; and the exchange is limited to 30 per 15 minutes,
which a cache of ~14 minutes per token stays far below. Amounts are parsed as ``Decimal``
(``parse_float``): the API writes every digit, and a float would round large totals."""

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import structlog

from xplorr.mcp_server.config import McpConfig

log = structlog.get_logger("xplorr.mcp")

REFRESH_MARGIN_SECONDS = 60.0
"""A JWT is re-exchanged this long before it expires (a call must not carry one that dies on
the way)."""
MAX_CACHED_TOKENS = 1024
"""Multi-tenant: JWTs kept for this many distinct API tokens at most (least recently used
dropped first), so a stream of different tokens cannot grow the cache without bound."""

QueryValue = str | int | bool | Sequence[str] | None


class ApiError(Exception):
    """The API refused or failed a call; the message is what an assistant can act on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: str | None = None,
        fields: Sequence[str] = (),
    ) -> None:
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.fields = tuple(fields)
        text = f"Xplorr API answered {status} {code}: {message}"
        if fields:
            text += f" (fields: {', '.join(fields)})"
        if retry_after:
            text += f" Retry after {retry_after} seconds."
        super().__init__(text)


@dataclass(slots=True)
class _Jwt:
    token: str
    refresh_at: float  # the clock's reading after which it is exchanged again


def _key(api_token: str) -> str:
    # The cache never holds an API token itself, only its digest.
    return hashlib.sha256(api_token.encode()).hexdigest()


def _error(response: httpx.Response) -> ApiError:
    code, message, fields = "HTTP_ERROR", response.reason_phrase or "error", []
    try:
        body = response.json()
        err = body["error"]
        code, message = str(err["code"]), str(err["message"])
        fields = [str(d["field"]) for d in err.get("details") or [] if "field" in d]
    except (ValueError, KeyError, TypeError):
        # Not the API's envelope (a proxy's page, a wrong XPLORR_API_URL): status and reason.
        log.warning("mcp.api_non_envelope_error", status=response.status_code)
    return ApiError(
        response.status_code,
        code,
        message,
        retry_after=response.headers.get("retry-after"),
        fields=fields,
    )


class XplorrApi:
    """One per server process. The HTTP client is made on first use, inside the event loop
    that serves the tools (stdio's, uvicorn's), and closed by :meth:`aclose`."""

    def __init__(
        self,
        config: McpConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._transport = transport
        self._clock = clock
        self._http: httpx.AsyncClient | None = None
        self._jwts: OrderedDict[str, _Jwt] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=f"{self.config.api_url}/api/v1",
                timeout=self.config.timeout_seconds,
                follow_redirects=False,  # a redirect would carry the bearer elsewhere
                headers={"User-Agent": "xplorr-mcp", "Accept": "application/json"},
                transport=self._transport,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _exchange(self, api_token: str) -> _Jwt:
        try:
            response = await self._client().post(
                "/tokens/exchange", headers={"Authorization": f"Bearer {api_token}"}
            )
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code != 200:
            error = _error(response)
            if response.status_code == 401:
                raise ApiError(
                    401,
                    error.code,
                    "the API token was refused (unknown, revoked, expired or its user "
                    "deactivated): create a new one under Settings -> API Tokens.",
                )
            raise error
        body = response.json()
        expires_in = float(body["expires_in"])
        return _Jwt(body["token"], self._clock() + expires_in - REFRESH_MARGIN_SECONDS)

    async def jwt(self, api_token: str) -> str:
        """The cached JWT of ``api_token``, exchanged when missing or within a minute of
        expiring. One exchange at a time per token: concurrent tool calls share it."""
        key = _key(api_token)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                cached = self._jwts.get(key)
                if cached is None or self._clock() >= cached.refresh_at:
                    cached = await self._exchange(api_token)
                    self._jwts[key] = cached
                self._jwts.move_to_end(key)
                while len(self._jwts) > MAX_CACHED_TOKENS:
                    dropped, _ = self._jwts.popitem(last=False)
                    self._locks.pop(dropped, None)
                return cached.token
        finally:
            # A refused token keeps no lock: a stream of unknown tokens grows nothing.
            if key not in self._jwts and not lock.locked():
                self._locks.pop(key, None)

    def forget(self, api_token: str) -> None:
        self._jwts.pop(_key(api_token), None)

    def _unreachable(self, exc: httpx.HTTPError) -> ApiError:
        log.warning("mcp.api_unreachable", error=type(exc).__name__)
        return ApiError(
            502,
            "API_UNREACHABLE",
            f"the Xplorr API at {self.config.api_url} could not be reached "
            f"({type(exc).__name__}); check XPLORR_API_URL.",
        )

    async def request(
        self,
        api_token: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call ``method path`` as the token's user; the JSON answer with amounts as Decimal.
        A JWT refused with 401 (its API token was revoked since) is dropped and the call made
        once more with a fresh exchange, whose own refusal then says why."""
        query = {k: v for k, v in (params or {}).items() if v is not None and v != []}
        for attempt in (1, 2):
            jwt = await self.jwt(api_token)
            try:
                response = await self._client().request(
                    method,
                    path,
                    params=query,
                    json=body,
                    headers={"Authorization": f"Bearer {jwt}"},
                )
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from exc
            if response.status_code == 401 and attempt == 1:
                self.forget(api_token)
                continue
            if response.status_code >= 400:
                raise _error(response)
            if response.status_code == 204 or not response.content:
                return None
            return json.loads(response.text, parse_float=Decimal)
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def get(
        self, api_token: str, path: str, params: Mapping[str, QueryValue] | None = None
    ) -> Any:
        return await self.request(api_token, "GET", path, params=params)
