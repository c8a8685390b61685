"""Cron expressions read on a wall clock in a time zone: when people want things to happen.

A schedule such as ``0 9 * * 1`` in ``Europe/Paris`` fires at 09:00 Paris time every Monday,
winter and summer alike; ``0 6 1 * *`` on the first of every month; ``0 6 L * *`` on the last
day of every month (croniter's ``L``). Fire times are computed on the naive local wall clock
(croniter) and then placed in the zone (zoneinfo), so daylight-saving changes are handled the
way cron users expect:

- a wall time that does not exist (spring forward: 02:30 on the night the clocks jump from
  02:00 to 03:00) fires at the same distance past the jump (03:30), once;
- a wall time that happens twice (fall back: 02:30 when 03:00 goes back to 02:00) fires once,
  at its first occurrence. A schedule of every few minutes therefore skips the repeated hour:
  periodic system work that must not pause belongs on an interval schedule (UTC) instead.

Day-of-month 31 fires only in months that have one (cron's rule); ``L`` is the month's last day.
Every instant returned is timezone-aware UTC.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from xplorr.core import clock

MAX_EXPRESSION_LENGTH = 100
# Enough to step past the nonexistent wall times of one DST jump at a per-minute schedule.
_MAX_STEPS = 200


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Paris``, ``UTC``), or ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as 'Europe/Paris')"
        ) from None


def check(expression: str, timezone: str = "UTC") -> None:
    """ValueError with a sentence for an expression that is malformed or never fires (``0 0 30
    2 *``), or a zone that does not exist: call it where a schedule is accepted."""
    zone(timezone)
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"a cron expression has at most {MAX_EXPRESSION_LENGTH} characters")
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(
            f"{expression!r} is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 9 * * 1'"
        )
    try:
        next_fire(expression, timezone, clock.now())
    except CroniterBadDateError:
        raise ValueError(f"{expression!r} never fires (no such date)") from None


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime refused: use xplorr.core.clock.now()")
    return at.astimezone(tz).replace(tzinfo=None)


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in ``tz`` as a UTC instant: the first of two (fold=0), and a time in
    a spring-forward gap moved past the gap by its own distance into it (zoneinfo's rule)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after``."""
    tz = zone(timezone)
    try:
        walls = croniter(expression, _local(after, tz))
    except CroniterBadCronError as exc:
        raise ValueError(f"{expression!r}: {exc}") from None
    for _ in range(_MAX_STEPS):
        candidate = _instant(walls.get_next(datetime), tz)
        if candidate > after:
            return candidate
    raise CroniterBadDateError(f"{expression!r} found no fire time after {after.isoformat()}")


def latest_fire(expression: str, timezone: str, at: datetime) -> datetime:
    """The last fire time at or before ``at``: the slot a global schedule is in."""
    tz = zone(timezone)
    # get_prev is strictly before its start: start a second later so a fire exactly at ``at``
    # counts (cron has minute resolution, so nothing else fits in that second).
    try:
        walls = croniter(expression, _local(at, tz) + timedelta(seconds=1))
    except CroniterBadCronError as exc:
        raise ValueError(f"{expression!r}: {exc}") from None
    for _ in range(_MAX_STEPS):
        candidate = _instant(walls.get_prev(datetime), tz)
        if candidate <= at:
            return candidate
    raise CroniterBadDateError(f"{expression!r} found no fire time before {at.isoformat()}")
