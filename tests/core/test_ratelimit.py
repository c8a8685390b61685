"""Rate limits: the reference's documented limits are the ones in force, X-Forwarded-For is
believed only from trusted proxies, and limits can be switched off for benchmarks."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from limits import parse

from tests.conftest import make_settings
from xplorr.app import create_app, shutdown
from xplorr.core.ratelimit import EXTRA_KEY

# Every row of api-reference.txt that documents a rate limit. Operations that exist in the app
# must carry exactly this limit; the others are checked as their areas land.
DOCUMENTED = {
    ("POST", "/auth/login"): "20/15 minutes",
    ("POST", "/auth/signup"): "20/15 minutes",
    ("POST", "/auth/forgot-password"): "20/15 minutes",
    ("POST", "/auth/reset-password"): "5/30 minutes",
    ("POST", "/auth/resend-verification"): "20/15 minutes",
    ("POST", "/auth/2fa/authenticate"): "10/15 minutes",
    ("POST", "/auth/2fa/disable"): "5/15 minutes",
    ("GET", "/costs"): "30/minute",
    ("GET", "/costs/trend"): "30/minute",
    ("POST", "/cloud-accounts"): "20/hour",
    ("POST", "/sync/all"): "10/hour",
    ("POST", "/sync/{accountId}"): "10/hour",
    ("POST", "/budgets"): "30/minute",
    ("PATCH", "/budgets/{id}"): "30/minute",
    ("POST", "/alerts"): "30/minute",
    ("PATCH", "/alerts/{id}"): "30/minute",
    ("POST", "/tagging-policies"): "30/minute",
    ("DELETE", "/tagging-policies/{id}"): "30/minute",
    ("POST", "/allocation-rules"): "30/minute",
    ("PATCH", "/allocation-rules/{id}"): "30/minute",
    ("POST", "/unit-economics/metrics"): "30/minute",
    ("GET", "/reports"): "10/15 minutes",
    ("GET", "/reports/pdf"): "10/15 minutes",
    ("GET", "/reports/excel"): "10/15 minutes",
    ("POST", "/scheduled-reports"): "30/minute",
    ("PATCH", "/scheduled-reports/{id}"): "30/minute",
    ("POST", "/tokens/exchange"): "30/15 minutes",
}


def _normalise(path: str) -> str:
    """``/budgets/{budget_id}`` and the reference's ``/budgets/{id}`` are the same operation."""
    import re

    return re.sub(r"{[^}]+}", "{}", path)


def test_every_operation_has_a_limit_and_documented_ones_match(app: FastAPI) -> None:
    documented = {(m, _normalise(p)): spec for (m, p), spec in DOCUMENTED.items()}
    checked = 0
    for path, item in app.openapi()["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in item.items():
            rule = op[EXTRA_KEY]
            item_limit = parse(rule["limit"])
            assert item_limit.amount > 0
            key = (method.upper(), _normalise(path.removeprefix("/api/v1")))
            if key in documented:
                assert item_limit == parse(documented[key]), key
                checked += 1
    assert checked >= 3  # login, signup, token exchange today


def test_unlisted_writes_and_reads_get_the_configured_defaults(app: FastAPI) -> None:
    ops = app.openapi()["paths"]
    assert ops["/api/v1/tokens"]["post"][EXTRA_KEY]["limit"] == "30/minute"
    assert ops["/api/v1/tokens"]["get"][EXTRA_KEY]["limit"] == "600/minute"


def _client(app: FastAPI, peer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(peer, 5000)),
        base_url="http://t/api/v1",
    )


async def _fill_login_bucket(app: FastAPI, peer: str, xff: list[str]) -> list[int]:
    codes = []
    async with _client(app, peer) as c:
        for i in range(21):
            r = await c.post("/auth/login", json={}, headers={"X-Forwarded-For": xff[i % len(xff)]})
            codes.append(r.status_code)
    return codes


async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    db_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(db_url, tmp_path))
    try:
        spoofs = [f"198.51.100.{i}" for i in range(21)]
        codes = await _fill_login_bucket(app, "203.0.113.7", spoofs)
        assert codes[:20] == [422] * 20
        assert codes[20] == 429  # one bucket: the socket peer
    finally:
        await shutdown(app)


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    db_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(db_url, tmp_path, trusted_proxies=["10.0.0.0/8"]))
    try:
        # Behind the proxy 10.1.1.1, two clients: each has its own bucket.
        first = await _fill_login_bucket(app, "10.1.1.1", ["203.0.113.1"])
        assert first[20] == 429
        async with _client(app, "10.1.1.1") as c:
            # A client cannot dodge its bucket by prepending its own X-Forwarded-For entry:
            # the rightmost untrusted hop is the one the proxy saw.
            r = await c.post(
                "/auth/login", json={}, headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.1"}
            )
            assert r.status_code == 429
            r = await c.post("/auth/login", json={}, headers={"X-Forwarded-For": "203.0.113.2"})
            assert r.status_code == 422
            # A chain of trusted proxies is skipped.
            r = await c.post(
                "/auth/login", json={}, headers={"X-Forwarded-For": "203.0.113.1, 10.9.9.9"}
            )
            assert r.status_code == 429
    finally:
        await shutdown(app)


async def test_limits_can_be_disabled(db_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(db_url, tmp_path, rate_limits_enabled=False))
    try:
        codes = await _fill_login_bucket(app, "203.0.113.9", ["x"])
        assert codes == [422] * 21
    finally:
        await shutdown(app)


@pytest.mark.parametrize("bad", ["not-a-network", "10.0.0.0/33"])
def test_bad_trusted_proxy_setting_is_refused(bad: str, tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make_settings("sqlite+aiosqlite:///x.db", tmp_path, trusted_proxies=[bad])


def test_trusted_proxies_read_from_a_comma_separated_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xplorr.core.settings import Settings

    monkeypatch.setenv("XPLORR_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.168.1.5"]
