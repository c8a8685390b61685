"""Every error, everywhere, is the envelope: unknown route, wrong method, bad JSON, oversized body,
a commit that fails after the endpoint returned, and an unhandled exception (no internals)."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from xplorr.core.db import DbSession
from xplorr.core.errors import NotFound
from xplorr.orgs.models import Org
from xplorr.users.models import User


def _raw_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
    )


async def test_unknown_route_is_not_found_envelope(anon) -> None:
    r = await anon.get("/no/such/thing")
    assert r.status_code == 404
    assert r.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "No route for GET /api/v1/no/such/thing.",
        "status": 404,
    }


async def test_wrong_method_is_405_envelope_with_allow(anon) -> None:
    r = await anon.delete("/auth/login")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in r.headers["allow"]


async def test_every_response_has_a_request_id(anon) -> None:
    ok = await anon.get("/../healthz")
    bad = await anon.get("/nothing")
    assert ok.headers["x-request-id"] != bad.headers["x-request-id"]
    echoed = await anon.get("/nothing", headers={"X-Request-ID": "trace-abc-12345"})
    assert echoed.headers["x-request-id"] == "trace-abc-12345"
    forged = await anon.get("/nothing", headers={"X-Request-ID": "bad\r\nid"})
    assert forged.headers["x-request-id"] != "bad\r\nid"


async def test_oversized_body_is_413(anon) -> None:
    r = await anon.post(
        "/auth/login",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_oversized_chunked_body_is_413(anon) -> None:
    async def chunks():
        for _ in range(20):
            yield b" " * 65536

    r = await anon.post(
        "/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_typed_error_carries_resource_code(anon, client_for: ClientFor, member: User) -> None:
    r = await client_for(member).delete("/tokens/00000000-0000-0000-0000-000000000001")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "API_TOKEN_NOT_FOUND"
    assert NotFound.of("CloudAccount", "x").error_code == "CLOUD_ACCOUNT_NOT_FOUND"


async def test_unhandled_error_is_a_generic_500_with_request_id(
    own_app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    async def explode() -> dict[str, str]:
        raise RuntimeError("db password is hunter2")

    own_app.add_api_route("/api/v1/_test/explode", explode)
    async with _raw_client(own_app) as client:
        r = await client.get("/api/v1/_test/explode")
    assert r.status_code == 500
    err = r.json()["error"]
    assert (err["code"], err["status"]) == ("INTERNAL_ERROR", 500)
    assert "hunter2" not in r.text
    assert "RuntimeError" not in r.text
    request_id = r.headers["x-request-id"]
    assert request_id in err["message"]
    logged = capsys.readouterr().err
    assert request_id in logged
    assert "RuntimeError" in logged


async def test_commit_failure_answers_500_not_success(
    own_app: FastAPI, db: AsyncSession, org: Org
) -> None:
    """The unit of work commits before the response is sent: a commit that fails (here a
    unique slug only detected at COMMIT) must turn into a 500, and nothing is stored."""
    taken_slug = org.slug

    async def create_duplicate(session: DbSession) -> dict[str, str]:
        session.add(Org(name="Dup", slug=taken_slug))
        return {"status": "created"}

    own_app.add_api_route("/api/v1/_test/dup", create_duplicate, methods=["POST"], status_code=201)
    async with _raw_client(own_app) as client:
        r = await client.post("/api/v1/_test/dup")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "INTERNAL_ERROR"
    await db.rollback()
    assert await db.scalar(select(func.count()).select_from(Org).where(Org.name == "Dup")) == 0
