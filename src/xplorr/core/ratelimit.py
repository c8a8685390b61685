"""Per-endpoint rate limits (api-reference "Rate limits" table) on the ``limits`` library.

An operation's limit is, in this order: the operator's (``XPLORR_RATE_LIMIT_OVERRIDES``), its
own (``openapi_extra=limit("10/hour")``), the reference's row for its method and path
(``REFERENCE``), or this app's default for its method: writes ``XPLORR_RATE_LIMIT_WRITE``
(30/minute, the reference's "Write Operations"), reads ``XPLORR_RATE_LIMIT_READ``. A route's
own limit that contradicts its reference row is refused when the app starts, and so is an
override naming an operation the API does not serve. The OpenAPI document shows every
operation's effective limit. Buckets are per route and keyed by the user once authenticated,
by client IP before. Moving window; memory storage in one process, Redis storage when
``XPLORR_REDIS_URL`` is set so every API process shares one count.
"""

import asyncio
import ipaddress
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from xplorr.core.errors import RateLimited
from xplorr.core.settings import InvalidSetting, Settings

log = structlog.get_logger("xplorr.ratelimit")
KeyKind = Literal["auto", "ip"]
EXTRA_KEY = "x-rate-limit"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# Every row of api-reference.txt that documents a rate limit, by method and path (path ids in
# any spelling: ``/budgets/{budget_id}`` is the reference's ``/budgets/{id}``). Operations not
# served yet are listed too: an area that lands one gets its limit without saying so.
_AUTH = "20/15 minutes"  # "Login / Auth"
_COST = "30/minute"  # "Cost Queries"
_SYNC = "10/hour"  # "Sync Triggers"
_WRITE = "30/minute"  # "Write Operations"
_REPORT = "10/15 minutes"  # "Report Generation"
REFERENCE: Mapping[tuple[str, str], str] = {
    ("POST", "/auth/login"): _AUTH,
    ("POST", "/auth/signup"): _AUTH,
    ("POST", "/auth/forgot-password"): _AUTH,
    ("POST", "/auth/reset-password"): "5/30 minutes",
    ("POST", "/auth/resend-verification"): _AUTH,
    ("POST", "/auth/2fa/authenticate"): "10/15 minutes",
    ("POST", "/auth/2fa/disable"): "5/15 minutes",
    ("GET", "/costs"): _COST,
    ("GET", "/costs/trend"): _COST,
    ("POST", "/cloud-accounts"): "20/hour",
    ("POST", "/sync/all"): _SYNC,
    ("POST", "/sync/{id}"): _SYNC,
    ("POST", "/budgets"): _WRITE,
    ("PATCH", "/budgets/{id}"): _WRITE,
    ("POST", "/alerts"): _WRITE,
    ("PATCH", "/alerts/{id}"): _WRITE,
    ("POST", "/tagging-policies"): _WRITE,
    ("DELETE", "/tagging-policies/{id}"): _WRITE,
    ("POST", "/allocation-rules"): _WRITE,
    ("PATCH", "/allocation-rules/{id}"): _WRITE,
    ("POST", "/unit-economics/metrics"): _WRITE,
    ("GET", "/reports"): _REPORT,
    ("GET", "/reports/pdf"): _REPORT,
    ("GET", "/reports/excel"): _REPORT,
    ("POST", "/scheduled-reports"): _WRITE,
    ("PATCH", "/scheduled-reports/{id}"): _WRITE,
    ("POST", "/tokens/exchange"): "30/15 minutes",
}
_PATH_ID = re.compile(r"{[^}]+}")


def operation_key(method: str, path: str) -> tuple[str, str]:
    """``("POST", "/sync/{}")`` for ``post /sync/{account_id}``: how ``REFERENCE`` is looked up."""
    return method.upper(), _PATH_ID.sub("{}", path)


_REFERENCE = {operation_key(m, p): spec for (m, p), spec in REFERENCE.items()}
for _spec in REFERENCE.values():
    parse(_spec)


def reference_limit(method: str, path: str) -> str | None:
    """The reference's limit of ``method path`` (a path under ``/api/v1``, without it)."""
    return _REFERENCE.get(operation_key(method, path))


def limit(spec: str | None = None, *, key: KeyKind = "auto") -> dict[str, Any]:
    """A route's ``openapi_extra``: ``@router.post(..., openapi_extra=limit("20/15 minutes"))``
    for a limit of its own, ``limit(key="ip")`` for the reference's limit counted per client IP
    (what a caller without a user yet is known by)."""
    if spec is not None:
        parse(spec)  # fail at import time on a typo
    return {EXTRA_KEY: {"limit": spec, "key": key}}


