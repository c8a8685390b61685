"""Rate limits (api-reference "Rate limits"; security guide section 4 and plan items 30-32): the
documented limits are the ones in force, buckets are per user once authenticated and per client
IP before, X-Forwarded-For is believed only from trusted proxies, and limits can be switched off.

Every test here runs on whichever storage the ``settings`` fixture picks: memory by default,
Redis when ``XPLORR_TEST_REDIS_URL`` is set. The two-process tests are in
``test_ratelimit_redis.py``.
"""

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from limits import RateLimitItem, parse
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import AppWith, ClientFor, asgi_client, make_settings
from tests.factories.users import DEFAULT_PASSWORD, make_user
from xplorr import api
from xplorr.app import API_PREFIX
from xplorr.core.ratelimit import EXTRA_KEY, REFERENCE
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.users.models import User

# Every row of api-reference.txt that documents a rate limit (27 rows), kept in core: routes
# take their limit from it by method and path.
DOCUMENTED = REFERENCE
# Documented operations the app serves today: dropping or renaming one must fail here.
SERVED_TODAY = {
    ("POST", "/auth/login"),
    ("POST", "/auth/signup"),
    ("POST", "/tokens/exchange"),
    ("GET", "/costs"),
    ("GET", "/costs/trend"),
    ("POST", "/cloud-accounts"),
    ("POST", "/auth/2fa/authenticate"),
    ("POST", "/auth/2fa/disable"),
}
# Pre-authentication endpoints: the caller has no user yet, so the bucket must be the client IP.
KEYED_BY_IP = {
    ("POST", "/auth/login"),
    ("POST", "/auth/signup"),
    ("POST", "/auth/2fa/authenticate"),
    ("GET", "/auth/webauthn/authenticate/options"),
    ("POST", "/auth/webauthn/authenticate/verify"),
    # SAML single sign-on (no documented rate-limit row: "rest of SSO table cut").
    ("GET", "/auth/sso/check"),
    ("GET", "/auth/saml/init"),
    ("POST", "/auth/saml/acs"),
    ("GET", "/auth/saml/metadata/{org_slug}"),
}
# Probes stay unlimited: an orchestrator polling them must never see 429.
UNLIMITED = {"/healthz", "/readyz"}

LOGIN_LIMIT = 20  # "20/15 minutes"
LOGIN_WINDOW = 15 * 60


def _normalise(path: str) -> str:
    """``/budgets/{budget_id}`` and the reference's ``/budgets/{id}`` are the same operation."""
    return re.sub(r"{[^}]+}", "{}", path)


def _assert_rate_limited(r: httpx.Response, window_seconds: int) -> None:
    assert r.status_code == 429
    assert r.json()["error"] == {
        "code": "RATE_LIMITED",
        "message": r.json()["error"]["message"],
        "status": 429,
    }
    assert r.headers["retry-after"].isdigit()  # delta-seconds, never an HTTP-date
    assert 1 <= int(r.headers["retry-after"]) <= window_seconds


async def _login_codes(client: httpx.AsyncClient, n: int, xff: Sequence[str] = ()) -> list[int]:
    codes = []
    for i in range(n):
        headers = {"X-Forwarded-For": xff[i % len(xff)]} if xff else {}
        r = await client.post("/auth/login", json={}, headers=headers)
        codes.append(r.status_code)
    return codes


# (a) ------------------------------------------------------------------------------------------


