"""Per-endpoint rate limits (api-reference "Rate limits" table) on the ``limits`` library.

A route with a documented limit carries it in ``openapi_extra["x-rate-limit"]``; the others get
this app's default for their method: writes ``XPLORR_RATE_LIMIT_WRITE`` (30/minute, the
reference's "Write Operations"), reads ``XPLORR_RATE_LIMIT_READ``. The OpenAPI document shows
every operation's effective limit. Buckets are per route and keyed by the user once
authenticated, by client IP before. Moving window; memory storage in one process, Redis storage
when ``XPLORR_REDIS_URL`` is set so every API process shares one count.
"""

import asyncio
import ipaddress
import math
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
from xplorr.core.settings import Settings

log = structlog.get_logger("xplorr.ratelimit")
KeyKind = Literal["auto", "ip"]
EXTRA_KEY = "x-rate-limit"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def limit(spec: str, *, key: KeyKind = "auto") -> dict[str, Any]:
    """A route's ``openapi_extra``: ``@router.post(..., openapi_extra=limit("20/15 minutes"))``."""
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

    def install(self, routers: Iterable[APIRouter], read: str, write: str) -> None:
        """Index each API route's rule: its own, or this app's default for its method.

        Rules are indexed by the routers' own route objects (what ``scope["route"]`` holds when
        a request is served). The routers are module globals shared by every app, so defaults
        live here, per app, never written back into the routes."""
        self.read_default, self.write_default = read, write
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute):
                    self._index(route)

    def _index(self, route: APIRoute) -> Rule:
        spec = self.rule_spec(route.openapi_extra or {}, route.methods or set())
        rule = Rule(parse(spec["limit"]), spec["key"])
        self._rules[id(route)] = (route, rule)  # the route is kept so its id is never reused
        return rule

    def rule_spec(self, extra: Mapping[str, Any], methods: Iterable[str]) -> dict[str, Any]:
        """The ``x-rate-limit`` of an operation: explicit, or the default of its method."""
        if EXTRA_KEY in extra:
            spec: dict[str, Any] = extra[EXTRA_KEY]
            return spec
        is_write = any(m.upper() in _WRITE_METHODS for m in methods)
        default: dict[str, Any] = {
            "limit": self.write_default if is_write else self.read_default,
            "key": "auto",
        }
        return default

    def document(self, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
        """Show every API operation's effective limit in the OpenAPI document."""
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(prefix):
                for method, op in operations.items():
                    op[EXTRA_KEY] = self.rule_spec(op, [method])
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
