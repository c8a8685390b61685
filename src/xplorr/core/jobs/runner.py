"""Placeholder replaced by the jobs work (see issue 2, item 11)."""

from sqlalchemy.ext.asyncio import AsyncEngine

from xplorr.core.settings import Settings


async def run_embedded(settings: Settings, engine: AsyncEngine) -> None:
    raise NotImplementedError


async def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    raise NotImplementedError