@dataclass(frozen=True, slots=True)
class Rule:
    item: RateLimitItem
    key: KeyKind


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.storage: Storage
        if settings.redis_url:
            self.storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=f"{settings.redis_key_prefix}:rl",
            )
        else:
            self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.trusted = settings.trusted_proxy_networks
        self.login_failures = parse(settings.login_failure_limit)
        self.two_factor_failures = parse(settings.two_factor_failure_limit)
        self._rules: dict[int, tuple[APIRoute, Rule]] = {}
        self.overrides: Mapping[tuple[str, str], str] = settings.rate_limit_overrides

    def install(self, routers: Iterable[APIRouter], read: str, write: str) -> None:
        """Index each API route's rule: its own, or this app's default for its method.

        Rules are indexed by the routers' own route objects (what ``scope["route"]`` holds when
        a request is served). The routers are module globals shared by every app, so defaults
        live here, per app, never written back into the routes."""
        self.read_default, self.write_default = read, write
        served: set[tuple[str, str]] = set()
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute):
                    self._index(route)
                    served |= {operation_key(m, route.path) for m in route.methods or ()}
        unknown = sorted(set(self.overrides) - served)
        if unknown:
            named = ", ".join(f"{m} {p.replace('{}', '{id}')}" for m, p in unknown)
            raise InvalidSetting(
                f"XPLORR_RATE_LIMIT_OVERRIDES names what this API does not serve: {named} "
                "(give the method and the path under /api/v1, e.g. GET /costs=300/minute)."
            )

    def _index(self, route: APIRoute) -> Rule:
        extra = route.openapi_extra or {}
        own = extra.get(EXTRA_KEY, {}).get("limit")
        for method in route.methods or ():
            documented = reference_limit(method, route.path)
            if own is not None and documented is not None and parse(own) != parse(documented):
                raise ValueError(
                    f"{method} {route.path}: limit {own!r} contradicts the reference's "
                    f"{documented!r} (core.ratelimit.REFERENCE)"
                )
        spec = self.rule_spec(extra, route.methods or set(), route.path)
        rule = Rule(parse(spec["limit"]), spec["key"])
        self._rules[id(route)] = (route, rule)  # the route is kept so its id is never reused
        return rule

    def rule_spec(
        self, extra: Mapping[str, Any], methods: Iterable[str], path: str
    ) -> dict[str, Any]:
        """The ``x-rate-limit`` of an operation (``path`` without ``/api/v1``): its own limit,
        the reference's, or the default of its method."""
        own: Mapping[str, Any] = extra.get(EXTRA_KEY, {})
        methods = list(methods)
        spec = None
        for method in methods:  # the operator's word first (XPLORR_RATE_LIMIT_OVERRIDES)
            spec = spec or self.overrides.get(operation_key(method, path))
        spec = spec or own.get("limit")
        for method in methods:
            spec = spec or reference_limit(method, path)
        if spec is None:
            is_write = any(m.upper() in _WRITE_METHODS for m in methods)
            spec = self.write_default if is_write else self.read_default
        return {"limit": spec, "key": own.get("key", "auto")}

    def document(self, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
        """Show every API operation's effective limit in the OpenAPI document."""
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(prefix):
                for method, op in operations.items():
                    op[EXTRA_KEY] = self.rule_spec(op, [method], path.removeprefix(prefix))
        return schema

    def rule_for(self, route: APIRoute) -> Rule:
        """The rule of the route being served. A route ``install`` did not see (one of a router
        included into another router: ``router.routes`` lists only the inclusion) is indexed
        on its first request instead of failing it."""
        entry = self._rules.get(id(route))
        if entry is not None and entry[0] is route:
            return entry[1]
        return self._index(route)

    def client_ip(self, request: Request) -> str:
        """The socket peer, or the first untrusted hop of X-Forwarded-For when the peer is a
        trusted proxy (ASVS 4.1.3: a client cannot pick its own rate-limit key). A hop that is
        not an IP address cannot be attributed: the proxy itself is the key then."""
        peer = _canonical(request.client.host) if request.client else "unknown"
        if not self.trusted or not _in(peer, self.trusted):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            address = _canonical(hop)
            if not _is_ip(address):
                return peer
            if not _in(address, self.trusted):
                return address
        return peer

    async def hit(self, item: RateLimitItem, *ids: str) -> None:
        """Count one request; raise RATE_LIMITED with Retry-After when over the limit."""
        if not self.enabled:
            return
        if not await self.limiter.hit(item, *ids):
            raise RateLimited(await self.retry_after(item, *ids))

    async def check(self, item: RateLimitItem, *ids: str) -> None:
        """Raise RATE_LIMITED if the bucket is exhausted, without counting."""
        if self.enabled and not await self.limiter.test(item, *ids):
            raise RateLimited(await self.retry_after(item, *ids))

    async def retry_after(self, item: RateLimitItem, *ids: str) -> int:
        stats = await self.limiter.get_window_stats(item, *ids)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def clear(self, item: RateLimitItem, *ids: str) -> None:
        await self.limiter.clear(item, *ids)

    async def ready(self) -> bool:
        """Whether the limit store answers (always, for memory storage)."""
        try:
            return bool(await self.storage.check())
        except Exception as exc:  # an unreachable Redis raises; readiness answers 503 instead
            log.warning("rate_limit_store_unreachable", error=type(exc).__name__)
            return False

    async def aclose(self) -> None:
        """Close the Redis connection pool (``limits`` keeps it on its storage bridge), or stop
        the memory storage's expiry task."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()
        timer = getattr(self.storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
            await asyncio.wait([timer])


def _canonical(host: str) -> str:
    """``::ffff:10.0.0.1`` (an IPv4 client on a dual-stack socket) is ``10.0.0.1``."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _in(host: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in net for net in networks)
