"""``xplorr migrate`` in code: upgrade a database to the newest revision."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from xplorr.core.settings import sync_db_url


def alembic_config(async_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "xplorr:migrations")
    cfg.set_main_option("sqlalchemy.url", sync_db_url(async_url).replace("%", "%%"))
    return cfg


def upgrade(async_url: str, revision: str = "head") -> None:
    ensure_sqlite_dir(async_url)
    command.upgrade(alembic_config(async_url), revision)


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its directory (the embedded default under DATA_DIR)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
