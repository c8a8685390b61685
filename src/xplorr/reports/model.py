"""The report, built once (``reports.service.build_report``) and rendered three ways (JSON,
PDF, Excel). Plain data: every amount is a ``Decimal`` already rounded to its currency's minor
units, each figure on its own (so a rounded breakdown may differ from the rounded total by a
unit of the last place). One :class:`CurrencyReport` per currency: amounts in different
currencies are never added together."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from xplorr.core.report_sections import Section


@dataclass(frozen=True, slots=True)
class Line:
    """One group of a breakdown: ``share`` is its percentage of the currency's total."""

    key: str | None
    name: str
    cost: Decimal
    share: Decimal


@dataclass(frozen=True, slots=True)
class Mover:
    """A service whose spend changed most against the previous period."""

    name: str
    current: Decimal
    previous: Decimal
    change: Decimal
    change_percent: Decimal | None  # None: nothing was spent before


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    cost: Decimal


@dataclass(frozen=True, slots=True)
class ForecastLine:
    """The end-of-month forecast of the month holding the report's last day."""

    period_start: date
    period_end: date
    through: date | None
    actual: Decimal
    forecast: Decimal
    low: Decimal
    high: Decimal
    method: str


@dataclass(frozen=True, slots=True)
class CurrencyReport:
    currency: str
    total: Decimal
    previous_total: Decimal
    change: Decimal
    change_percent: Decimal | None  # None: nothing was spent in the previous period
    by_provider: tuple[Line, ...]
    by_account: tuple[Line, ...]
    by_service: tuple[Line, ...]
    by_region: tuple[Line, ...]
    daily: tuple[Day, ...]
    top_movers: tuple[Mover, ...]
    forecast: ForecastLine | None


@dataclass(frozen=True, slots=True)
class Report:
    org_name: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    generated_at: datetime
    account_id: uuid.UUID | None
    account_name: str | None
    metric: str
    currencies: tuple[CurrencyReport, ...]  # the main currency first, then alphabetical
    sections: tuple[Section, ...]  # from other areas' providers (core.report_sections)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def title(self) -> str:
        return f"Cloud cost report {self.start.isoformat()} to {self.end.isoformat()}"
