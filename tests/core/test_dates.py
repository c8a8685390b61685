"""The ``startDate``/``endDate`` range every report-like endpoint takes (``core.dates``)."""

from datetime import date, timedelta

import httpx
import pytest
from fastapi import FastAPI

from xplorr.core import clock
from xplorr.core.dates import DateRange, DateRangeQuery
from xplorr.core.errors import ValidationFailed


def test_defaults_are_the_30_days_before_today() -> None:
    today = clock.now().date()
    assert DateRange.resolve(None, None) == DateRange(today - timedelta(days=30), today)
    assert DateRange.resolve(None, "2026-03-31").start == date(2026, 3, 1)


def test_a_leap_year_fits_and_a_day_more_does_not() -> None:
    assert DateRange.resolve("2024-01-01", "2024-12-31").days == 366
    with pytest.raises(ValidationFailed) as caught:
        DateRange.resolve("2024-01-01", "2025-01-01")
    assert caught.value.details == [
        {"field": "endDate", "message": "The range is at most 366 days."}
    ]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-02-30", None, "startDate"),  # not a calendar day
        ("1899-12-31", "1900-01-02", "startDate"),
        ("2026-03-02", "2026-03-01", "endDate"),  # before the start
    ],
)
def test_bad_ranges_name_their_field(start: str, end: str | None, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        DateRange.resolve(start, end)
    assert caught.value.details is not None
    assert caught.value.details[0]["field"] == field


async def test_an_endpoint_takes_the_range_as_a_dependency(own_app: FastAPI) -> None:
    async def spend(dates: DateRangeQuery) -> dict[str, str | int]:
        return {"start": dates.start.isoformat(), "days": dates.days}

    own_app.add_api_route("/api/v1/_test/spend", spend)
    transport = httpx.ASGITransport(app=own_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.get("/api/v1/_test/spend?startDate=2026-01-01&endDate=2026-01-31")
        bad = await client.get("/api/v1/_test/spend?startDate=2026-01-31&endDate=2026-01-01")
    assert ok.json() == {"start": "2026-01-01", "days": 31}
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == [
        {"field": "endDate", "message": "Must not be before startDate."}
    ]