async def test_login_allows_20_per_ip_then_answers_429_with_retry_after(
    client_for: ClientFor,
) -> None:
    anon = client_for(None, client=("203.0.113.10", 5000))
    wrong = {"email": "nobody@example.com", "password": "not the password at all"}
    codes = []
    for i in range(LOGIN_LIMIT):
        # Alternate a well-formed wrong login (reaches the handler: 401) and an empty body (422).
        r = await anon.post("/auth/login", json=wrong if i % 2 else {})
        codes.append(r.status_code)
    assert codes == [422, 401] * (LOGIN_LIMIT // 2)

    r = await anon.post("/auth/login", json=wrong)
    _assert_rate_limited(r, LOGIN_WINDOW)
    # Still limited, whatever the body: the 429 comes before validation.
    r = await anon.post("/auth/login", json={})
    _assert_rate_limited(r, LOGIN_WINDOW)


async def test_concurrent_burst_lets_exactly_the_limit_through(app: FastAPI) -> None:
    """Plan item 30: the count is atomic, so a burst cannot race past the limit."""
    gate = asyncio.Semaphore(100)

    async def one(c: httpx.AsyncClient) -> int:
        async with gate:
            return (await c.post("/auth/login", json={})).status_code

    async with asgi_client(app, peer="203.0.113.11") as anon:
        codes = await asyncio.gather(*(one(anon) for _ in range(1000)))
    assert sorted(set(codes)) == [422, 429]
    assert codes.count(422) == LOGIN_LIMIT


async def test_each_route_has_its_own_bucket(client_for: ClientFor) -> None:
    anon = client_for(None, client=("203.0.113.12", 5000))
    assert (await _login_codes(anon, LOGIN_LIMIT + 1))[-1] == 429
    r = await anon.post("/auth/signup", json={})
    assert r.status_code == 422  # signup's own 20/15 minutes is untouched


# (b) ------------------------------------------------------------------------------------------


class TestKeyedByUser:
    """Once authenticated, the bucket is the user's: not shared with other users on the same IP,
    and not escaped by changing IP."""

    @pytest.fixture
    def settings(self, db_url: str, tmp_path: Path) -> Settings:
        return make_settings(db_url, tmp_path, rate_limit_read="3/minute")

    async def test_two_users_on_one_ip_have_separate_buckets(
        self, client_for: ClientFor, member: User, admin: User
    ) -> None:
        peer = ("203.0.113.20", 5000)
        for user in (member, admin):
            client = client_for(user, client=peer)
            for _ in range(3):
                r = await client.get("/auth/me")
                assert r.status_code == 200
                assert r.json()["id"] == str(user.id)
            _assert_rate_limited(await client.get("/auth/me"), 60)

    async def test_a_user_keeps_their_bucket_from_another_ip(
        self, client_for: ClientFor, member: User, viewer: User
    ) -> None:
        first = client_for(member, client=("203.0.113.21", 5000))
        assert [(await first.get("/auth/me")).status_code for _ in range(3)] == [200] * 3
        moved = client_for(member, client=("198.51.100.21", 5000))
        _assert_rate_limited(await moved.get("/auth/me"), 60)
        # The IP the user left is not blocked for a different user on it, nor for anonymous calls.
        assert (await client_for(viewer, client=("203.0.113.21", 5000)).get("/auth/me")).is_success
        anon = client_for(None, client=("203.0.113.21", 5000))
        assert (await anon.get("/auth/me")).status_code == 401

    async def test_anonymous_calls_are_keyed_by_ip_not_by_user(
        self, client_for: ClientFor, member: User
    ) -> None:
        anon = client_for(None, client=("203.0.113.22", 5000))
        assert [(await anon.get("/auth/me")).status_code for _ in range(3)] == [401] * 3
        _assert_rate_limited(await anon.get("/auth/me"), 60)
        # A bad token is no user: it lands in the same IP bucket.
        bad = client_for(None, token="not-a-jwt", client=("203.0.113.22", 5000))
        _assert_rate_limited(await bad.get("/auth/me"), 60)
        # The user behind that IP has a bucket of their own.
        me = client_for(member, client=("203.0.113.22", 5000))
        assert (await me.get("/auth/me")).status_code == 200

    async def test_ip_keyed_routes_ignore_the_bearer(
        self, db: AsyncSession, client_for: ClientFor, org: Org
    ) -> None:
        """Login is keyed by IP even with a valid token: rotating accounts does not reset it."""
        peer = ("203.0.113.23", 5000)
        users = [await make_user(db, org, role=Role.MEMBER) for _ in range(3)]
        codes = []
        for i in range(LOGIN_LIMIT + 1):
            client = client_for(users[i % 3], client=peer)
            body = {"email": users[i % 3].email, "password": DEFAULT_PASSWORD}
            codes.append((await client.post("/auth/login", json=body)).status_code)
        assert codes == [200] * LOGIN_LIMIT + [429]


# (c) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("trusted", [[], ["10.0.0.0/8"]], ids=["no-proxies", "peer-untrusted"])
async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    app_with: AppWith, trusted: list[str]
) -> None:
    """Plan item 32: a client cannot pick its own key by sending X-Forwarded-For."""
    app = app_with(trusted_proxies=trusted)
    spoofs = [f"198.51.100.{i}" for i in range(LOGIN_LIMIT + 1)]
    async with asgi_client(app, peer="203.0.113.7") as c:
        codes = await _login_codes(c, LOGIN_LIMIT + 1, spoofs)
        assert codes == [422] * LOGIN_LIMIT + [429]  # one bucket: the socket peer
        # ...and the spoofed addresses got no bucket of their own.
        async with asgi_client(app, peer="198.51.100.1") as real:
            assert (await real.post("/auth/login", json={})).status_code == 422


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    app_with: AppWith,
) -> None:
    app = app_with(trusted_proxies=["10.0.0.0/8"])
    async with asgi_client(app, peer="10.1.1.1") as proxy:
        # Behind the proxy 10.1.1.1, two clients: each has its own bucket.
        assert await _login_codes(proxy, LOGIN_LIMIT + 1, ["203.0.113.1"]) == [422] * 20 + [429]
        assert await _login_codes(proxy, LOGIN_LIMIT, ["203.0.113.2"]) == [422] * 20
        # A client cannot dodge its bucket by prepending its own X-Forwarded-For entry:
        # the rightmost untrusted hop is the one the proxy saw.
        r = await proxy.post(
            "/auth/login", json={}, headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.1"}
        )
        assert r.status_code == 429
        # A chain of trusted proxies is skipped.
        r = await proxy.post(
            "/auth/login", json={}, headers={"X-Forwarded-For": "203.0.113.1, 10.9.9.9"}
        )
        assert r.status_code == 429
        # Without the header, the key is the proxy itself, a third bucket.
        assert (await proxy.post("/auth/login", json={})).status_code == 422


