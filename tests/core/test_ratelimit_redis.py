"""Two real API processes on one Redis share one limit; with in-memory storage each process
counts alone (which is why scale-out needs XPLORR_REDIS_URL)."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import TEST_SECRET

REDIS_URL = os.environ.get("XPLORR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def servers(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Two ``xplorr serve`` processes on one database; ``request.param`` = Redis URL or None."""
    shared_redis: str | None = request.param and request.getfixturevalue("redis_url")
    env = {
        **os.environ,
        "XPLORR_DATABASE_URL": db_url,
        "XPLORR_DATA_DIR": str(tmp_path),
        "XPLORR_SECRET_KEY": TEST_SECRET,
        "XPLORR_EMBEDDED_WORKER": "false",
        "XPLORR_REDIS_KEY_PREFIX": f"xplorr-test-{uuid.uuid4().hex}",
        "XPLORR_LOG_LEVEL": "WARNING",
    }
    env.pop("XPLORR_REDIS_URL", None)
    if shared_redis:
        env["XPLORR_REDIS_URL"] = shared_redis
    ports = [_free_port(), _free_port()]
    log = tmp_path / "servers.log"
    procs = []
    with log.open("ab") as out:
        for port in ports:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "xplorr", "serve", "--port", str(port), "--no-migrate"],
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def _hammer_login(urls: list[str], count: int) -> list[httpx.Response]:
    out = []
    with httpx.Client(timeout=10) as client:
        for i in range(count):
            out.append(client.post(f"{urls[i % 2]}/api/v1/auth/login", json={}))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("servers", [True], indirect=True)
def test_two_processes_on_one_redis_share_one_limit(servers: list[str]) -> None:
    responses = _hammer_login(servers, 25)
    passed = [r for r in responses if r.status_code != 429]
    limited = [r for r in responses if r.status_code == 429]
    assert len(passed) == 20  # 20/15 minutes per IP, counted once across both processes
    assert len(limited) == 5
    for r in limited:
        assert r.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(r.headers["retry-after"]) <= 900


@pytest.mark.slow
@pytest.mark.parametrize("servers", [False], indirect=True)
def test_without_redis_each_process_counts_alone(servers: list[str]) -> None:
    responses = _hammer_login(servers, 25)
    assert all(r.status_code != 429 for r in responses)  # 13 + 12: under 20 in each process
