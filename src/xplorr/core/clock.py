"""The one source of "now": timezone-aware UTC, so naive datetimes never enter the system."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
