"""One list shape for every endpoint: ``{"data", "total", "page", "limit"}``.

Clients send either ``page`` + ``limit`` or ``limit`` + ``offset`` (ARCHITECTURE.md); both are
normalised to limit + offset. ``page`` in the answer is the page that holds ``offset``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.errors import ValidationFailed

MAX_LIMIT = 100
DEFAULT_LIMIT = 50

T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    data: list[T]
    total: int
    page: int
    limit: int


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1


def page_params(max_limit: int = MAX_LIMIT, default_limit: int = DEFAULT_LIMIT) -> Any:
    """A dependency; endpoints whose reference allows more than 100 pass their own cap."""

    def dependency(
        page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
        limit: Annotated[int, Query(ge=1, le=max_limit)] = default_limit,
        offset: Annotated[int | None, Query(ge=0, le=100_000_000)] = None,
    ) -> PageParams:
        if page is not None and offset is not None:
            raise ValidationFailed.on(
                "offset",
                "Cannot be combined with page.",
                summary="Send either page or offset, not both.",
            )
        if offset is None:
            offset = ((page or 1) - 1) * limit
        return PageParams(limit=limit, offset=offset)

    return dependency


Pagination = Annotated[PageParams, Depends(page_params())]


async def paginate(
    db: AsyncSession,
    stmt: Select[R],
    params: PageParams,
    out: Callable[[R], T],
) -> Page[T]:
    """Count over the statement's rows (order dropped) and fetch one page of it."""
    count_stmt = select(func.count()).select_from(
        stmt.with_only_columns(literal(1)).order_by(None).subquery()
    )
    total = int(await db.scalar(count_stmt) or 0)
    rows: Sequence[R] = (await db.scalars(stmt.limit(params.limit).offset(params.offset))).all()
    return Page(data=[out(r) for r in rows], total=total, page=params.page, limit=params.limit)
