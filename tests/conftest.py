"""Root fixtures: a clean, migrated database per test (SQLite by default, PostgreSQL when
``XPLORR_TEST_DATABASE_URL`` is set), an app built with ``create_app(Settings(...))``, real tokens.

Tests go through real commits, not an outer rolled-back transaction: the unit-of-work rule
(commit before the response), the job runner and the multi-process tests all need real
transactions. Isolation comes from a fresh copy of a migrated SQLite file per test, or from
truncating every table after each test on PostgreSQL (one database per xdist worker).
"""

import asyncio
import gc
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.factories.users import make_org, make_user, token_for
from tests.mail import Mailbox, start_smtp
from xplorr.app import bind, build_app, shutdown
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.migrate import upgrade
from xplorr.core.settings import Settings, SmtpSettings, normalise_db_url
from xplorr.core.tenancy import Role
from xplorr.models_registry import Base
from xplorr.orgs.models import Org
from xplorr.users.models import User

# No test reaches real AWS: a call not pointed at moto (the ``moto`` fixture sets the endpoint
# in the settings) goes to a closed local port and fails at once; no instance-metadata probe.
os.environ.setdefault("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

# moto's server for AWS (fixtures ``moto_server``, ``moto``, ``aws_environment``).
pytest_plugins = ["tests.aws.moto_server"]

PG_URL = os.environ.get("XPLORR_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("XPLORR_TEST_REDIS_URL")
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` tests (processes, servers, the demo load: 5-40 s each) first, each group in
    the order pytest-randomly chose: handed out first, they spread over the xdist workers
    instead of leaving one worker busy with a 40 s test while the other has finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # The PostgreSQL pass would run these 10-30 s processes again to the same outcome: none of
    # them reads the database it is given (the start script makes its own SQLite one).
    if PG_URL and item.get_closest_marker("database_independent"):
        pytest.skip("database_independent: run in the SQLite pass")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a SQLite template file, or this worker's PostgreSQL database."""
    if PG_URL:
        admin = create_engine(PG_URL.replace("+psycopg", "+psycopg"), isolation_level="AUTOCOMMIT")
        # XPLORR_TEST_DB_PREFIX keeps two suites on one server (two checkouts) apart.
        name = f"xplorr_test_{os.environ.get('XPLORR_TEST_DB_PREFIX', '')}{_worker()}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = normalise_db_url(PG_URL.rsplit("/", 1)[0] + "/" + name)
        upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


# Children before parents, so no row is ever left pointing at a deleted one. DELETE of a few
# rows is ~15 ms for all tables where TRUNCATE, which rewrites every table's files, was ~800 ms
# (bench/db_reset.py measures the three ways).
RESET_SQL = ";".join(
    f'DELETE FROM "{t.name}"'  # noqa: S608 - table names from the models
    for t in reversed(Base.metadata.sorted_tables)
)


@pytest.fixture(scope="session")
def _reset_engine(template_db: str) -> Iterator[Engine | None]:
    if not PG_URL:
        yield None
        return
    engine = create_engine(template_db, pool_pre_ping=True)
    yield engine
    engine.dispose()


def _reset_postgres(engine: Engine) -> None:
    """Empty every table. A connection the test left "idle in transaction" (a process killed
    mid-job, a session never closed) would hold its row locks and hang the DELETE for good:
    past a short lock wait, such connections to this database are ended and the reset retried."""
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            conn.exec_driver_sql(RESET_SQL)
        return
    except OperationalError as exc:
        if "lock timeout" not in str(exc):
            raise
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state IN ('idle in transaction', 'idle in transaction (aborted)')"
        )
    with engine.begin() as conn:
        conn.exec_driver_sql(RESET_SQL)


@pytest.fixture
def db_url(template_db: str, tmp_path: Path, _reset_engine: Engine | None) -> Iterator[str]:
    if _reset_engine is not None:
        yield template_db
        _reset_postgres(_reset_engine)
        return
    path = tmp_path / "xplorr.db"
    shutil.copyfile(template_db, path)
    yield f"sqlite+aiosqlite:///{path}"


def make_settings(db_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": TEST_SECRET,
        "embedded_worker": False,
        # argon2-cffi's CHEAPEST-like profile: tests only, production keeps the RFC 9106 defaults.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "redis_url": REDIS_URL,
        "redis_key_prefix": f"xplorr-test-{uuid.uuid4().hex}",
        "aws_max_attempts": 2,  # an unreachable AWS fails fast
        # No test reaches real Azure: Entra ID, ARM and Blob storage at a closed local port
        # (tests/azure points them at its doubles).
        "azure_authority_host": "https://127.0.0.1:9",
        "azure_resource_manager_url": "https://127.0.0.1:9",
        "azure_blob_endpoint": "https://127.0.0.1:9/{account}",
        "azure_max_attempts": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on loopback: (port, mailbox)."""
    controller, box = start_smtp()
    yield int(controller.port), box
    controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[int, Mailbox]) -> Mailbox:
    return smtp[1]


@pytest.fixture
def settings(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The app's settings; a test that asks for ``mailbox`` gets SMTP pointed at it, one
    that asks for ``moto`` gets AWS pointed at moto's server (``XPLORR_AWS_ENDPOINT_URL``)."""
    overrides: dict[str, object] = {}
    if "mailbox" in request.fixturenames:
        port, _box = request.getfixturevalue("smtp")
        overrides["smtp"] = SmtpSettings(host="127.0.0.1", port=port, tls=False)
    if "moto" in request.fixturenames:
        overrides["aws_endpoint_url"] = request.getfixturevalue("moto").endpoint_url
        # The inventory refresh every import triggers reads one region, not moto's ~30 (each
        # with ~1,300 public AMI snapshots in moto's default account): 40-90 s a billing test.
        overrides["aws_inventory_regions"] = ["us-east-1"]
    return make_settings(db_url, tmp_path, **overrides)


_BUILT_APPS: list[FastAPI] = []


def built_app(index: int) -> FastAPI:
    """This worker's ``index``-th application object, built once (``build_app``: FastAPI's
    per-route analysis is most of an app's cost) and ``bind``-ed anew by each test that uses
    it. A test using several apps at once gets distinct objects."""
    while len(_BUILT_APPS) <= index:
        _BUILT_APPS.append(build_app())
    return _BUILT_APPS[index]


async def release(application: FastAPI) -> None:
    """Close what the test's binding opened and forget it: a later test that reached this app
    without binding it would fail on the missing state, never run on another test's database."""
    await shutdown(application)
    for name in (
        "settings",
        "engine",
        "sessionmaker",
        "read_engine",
        "read_sessionmaker",
        "kit",
        "openapi",
    ):
        delattr(application.state, name)


def collection_app() -> FastAPI:
    """This worker's application bound to settings that open and write nothing (a database
    file that is never connected to, an explicit secret key): for reading the OpenAPI
    document while tests are collected. Each test rebinds the same object to its own database."""
    return bind(
        built_app(0),
        Settings(
            data_dir=Path(tempfile.gettempdir()) / "xplorr-collect-unused",
            database_url=f"sqlite+aiosqlite:///{Path(tempfile.gettempdir())}/xplorr-collect-unused.db",
            secret_key=TEST_SECRET,
            embedded_worker=False,
        ),
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = bind(built_app(0), settings)
    routes = len(application.routes)
    yield application
    await release(application)
    assert len(application.routes) == routes, (
        "this test added routes to the shared app: ask for `own_app` instead"
    )


@pytest.fixture
async def own_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An application object of this test's own, for a test that adds routes to it (the
    shared one must keep its routes). Tests that also use ``client_for`` override ``app``
    with this fixture."""
    application = bind(build_app(), settings)
    yield application
    await release(application)


AppWith = Callable[..., FastAPI]


@pytest.fixture
async def app_with(db_url: str, tmp_path: Path) -> AsyncIterator[AppWith]:
    """``app_with(**settings_overrides)``: another app on this test's database with settings of
    its own, shut down after the test."""
    apps: list[FastAPI] = []

    def make(**overrides: object) -> FastAPI:
        application = bind(built_app(1 + len(apps)), make_settings(db_url, tmp_path, **overrides))
        apps.append(application)
        return application

    yield make
    for application in apps:
        await release(application)


def asgi_client(
    app: FastAPI, *, peer: str = "127.0.0.1", base_url: str = "http://t/api/v1"
) -> httpx.AsyncClient:
    """A client for ``app`` from the socket address ``peer``; errors are envelope-checked."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(peer, 5000)),
        base_url=base_url,
        event_hooks={"response": [assert_error_envelope]},
    )


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking rows; factories commit what they make.

    On SQLite it uses deferred transactions, so a read left open here never holds the write
    lock the app's requests wait for; ``client_for`` ends it before each request so the next
    read sees what the request committed."""
    engine = make_engine(db_url, sqlite_immediate=False)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's database for driving workers and jobs outside the app."""
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


async def assert_error_envelope(response: httpx.Response) -> None:
    """Every 4xx/5xx in the suite must be the envelope: the whole suite is a contract test."""
    if response.status_code >= 400:
        await response.aread()
        body = response.json()
        err = body["error"]
        assert isinstance(err["code"], str)
        assert isinstance(err["message"], str)
        assert err["status"] == response.status_code
        if response.status_code == 401:
            assert response.headers["www-authenticate"] == "Bearer"
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1


ClientFor = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_for(app: FastAPI, db: AsyncSession) -> AsyncIterator[ClientFor]:
    """``client_for(user)`` holds a REAL access token for ``user``; ``client_for(None)`` none."""
    clients: list[httpx.AsyncClient] = []

    async def expunge(_request: httpx.Request) -> None:
        db.expunge_all()  # detach first: a rollback would expire the fixtures' loaded attributes
        await db.rollback()

    def make(
        user: User | None = None, *, token: str | None = None, **kw: object
    ) -> httpx.AsyncClient:
        headers = {}
        if user is not None:
            headers["Authorization"] = f"Bearer {token_for(app, user)}"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, **kw),  # type: ignore[arg-type]
            base_url="http://testserver/api/v1",
            headers=headers,
            event_hooks={"request": [expunge], "response": [assert_error_envelope]},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def anon(client_for: ClientFor) -> httpx.AsyncClient:
    return client_for(None)


@pytest.fixture
async def org(db: AsyncSession) -> Org:
    return await make_org(db, "Acme")


@pytest.fixture
async def owner(db: AsyncSession, org: Org) -> User:
    return await make_user(db, org, role=Role.OWNER)


@pytest.fixture
async def admin(db: AsyncSession, org: Org) -> User:
    return await make_user(db, org, role=Role.ADMIN)


@pytest.fixture
async def member(db: AsyncSession, org: Org) -> User:
    return await make_user(db, org, role=Role.MEMBER)


@pytest.fixture
async def viewer(db: AsyncSession, org: Org) -> User:
    return await make_user(db, org, role=Role.VIEWER)


@pytest.fixture
async def other_org(db: AsyncSession) -> Org:
    return await make_org(db, "Globex")


@pytest.fixture
async def other_admin(db: AsyncSession, other_org: Org) -> User:
    return await make_user(db, other_org, role=Role.ADMIN)


@pytest.fixture(autouse=True)
async def _finish_leftover_tasks() -> AsyncIterator[None]:
    """Clean up while the test's event loop still runs: cancel and await the tasks a test left
    behind, then collect garbage. An aiosqlite connection dropped without ``close()`` (a worker
    cancelled mid-query does that) stops its thread from ``__del__`` through the *current* loop;
    collected after the loop closed, its thread would fail in whichever test runs next."""
    yield
    me = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for task in left:
        task.cancel()
    if left:
        await asyncio.wait(left)
    gc.collect()
    # What survived is live (modules, caches): freeze it, so the next test's collect walks only
    # the objects made since (a full walk costs a few hundred ms a test on this heap).
    gc.freeze()
    await asyncio.sleep(0.01)  # let stopped connection threads report back to this loop