async def test_default_test_client_peer_as_trusted_proxy(app_with: AppWith) -> None:
    """The ASGI client's default peer (127.0.0.1) trusted: X-Forwarded-For decides the bucket."""
    app = app_with(trusted_proxies=["127.0.0.1/32"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://testserver{API_PREFIX}"
    ) as c:
        assert await _login_codes(c, LOGIN_LIMIT + 1, ["192.0.2.1"]) == [422] * 20 + [429]
        assert await _login_codes(c, 1, ["192.0.2.2"]) == [422]


# (d) ------------------------------------------------------------------------------------------


async def test_limits_can_be_disabled(app_with: AppWith, db: AsyncSession, org: Org) -> None:
    app = app_with(rate_limits_enabled=False, rate_limit_read="1/minute")
    async with asgi_client(app, peer="203.0.113.9") as c:
        assert await _login_codes(c, LOGIN_LIMIT + 5) == [422] * (LOGIN_LIMIT + 5)
        user = await make_user(db, org)
        login = await c.post(
            "/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )
        assert login.status_code == 200
        me = {"Authorization": f"Bearer {login.json()['access_token']}"}
        codes = [(await c.get("/auth/me", headers=me)).status_code for _ in range(5)]
        assert codes == [200] * 5


# (f) ------------------------------------------------------------------------------------------


def _operations(app: FastAPI) -> dict[tuple[str, str], dict[str, object]]:
    """(METHOD, path without the API prefix) -> the operation's ``x-rate-limit``."""
    out = {}
    for path, item in app.openapi()["paths"].items():
        if not path.startswith(f"{API_PREFIX}/"):
            assert path in UNLIMITED, f"{path} is outside {API_PREFIX}: limit it or list it"
            continue
        for method, op in item.items():
            assert EXTRA_KEY in op, f"{method.upper()} {path} has no {EXTRA_KEY}"
            out[(method.upper(), path.removeprefix(API_PREFIX))] = op[EXTRA_KEY]
    return out


def test_every_operation_has_a_limit_and_documented_ones_match(app: FastAPI) -> None:
    documented = {(m, _normalise(p)): spec for (m, p), spec in DOCUMENTED.items()}
    assert len(documented) == len(DOCUMENTED) == 27  # no two rows collapse into one
    present = set()
    for (method, path), rule in _operations(app).items():
        assert isinstance(rule, dict)
        assert set(rule) == {"limit", "key"}
        assert rule["key"] in {"auto", "ip"}
        item = parse(str(rule["limit"]))
        assert item.amount > 0
        key = (method, _normalise(path))
        if key in documented:
            assert item == parse(documented[key]), (key, rule["limit"], documented[key])
            present.add(key)
    assert {(m, _normalise(p)) for m, p in SERVED_TODAY} <= present
    for key in KEYED_BY_IP:
        assert _operations(app)[key]["key"] == "ip", key


def test_enforced_rules_are_the_documented_ones(app: FastAPI) -> None:
    """The OpenAPI document and the limiter read the same rules: what clients are told is what
    the dependency counts."""
    limiter = app.state.kit.limiter
    documented = _operations(app)
    routes = [r for router in api.ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert routes
    for route in routes:
        rule = limiter.rule_for(route)
        for method in route.methods:
            doc = documented[(method, route.path_format)]  # the path without convertors
            assert rule.item == parse(str(doc["limit"])), (method, route.path)
            assert rule.key == doc["key"], (method, route.path)


def test_unlisted_writes_and_reads_get_the_configured_defaults(
    app: FastAPI, settings: Settings
) -> None:
    ops = _operations(app)
    assert parse(str(ops[("POST", "/tokens")]["limit"])) == parse("30/minute")  # "Write Ops"
    assert ops[("DELETE", "/tokens/{token_id}")]["limit"] == settings.rate_limit_write
    assert ops[("GET", "/tokens")]["limit"] == settings.rate_limit_read


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("20/15 minutes", (20, 900)), ("5/30 minutes", (5, 1800)), ("10/hour", (10, 3600))],
)
def test_reference_units_parse_as_meant(spec: str, expected: tuple[int, int]) -> None:
    item: RateLimitItem = parse(spec)
    assert (item.amount, item.get_expiry()) == expected


# settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["not-a-network", "10.0.0.0/33"])
def test_bad_trusted_proxy_setting_is_refused(bad: str, tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make_settings("sqlite+aiosqlite:///x.db", tmp_path, trusted_proxies=[bad])


def test_trusted_proxies_read_from_a_comma_separated_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XPLORR_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.168.1.5"]


async def test_routes_of_nested_routers_get_their_rule(settings: Settings) -> None:
    """An area router may include a sub-router; FastAPI serves the sub-router's own route object
    (``scope["route"]``), which must find its rule rather than fail the request."""
    from fastapi import APIRouter

    from xplorr.core.ratelimit import RateLimiter, limit

    inner = APIRouter(prefix="/inner")

    @inner.post("/limited", openapi_extra=limit("2/minute", key="ip"))
    async def limited() -> None: ...

    @inner.get("/plain")
    async def plain() -> None: ...

    outer = APIRouter(prefix="/outer")
    outer.include_router(inner)
    limiter = RateLimiter(settings)
    try:
        limiter.install([outer], read="7/minute", write="3/minute")
        by_path = {r.path: r for r in inner.routes if isinstance(r, APIRoute)}
        assert limiter.rule_for(by_path["/inner/limited"]).item == parse("2/minute")
        assert limiter.rule_for(by_path["/inner/limited"]).key == "ip"
        assert limiter.rule_for(by_path["/inner/plain"]).item == parse("7/minute")
    finally:
        await limiter.aclose()


async def test_a_route_limit_that_contradicts_the_reference_is_refused(
    settings: Settings,
) -> None:
    """A route of a documented operation takes the reference's limit by method and path
    (``limit(key="ip")`` changes only the key); its own limit may only repeat the reference."""
    from fastapi import APIRouter

    from xplorr.core.ratelimit import RateLimiter, limit

    documented = APIRouter(prefix="/sync")

    @documented.post("/{account_id}", openapi_extra=limit(key="ip"))
    async def sync_one(account_id: str) -> None: ...

    contradicting = APIRouter(prefix="/costs")

    @contradicting.get("", openapi_extra=limit("1000/minute"))
    async def costs() -> None: ...

    limiter = RateLimiter(settings)
    try:
        limiter.install([documented], read="7/minute", write="3/minute")
        route = next(r for r in documented.routes if isinstance(r, APIRoute))
        assert limiter.rule_for(route).item == parse("10/hour")  # "Sync Triggers"
        assert limiter.rule_for(route).key == "ip"
        with pytest.raises(ValueError, match=r"GET /costs: limit '1000/minute' contradicts"):
            limiter.install([contradicting], read="7/minute", write="3/minute")
    finally:
        await limiter.aclose()


class TestClientAddress:
    """``client_ip`` edge cases: hops that are not addresses, IPv4-mapped IPv6 peers."""

    @staticmethod
    def _ip(limiter, peer: str, xff: str | None) -> str:
        from starlette.requests import Request

        headers = [(b"x-forwarded-for", xff.encode())] if xff is not None else []
        return limiter.client_ip(Request({"type": "http", "client": (peer, 1), "headers": headers}))

    def test_a_hop_that_is_not_an_address_falls_back_to_the_proxy(self, tmp_path: Path) -> None:
        from xplorr.core.ratelimit import RateLimiter

        limiter = RateLimiter(
            make_settings("sqlite+aiosqlite:///x.db", tmp_path, trusted_proxies=["10.0.0.0/8"])
        )
        assert self._ip(limiter, "10.0.0.5", "203.0.113.9") == "203.0.113.9"
        assert self._ip(limiter, "10.0.0.5", "anything-goes") == "10.0.0.5"
        assert self._ip(limiter, "10.0.0.5", "203.0.113.9, unknown") == "10.0.0.5"
        assert self._ip(limiter, "10.0.0.5", None) == "10.0.0.5"

    def test_ipv4_mapped_peers_are_ipv4(self, tmp_path: Path) -> None:
        from xplorr.core.ratelimit import RateLimiter

        limiter = RateLimiter(
            make_settings("sqlite+aiosqlite:///x.db", tmp_path, trusted_proxies=["10.0.0.0/8"])
        )
        assert self._ip(limiter, "::ffff:10.0.0.5", "::ffff:203.0.113.9") == "203.0.113.9"
        assert self._ip(limiter, "::ffff:198.51.100.1", "203.0.113.9") == "198.51.100.1"
