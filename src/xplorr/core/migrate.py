"""``xplorr migrate`` in code: upgrade a database to the newest revision."""

from alembic import command
from alembic.config import Config

from xplorr.core.settings import sync_db_url


def alembic_config(async_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "xplorr:migrations")
    cfg.set_main_option("sqlalchemy.url", sync_db_url(async_url).replace("%", "%%"))
    return cfg


def upgrade(async_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(async_url), revision)
