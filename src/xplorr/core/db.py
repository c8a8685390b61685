"""Engines, sessions and the request's unit of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on, and every transaction starts
with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails at once with
SQLITE_BUSY when another connection committed in between, while an immediate one waits for the
lock (``busy_timeout``). That is SQLAlchemy's documented "Savepoints / Transactional DDL" recipe,
which also gives SQLite working SAVEPOINTs, and what Rails and Django now do on SQLite.

The price: one transaction at a time, readers included. So transactions stay short on SQLite:
a request is one, and long background work commits in batches (one per file, day or page),
never one transaction around minutes of work.
"""

import hashlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, CursorResult, Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from xplorr.core.errors import DatabaseBusy, XplorrError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(
    url: str,
    *,
    sqlite_immediate: bool = True,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    **kwargs: Any,
) -> AsyncEngine:
    """``sqlite_immediate=False`` gives plain deferred transactions: for reads beside a writer
    (the API's safe methods, the test suite's arrange/assert session). ``busy_timeout_ms`` is how
    long SQLite waits for the writer before ``database is locked``."""
    if url.startswith("sqlite"):
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(
            url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs
        )
        _configure_sqlite(
            engine, "BEGIN IMMEDIATE" if sqlite_immediate else "BEGIN", busy_timeout_ms
        )
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: AsyncEngine, begin: str, busy_timeout_ms: int) -> None:
    sqlite_connect_listener(
        engine.sync_engine,
        foreign_keys=True,
        own_transactions=True,
        busy_timeout_ms=busy_timeout_ms,
    )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def sqlite_connect_listener(
    engine: Engine,
    *,
    foreign_keys: bool = False,
    own_transactions: bool = False,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
) -> None:
    """WAL and a busy timeout on every connection. Migrations keep foreign keys off: Alembic's
    batch mode recreates tables, and a DROP TABLE with foreign keys on would cascade deletes."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        if own_transactions:
            # Take transaction control away from the driver so BEGIN is ours (module docstring).
            dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def rowcount(result: Any) -> int:
    """Rows an UPDATE/DELETE matched: how a conditional UPDATE tells whether it won a race.
    (``execute`` is typed to return ``Result``; only its ``CursorResult`` has a row count.)"""
    assert isinstance(result, CursorResult)
    return result.rowcount


Bind = AsyncSession | AsyncConnection | AsyncEngine | Connection | Engine


def is_postgres(bind: Bind) -> bool:
    """PostgreSQL (True) or SQLite: where the two need different SQL (row locks, upserts)."""
    if isinstance(bind, AsyncSession):
        return bind.get_bind().dialect.name == "postgresql"
    return bind.dialect.name == "postgresql"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def advisory_xact_lock(db: AsyncSession, name: str) -> None:
    """Serialise the work called ``name`` (``"sync-import:<account id>"``) until the caller's
    transaction ends, across processes: a PostgreSQL advisory lock, which takes no row lock, so
    readers and other work on the same rows are not held up. On SQLite a write transaction
    already excludes every other one, so there is nothing to take."""
    if is_postgres(db):
        await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(name)})


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_busy(exc: BaseException) -> bool:
    """The database could not be had in time: SQLite's writer is held by someone else (a sync, an
    import), or every pooled connection is in use. Waiting, not fixing anything, helps."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        return "database is locked" in text or "database is busy" in text
    return False


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request = one unit of work, committed before the response is sent.

    Errors roll back, except an ``XplorrError`` with ``commit=True``: a refused login still keeps
    its audit row and a reused refresh token still revokes its family. Reads (safe methods) use
    the read sessions: on SQLite plain deferred transactions, which WAL lets run beside a writer,
    so the API answers reads while a sync or import holds the write lock. A request that cannot
    get the database in time answers 503 with Retry-After instead of waiting into a 500.
    """
    state = request.app.state
    maker: async_sessionmaker[AsyncSession] = (
        state.read_sessionmaker if request.method in READ_METHODS else state.sessionmaker
    )
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except XplorrError as exc:
            if exc.commit:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException as exc:
            await session.rollback()
            if is_busy(exc):
                raise DatabaseBusy(state.settings.db_busy_timeout_seconds) from exc
            raise


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
