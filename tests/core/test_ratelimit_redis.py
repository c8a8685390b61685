"""Two real ``xplorr serve`` processes on one Redis share one limit (plan item 31); with memory
storage each process counts alone, which is why scale-out needs ``XPLORR_REDIS_URL``.

Redis comes from ``XPLORR_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). When it is not
reachable the Redis test is skipped, except under ``CI=true`` where that is a failure.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import TEST_SECRET

REDIS_URL = os.environ.get("XPLORR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO = Path(__file__).resolve().parents[2]
LOGIN_LIMIT = 20  # POST /auth/login: "20/15 minutes" per client IP
STARTUP_SECONDS = 30
STOP_SECONDS = 15


@dataclass(frozen=True)
class Servers:
    urls: list[str]
    key_prefix: str


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    yield client
    client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while True:
        assert proc.poll() is None, f"server exited with {proc.returncode}:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} not healthy in time:\n{log.read_text()}"
        time.sleep(0.1)


@pytest.fixture
def servers(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Servers]:
    """Two ``xplorr serve`` processes on one database; ``request.param``: "redis" or "memory"."""
    prefix = f"xplorr-test-{uuid.uuid4().hex}"
    # Only what this test sets: a developer's own XPLORR_* (rate limits off, proxies...) must
    # not leak into the servers.
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPLORR_")}
    env |= {
        "XPLORR_DATABASE_URL": db_url,
        "XPLORR_DATA_DIR": str(tmp_path),
        "XPLORR_SECRET_KEY": TEST_SECRET,
        "XPLORR_EMBEDDED_WORKER": "false",
        "XPLORR_REDIS_KEY_PREFIX": prefix,
        "XPLORR_LOG_LEVEL": "WARNING",
    }
    if request.param == "redis":
        request.getfixturevalue("redis_client")
        env["XPLORR_REDIS_URL"] = REDIS_URL
    ports = [_free_port(), _free_port()]
    log = tmp_path / "servers.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with log.open("ab") as out:
            for port in ports:
                cmd = [sys.executable, "-m", "xplorr", "serve", "--port", str(port)]
                # The db_url fixture is already migrated (SQLite copy or the PG test database).
                procs.append(
                    subprocess.Popen(
                        [*cmd, "--no-migrate"], cwd=REPO, env=env, stdout=out, stderr=out
                    )
                )
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + STARTUP_SECONDS
        for url, proc in zip(urls, procs, strict=True):
            _wait_healthy(url, proc, log, deadline)
        yield Servers(urls, prefix)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_SECONDS)


def _alternate_logins(urls: list[str], count: int) -> list[httpx.Response]:
    """``count`` anonymous logins from 127.0.0.1, alternating between the servers; each server
    gets both empty bodies (422) and well-formed wrong logins (401, through the handler)."""
    wrong = {"email": "nobody@example.com", "password": "not the password at all"}
    with httpx.Client(timeout=10) as client:
        return [
            client.post(
                f"{urls[i % len(urls)]}/api/v1/auth/login", json=wrong if i // 2 % 2 else {}
            )
            for i in range(count)
        ]


def _assert_rate_limited(r: httpx.Response) -> None:
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert r.json()["error"]["status"] == 429
    assert r.headers["retry-after"].isdigit()
    assert 1 <= int(r.headers["retry-after"]) <= 15 * 60


@pytest.mark.slow
@pytest.mark.parametrize("servers", ["redis"], indirect=True)
def test_two_processes_on_one_redis_share_one_limit(
    servers: Servers, redis_client: redis.Redis
) -> None:
    try:
        responses = _alternate_logins(servers.urls, LOGIN_LIMIT + 1)
        codes = [r.status_code for r in responses]
        # 20/15 minutes per IP, counted once across both processes: 10 passed on each.
        assert codes[:LOGIN_LIMIT] == [422, 422, 401, 401] * (LOGIN_LIMIT // 4)
        _assert_rate_limited(responses[LOGIN_LIMIT])
        # The first server answers 429 for the count the second one made, and vice versa.
        for url in servers.urls:
            _assert_rate_limited(_alternate_logins([url], 1)[0])
        # The count lives in Redis under this deployment's prefix.
        assert list(redis_client.scan_iter(f"{servers.key_prefix}:*", count=1000))
    finally:
        keys = list(redis_client.scan_iter(f"{servers.key_prefix}:*", count=1000))
        if keys:
            redis_client.delete(*keys)


@pytest.mark.slow
@pytest.mark.parametrize("servers", ["memory"], indirect=True)
def test_without_redis_each_process_counts_alone(servers: Servers) -> None:
    """The contrast: the same traffic against memory storage gets twice the limit through."""
    responses = _alternate_logins(servers.urls, 2 * LOGIN_LIMIT + 2)
    codes = [r.status_code for r in responses]
    assert sum(c != 429 for c in codes) == 2 * LOGIN_LIMIT  # 20 in each process
    assert codes[: 2 * LOGIN_LIMIT] == [422, 422, 401, 401] * (LOGIN_LIMIT // 2)
    for r in responses[2 * LOGIN_LIMIT :]:
        _assert_rate_limited(r)
