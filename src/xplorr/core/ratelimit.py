"""Per-endpoint rate limits (api-reference "Rate limits" table) on the ``limits`` library.

Each route carries its rule in ``openapi_extra["x-rate-limit"]`` (so the OpenAPI document shows it);
routes without one get the default for their method at app start: writes 30/minute ("Write
Operations"), reads ``XPLORR_RATE_LIMIT_READ``. Buckets are per route and keyed by the user once
authenticated, by client IP before. Moving window; memory storage in one process, Redis storage
when ``XPLORR_REDIS_URL`` is set so every API process shares one count.
"""

import ipaddress
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from xplorr.core.errors import RateLimited
from xplorr.core.settings import Settings

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
        self._rules: dict[int, Rule] = {}

    def install_defaults(self, routers: Iterable[APIRouter], read: str, write: str) -> None:
        """Give every API route without an explicit rule the default of its method; index rules.

        Rules are indexed by the router's own route objects: that is what ``scope["route"]``
        holds when a request is served."""
        for router in routers:
            for route in router.routes:
                if not isinstance(route, APIRoute):
                    continue
                extra = route.openapi_extra = dict(route.openapi_extra or {})
                if EXTRA_KEY not in extra:
                    spec = write if (route.methods or set()) & _WRITE_METHODS else read
                    extra.update(limit(spec))
                rule = extra[EXTRA_KEY]
                self._rules[id(route)] = Rule(parse(rule["limit"]), rule["key"])

    def rule_for(self, route: APIRoute) -> Rule:
        return self._rules[id(route)]

    def client_ip(self, request: Request) -> str:
        """The socket peer, or the first untrusted hop of X-Forwarded-For when the peer is a
        trusted proxy (ASVS 4.1.3: a client cannot pick its own rate-limit key)."""
        peer = request.client.host if request.client else "unknown"
        if not self.trusted or not _in(peer, self.trusted):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not _in(hop, self.trusted):
                return hop
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


def _in(host: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in net for net in networks)
