"""Helpers for the TOTP tests: real codes from pyotp, computed away from a step boundary."""

import asyncio
import time

import httpx
import pyotp
import pytest

from tests.factories.users import DEFAULT_PASSWORD

STEP = 30


async def steady() -> float:
    """Now, at least 3 s before the next 30 s step: a code computed here for an offset is the
    same step offset when the server checks it a moment later."""
    left = STEP - time.time() % STEP
    if left < 3:
        await asyncio.sleep(left + 0.1)
    return time.time()


async def code_at(secret: str, steps: int = 0) -> str:
    """The code of ``steps`` steps from now (negative: the past)."""
    return pyotp.TOTP(secret).at(await steady() + steps * STEP)


async def login(client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD) -> dict:
    r = await client.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    body: dict = r.json()
    return body


async def challenge(client: httpx.AsyncClient, email: str) -> str:
    body = await login(client, email)
    assert body["requires_2fa"] is True
    token: str = body["challenge_token"]
    return token


async def authenticate(client: httpx.AsyncClient, token: str, code: str) -> httpx.Response:
    return await client.post(
        "/auth/2fa/authenticate", json={"challenge_token": token, "code": code}
    )


@pytest.fixture
def bearer():
    def make(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    return make
