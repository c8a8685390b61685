"""One access-log line per request, from a real ``xplorr serve`` (uvicorn, the process's own
logging): method, path, status, duration, request id, user id; never a query value or a
credential in the path."""

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.tokens import make_raw_api_token
from tests.process import Served, serve
from xplorr.orgs.models import Org
from xplorr.users.models import User

SECRET_QUERY_VALUE = "s3cr3t-query-value-never-logged"
INVITATION_TOKEN = "inv1tat10n-t0ken-never-logged-0123456789"
PROBE_PATHS = {"/healthz", "/readyz", "/livez"}


def _access_lines(served: Served, count: int) -> list[dict]:
    """The access lines of the test's own requests: the readiness probes ``serve`` makes are
    left out, since their lines can reach the output after the test has started."""
    deadline = time.monotonic() + 10
    while True:
        lines = [
            json.loads(line)
            for line in served.output().splitlines()
            if line.startswith("{") and '"event": "request"' in line
        ]
        lines = [line for line in lines if line.get("path") not in PROBE_PATHS]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


@pytest.mark.slow
async def test_one_line_per_request_without_secrets(
    db_url: str, tmp_path: Path, db: AsyncSession, org: Org, member: User
) -> None:
    raw = await make_raw_api_token(db, org, member)
    env = {"XPLORR_LOG_LEVEL": "INFO", "XPLORR_LOG_JSON": "true"}
    with serve(db_url, tmp_path, env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
            auth = {"Authorization": f"Bearer {raw}"}
            me = await client.get("/api/v1/auth/me", headers=auth)
            costs = await client.get(
                "/api/v1/cloud-accounts",
                params={"page": "1", "secret": SECRET_QUERY_VALUE},
                headers={**auth, "X-Request-ID": "trace-0123456789"},
            )
            invitation = await client.get(f"/api/v1/auth/invitation/{INVITATION_TOKEN}")
            anon = await client.get("/api/v1/auth/me")
        lines = _access_lines(served, 4)
        text = served.output()
    assert [r.status_code for r in (me, costs, anon)] == [200, 200, 401]
    assert len(lines) == 4, lines
    first, second, third, fourth = lines
    assert first["method"] == "GET"
    assert first["path"] == "/api/v1/auth/me"
    assert first["status"] == 200
    assert first["user_id"] == str(member.id)
    assert first["request_id"] == me.headers["x-request-id"]
    assert isinstance(first["duration_ms"], float)
    assert second["request_id"] == "trace-0123456789"
    assert second["query_params"] == ["page", "secret"]
    assert third["path"] == "/api/v1/auth/invitation/[redacted]"
    assert third["status"] == invitation.status_code
    assert third["user_id"] is None
    assert fourth["status"] == 401
    assert fourth["user_id"] is None
    assert SECRET_QUERY_VALUE not in text
    assert INVITATION_TOKEN not in text
    assert raw not in text


@pytest.mark.slow
async def test_access_log_can_be_turned_off(db_url: str, tmp_path: Path) -> None:
    env = {"XPLORR_LOG_LEVEL": "INFO", "XPLORR_LOG_JSON": "true", "XPLORR_ACCESS_LOG": "false"}
    with serve(db_url, tmp_path, env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
            await client.get("/api/v1/auth/me")
        await asyncio.sleep(0.3)
        assert '"event": "request"' not in served.output()
