"""The embedded API while long work holds SQLite's one writer (a sync, an import): reads answer,
writes answer 503 DATABASE_BUSY with Retry-After after ``XPLORR_DB_BUSY_TIMEOUT_SECONDS`` and
change nothing, and nothing waits into a 500. PostgreSQL has no single writer: a pool that
stays exhausted past the wait is the same 503 there."""

import sqlite3
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import PG_URL, AppWith, asgi_client
from tests.factories.users import token_for
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="SQLite's single writer")


@pytest.fixture
def writer_held(db_url: str) -> Iterator[sqlite3.Connection]:
    """Another connection holding the write lock, as a sync's import transaction does."""
    conn = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE orgs SET name = name")
    yield conn
    conn.rollback()
    conn.close()


async def test_reads_answer_and_writes_get_503_while_the_writer_is_held(
    app_with: AppWith, member: User, db: AsyncSession, writer_held: sqlite3.Connection
) -> None:
    app = app_with(db_busy_timeout_seconds=0.5)
    headers = {"Authorization": f"Bearer {token_for(app, member)}"}
    async with asgi_client(app) as client:
        started = time.monotonic()
        me = await client.get("/auth/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["email"] == member.email
        assert time.monotonic() - started < 1.0

        started = time.monotonic()
        created = await client.post("/tokens", headers=headers, json={"name": "during sync"})
        assert created.status_code == 503
        assert created.json()["error"]["code"] == "DATABASE_BUSY"
        assert created.headers["retry-after"] == "1"
        assert time.monotonic() - started < 5.0

        writer_held.rollback()
        again = await client.post("/tokens", headers=headers, json={"name": "after sync"})
        assert again.status_code == 201
    await db.rollback()
    names = (await db.scalars(select(ApiToken.name))).all()
    assert names == ["after sync"]
    assert await db.scalar(select(func.count()).select_from(ApiToken)) == 1
