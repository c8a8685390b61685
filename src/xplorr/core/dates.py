"""A range of calendar days asked for in a query: ``startDate`` and ``endDate`` (YYYY-MM-DD,
both included), as the reference spells them on every report-like endpoint.

``DateRangeQuery`` is the dependency an endpoint takes; an endpoint that gathers its filters in
a dependency of its own uses ``StartDate``/``EndDate`` and ``DateRange.resolve`` there (the query
parameters then keep their place in the OpenAPI document).
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Final

from fastapi import Depends, Query
from pydantic import BeforeValidator

from xplorr.core import clock
from xplorr.core.errors import ValidationFailed

MAX_RANGE_DAYS: Final = 366  # a leap year: "the last 12 months" always fits
DEFAULT_RANGE_DAYS: Final = 30
MIN_DATE: Final = date(1900, 1, 1)
_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _written_as_day(value: Any) -> Any:
    # Pydantic's lax mode reads a number as Unix time: 0 would be 1970-01-01, silently.
    if isinstance(value, date) or (isinstance(value, str) and re.fullmatch(_DAY, value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


# A day in a JSON body or a query: only "YYYY-MM-DD" (a number or a datetime string is a 422).
IsoDay = Annotated[date, BeforeValidator(_written_as_day)]


StartDate = Annotated[
    str | None,
    Query(
        alias="startDate",
        pattern=_DAY,
        description="First day (YYYY-MM-DD, included). Default: 30 days before endDate.",
    ),
]
EndDate = Annotated[
    str | None,
    Query(
        alias="endDate",
        pattern=_DAY,
        description="Last day (YYYY-MM-DD, included). Default: today (UTC). At most 366 "
        "days after startDate's day.",
    ),
]


def _parse_day(field: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.on(field, "Not a calendar date (YYYY-MM-DD).") from None
    if len(value) != 10:
        raise ValidationFailed.on(field, "Use the YYYY-MM-DD form.")
    if day < MIN_DATE:
        raise ValidationFailed.on(field, f"Dates start at {MIN_DATE.isoformat()}.")
    return day


@dataclass(frozen=True, slots=True)
class DateRange:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def resolve(
        cls, start_date: str | None, end_date: str | None, *, max_days: int = MAX_RANGE_DAYS
    ) -> "DateRange":
        """The end defaults to today (UTC), the start to 30 days before the end; a range is at
        most ``max_days`` (366) days, both ends included. A bad value is a 422 naming
        ``startDate`` or ``endDate``."""
        start_day = _parse_day("startDate", start_date)
        end = _parse_day("endDate", end_date) or clock.now().date()
        start = start_day or end - timedelta(days=DEFAULT_RANGE_DAYS)
        if start < MIN_DATE:
            raise ValidationFailed.on("startDate", f"Dates start at {MIN_DATE.isoformat()}.")
        if end < start:
            raise ValidationFailed.on("endDate", "Must not be before startDate.")
        if (end - start).days + 1 > max_days:
            raise ValidationFailed.on("endDate", f"The range is at most {max_days} days.")
        return cls(start, end)


def date_range(start_date: StartDate = None, end_date: EndDate = None) -> DateRange:
    return DateRange.resolve(start_date, end_date)


DateRangeQuery = Annotated[DateRange, Depends(date_range)]
