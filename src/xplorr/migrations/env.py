"""Alembic environment: migrations run synchronously (stdlib sqlite3 / psycopg 3) on the URL from
``xplorr.core.settings``; a connection or engine handed in (pytest-alembic) is used as is."""

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, pool

from xplorr.core.db import sqlite_connect_listener
from xplorr.core.settings import Settings, sync_db_url
from xplorr.models_registry import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or sync_db_url(Settings().db_url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    if isinstance(given, Engine):  # pytest-alembic hands in its engine
        with given.connect() as connection:
            _run(connection)
        return
    url = _url()
    engine = create_engine(url, poolclass=pool.NullPool)
    if url.startswith("sqlite"):
        sqlite_connect_listener(engine)  # foreign keys off while tables are rebuilt
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
