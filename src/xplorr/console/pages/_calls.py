"""API calls made side by side for one page, all finished before the page answers."""

import asyncio
from collections.abc import Awaitable
from typing import Any


async def all_of(*calls: Awaitable[Any]) -> tuple[Any, ...]:
    """``asyncio.gather`` that lets every call finish, then raises the first failure (in the
    order given): a refused call must not leave its siblings running after the answer."""
    answers: tuple[Any, ...] = tuple(await asyncio.gather(*calls, return_exceptions=True))
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers
