"""Recurring schedules across daylight-saving changes: a wall-clock time that occurs twice runs
once (at its first occurrence); one that does not occur runs once, at the next valid minute.
Three zones, both changes each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from herald.campaigns import schedules

UTC_ZONE = ZoneInfo("UTC")

# (zone, the day clocks go back, a time that occurs twice, its first occurrence in UTC)
AUTUMN = [
    ("Europe/Berlin", date(2026, 10, 25), "30 2 * * *", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
    ("America/New_York", date(2026, 11, 1), "30 1 * * *", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ("Australia/Sydney", date(2026, 4, 5), "30 2 * * *", datetime(2026, 4, 4, 15, 30, tzinfo=UTC)),
]
# (zone, the day clocks go forward, a time that does not occur, the next valid minute in UTC)
SPRING = [
    ("Europe/Berlin", date(2026, 3, 29), "30 2 * * *", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ("America/New_York", date(2026, 3, 8), "30 2 * * *", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
    ("Australia/Sydney", date(2026, 10, 4), "30 2 * * *", datetime(2026, 10, 3, 16, 0, tzinfo=UTC)),
]


def fires(cron: str, zone: str, around: date) -> list[datetime]:
    """Every run the scheduler makes over three days around ``around``: each next due time is
    computed after the run before it, as dispatch does when a run finishes."""
    schedule = {"type": "recurring", "cron": cron, "timezone": zone}
    after = datetime.combine(around - timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
    end = after + timedelta(days=3)
    out = []
    while True:
        due = schedules.next_due(schedule, after, UTC_ZONE)
        assert due is not None
        if due >= end:
            return out
        out.append(due.astimezone(UTC))
        after = due + timedelta(minutes=1)  # the run takes a moment to finish


def on(day: date, zone: str, moments: list[datetime]) -> list[datetime]:
    return [m for m in moments if m.astimezone(ZoneInfo(zone)).date() == day]


@pytest.mark.parametrize(("zone", "day", "cron", "first"), AUTUMN, ids=[z for z, *_ in AUTUMN])
def test_a_time_that_occurs_twice_runs_once(zone, day, cron, first):
    moments = fires(cron, zone, day)
    assert on(day, zone, moments) == [first]
    assert len(moments) == 3  # the day before, the day itself, the day after: once each


@pytest.mark.parametrize(("zone", "day", "cron", "first"), AUTUMN, ids=[z for z, *_ in AUTUMN])
def test_a_run_finishing_in_the_repeated_hour_does_not_run_again(zone, day, cron, first):
    schedule = {"type": "recurring", "cron": cron, "timezone": zone}
    # finished 50 minutes later: the wall clock has gone back and shows an earlier time
    due = schedules.next_due(schedule, first + timedelta(minutes=50), UTC_ZONE)
    assert due is not None and due.astimezone(ZoneInfo(zone)).date() == day + timedelta(days=1)


@pytest.mark.parametrize(("zone", "day", "cron", "valid"), SPRING, ids=[z for z, *_ in SPRING])
def test_a_time_that_does_not_occur_runs_once_at_the_next_valid_minute(zone, day, cron, valid):
    moments = fires(cron, zone, day)
    assert on(day, zone, moments) == [valid]
    assert len(moments) == 3
    local = valid.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (3, 0)


@pytest.mark.parametrize(("zone", "day", "cron", "valid"), SPRING, ids=[z for z, *_ in SPRING])
def test_every_skipped_time_in_the_gap_collapses_into_one_run(zone, day, cron, valid):
    moments = on(day, zone, fires("*/15 2 * * *", zone, day))
    assert moments == [valid]


def test_ordinary_days_keep_their_wall_clock_time_in_both_offsets():
    moments = fires("0 10 * * *", "Europe/Berlin", date(2026, 10, 25))
    assert [m.astimezone(ZoneInfo("Europe/Berlin")).hour for m in moments] == [10, 10, 10]
    assert [m.hour for m in moments] == [8, 9, 9]
