"""Sections other areas add to a report, without the reports area (or core) importing them.

A report (``xplorr.reports``) is built once and rendered three ways (JSON, PDF, Excel). Its cost
sections come from ``costs.query``; budgets against actuals, anomalies, open recommendations and
allocation by team belong to their own areas. Each such area registers a *provider* in a module
named ``report_sections`` of its package (``xplorr.budgets.report_sections``...), found by name
the way ``jobs`` modules are (``core.areas.area_modules``)::

    from xplorr.core.report_sections import Column, ReportScope, Section, Table, provider

    @provider("budgets", order=10)
    async def budgets_section(db: AsyncSession, scope: ReportScope) -> list[Section]:
        ...  # read through this area's own service, scoped to ``scope.who``

A provider returns plain data (:class:`Section`: key figures and typed tables): every renderer
knows how to draw it, so a new section needs no change to the renderers. Amounts are ``Decimal``
already rounded to their currency (``core.money.round_money``), one section per currency when
several are involved: a table never adds amounts of two currencies.
"""

import importlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import areas
from xplorr.core.tenancy import Scope

MODULE = "report_sections"


class Kind(StrEnum):
    """How a column's values are shown: money (in the table's currency), a percentage, a
    plain number, a date or text."""

    TEXT = "text"
    MONEY = "money"
    PERCENT = "percent"
    NUMBER = "number"
    DATE = "date"


Cell = str | Decimal | int | date | None


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of cells, one per column, of the kinds the columns declare; ``currency``: the
    currency of every MONEY cell (None when the table has none)."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    currency: str | None = None

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: a row has {len(row)} cells")
        if self.currency is None and any(c.kind is Kind.MONEY for c in self.columns):
            raise ValueError(f"table {self.title!r} has money columns but no currency")


@dataclass(frozen=True, slots=True)
class Figure:
    """A key figure shown above a section's tables ("Budgets over: 2")."""

    label: str
    value: Cell
    kind: Kind = Kind.TEXT
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # stable identifier (JSON consumers), e.g. "budgets"
    title: str
    figures: tuple[Figure, ...] = ()
    tables: tuple[Table, ...] = ()
    note: str | None = None  # one sentence under the title


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What a report covers: ``who`` (the reader, or a scheduled report's owner as they are
    now), the days (both included) and, when set, only these cloud accounts."""

    who: Scope
    start: date
    end: date
    account_ids: frozenset[uuid.UUID] | None = None


Provider = Callable[[AsyncSession, ReportScope], Awaitable[Sequence[Section]]]


@dataclass(frozen=True, slots=True)
class Registered:
    name: str
    order: int
    build: Provider = field(compare=False)


PROVIDERS: dict[str, Registered] = {}
_discovered = False


def provider(name: str, *, order: int) -> Callable[[Provider], Provider]:
    """Register ``build`` as the section provider ``name``; sections come in ``order``."""

    def register(build: Provider) -> Provider:
        known = PROVIDERS.get(name)
        if known is not None and known.build is not build:
            raise ValueError(f"report section provider {name!r} is already registered")
        PROVIDERS[name] = Registered(name, order, build)
        return build

    return register


def discover() -> None:
    """Import every area's ``report_sections`` module (idempotent)."""
    global _discovered
    if not _discovered:
        for module in areas.area_modules(MODULE):
            importlib.import_module(module)
        _discovered = True


def providers() -> list[Registered]:
    """The registered providers in their order (discovering them first)."""
    discover()
    return sorted(PROVIDERS.values(), key=lambda p: (p.order, p.name))


async def build_sections(db: AsyncSession, scope: ReportScope) -> list[Section]:
    """Every provider's sections for ``scope``, in order."""
    out: list[Section] = []
    for registered in providers():
        out.extend(await registered.build(db, scope))
    return out
