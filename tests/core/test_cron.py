"""Cron expressions on a wall clock in a time zone (core.jobs.cron): across daylight-saving
changes (Europe/Paris: 2026-03-29 and 2026-10-25; America/New_York: 2026-03-08 and 2026-11-01),
month ends and leap years. No database."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from xplorr.core.jobs import cron


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(expression: str, zone: str, after: datetime, count: int) -> list[datetime]:
    out = []
    for _ in range(count):
        after = cron.next_fire(expression, zone, after)
        out.append(after)
    return out


def test_a_monday_morning_stays_at_nine_local_across_both_dst_changes() -> None:
    mondays = fires("0 9 * * 1", "Europe/Paris", utc(2026, 3, 20), 3)
    assert mondays == [utc(2026, 3, 23, 8), utc(2026, 3, 30, 7), utc(2026, 4, 6, 7)]
    autumn = fires("0 9 * * 1", "Europe/Paris", utc(2026, 10, 18), 2)
    assert autumn == [utc(2026, 10, 19, 7), utc(2026, 10, 26, 8)]
    new_york = fires("0 9 * * *", "America/New_York", utc(2026, 3, 6, 20), 3)
    assert new_york == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


def test_a_wall_time_skipped_by_spring_forward_fires_once_just_after_the_jump() -> None:
    # 02:30 does not exist in Paris on 2026-03-29 (02:00 -> 03:00): it fires at 03:30 CEST.
    runs = fires("30 2 * * *", "Europe/Paris", utc(2026, 3, 27, 12), 3)
    assert runs == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]


def test_a_wall_time_repeated_by_fall_back_fires_once_at_its_first_occurrence() -> None:
    # 02:30 happens twice in Paris on 2026-10-25 (00:30 and 01:30 UTC): once, at 00:30 UTC.
    runs = fires("30 2 * * *", "Europe/Paris", utc(2026, 10, 24, 12), 3)
    assert runs == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)]


def test_monthly_on_the_first_follows_local_midnight_and_the_offset_of_each_month() -> None:
    runs = fires("0 6 1 * *", "Europe/Paris", utc(2025, 12, 15), 5)
    assert runs == [
        utc(2026, 1, 1, 5),
        utc(2026, 2, 1, 5),
        utc(2026, 3, 1, 5),
        utc(2026, 4, 1, 4),  # summer time
        utc(2026, 5, 1, 4),
    ]


def test_day_31_skips_short_months_and_l_is_every_months_last_day() -> None:
    on_31 = fires("0 0 31 * *", "UTC", utc(2027, 12, 31, 1), 4)
    assert on_31 == [utc(2028, 1, 31), utc(2028, 3, 31), utc(2028, 5, 31), utc(2028, 7, 31)]
    last = fires("0 0 L * *", "UTC", utc(2027, 12, 31, 1), 4)
    assert last == [utc(2028, 1, 31), utc(2028, 2, 29), utc(2028, 3, 31), utc(2028, 4, 30)]
    # The last day of a month read in a zone east of UTC starts the evening before, in UTC.
    tokyo = fires("0 0 L * *", "Asia/Tokyo", utc(2027, 2, 1), 1)
    assert tokyo == [utc(2027, 2, 27, 15)]


@pytest.mark.parametrize(
    ("expression", "zone"),
    [
        ("*/30 * * * *", "Europe/Paris"),
        ("15 1-3 * * *", "Europe/Paris"),
        ("0 9 * * 1", "America/New_York"),
        ("0 0 L * *", "Australia/Lord_Howe"),  # a 30-minute DST shift
    ],
)
def test_a_year_of_fire_times_strictly_increases_and_latest_fire_finds_each(
    expression: str, zone: str
) -> None:
    start = utc(2026, 1, 1)
    runs = [start]
    while runs[-1] < utc(2027, 1, 1):
        runs.append(cron.next_fire(expression, zone, runs[-1]))
    runs = runs[1:]
    assert all(a < b for a, b in itertools.pairwise(runs))
    assert all(r.tzinfo is UTC for r in runs)
    for previous, current in itertools.pairwise(runs[:400]):
        assert cron.latest_fire(expression, zone, current) == current
        assert cron.latest_fire(expression, zone, current - timedelta(microseconds=1)) == previous


def test_an_every_half_hour_schedule_has_no_duplicate_across_the_paris_changes() -> None:
    spring = fires("*/30 * * * *", "Europe/Paris", utc(2026, 3, 29, 0, 15), 4)
    # 01:30 CET, then 03:00 CEST (02:00 and 02:30 do not exist: they land on 03:00 and 03:30)
    assert spring == [
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 2, 0),
    ]
    autumn = fires("*/30 * * * *", "Europe/Paris", utc(2026, 10, 24, 23, 45), 5)
    # the repeated hour (02:00-02:59 CET, 01:00-01:59 UTC) is skipped, never run twice
    assert autumn == [
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 2, 0),
        utc(2026, 10, 25, 2, 30),
        utc(2026, 10, 25, 3, 0),
    ]


def test_check_refuses_what_cannot_run_with_a_sentence() -> None:
    cron.check("0 9 * * 1", "Europe/Paris")
    cron.check("0 6 L * *")
    with pytest.raises(ValueError, match="five fields"):
        cron.check("0 9 * * 1 2026")
    with pytest.raises(ValueError, match="five fields"):
        cron.check("every monday")
    with pytest.raises(ValueError, match="never fires"):
        cron.check("0 0 30 2 *")
    with pytest.raises(ValueError, match="unknown time zone"):
        cron.check("0 9 * * 1", "Europe/Atlantis")
    with pytest.raises(ValueError, match="unknown time zone"):
        cron.check("0 9 * * 1", "../../etc/passwd")
    with pytest.raises(ValueError, match="at most"):
        cron.check("0 " * 60)
    with pytest.raises(ValueError, match="naive"):
        cron.next_fire("0 9 * * 1", "UTC", datetime(2026, 1, 1))  # noqa: DTZ001
