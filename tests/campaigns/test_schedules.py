"""Schedules: cron in its standard meaning, offsets required, next due times."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.campaigns import schedules
from herald.core.errors import ValidationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday


def _next(cron: str, after: datetime = MONDAY) -> datetime:
    schedule = {"type": "recurring", "cron": cron, "timezone": "UTC"}
    due = schedules.next_due(schedule, after, ZoneInfo("UTC"))
    assert due is not None
    return due


@pytest.mark.parametrize(
    ("cron", "weekday"),
    [
        ("0 10 * * 3", "Wednesday"),
        ("0 10 * * 0", "Sunday"),
        ("0 10 * * 7", "Sunday"),
        ("0 10 * * wed", "Wednesday"),
        ("0 10 * * 6", "Saturday"),
        ("0 10 * * 1", "Tuesday"),
    ],
)
def test_day_of_week_numbers_mean_what_they_mean_in_cron(cron, weekday):
    # "1" is Monday, but Monday 10:00 is already past at Monday noon: the next one is Tuesday? no:
    # the next Monday. Tuesday appears only for "1" if counted from Monday, which is the bug.
    expected = "Monday" if cron.endswith(" 1") else weekday
    assert _next(cron).strftime("%A") == expected


def test_ranges_lists_and_steps_follow_cron():
    assert schedules.standard_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert schedules.standard_weekdays("0,6") == "sun,sat"
    assert schedules.standard_weekdays("*/2") == "sun,tue,thu,sat"
    assert schedules.standard_weekdays("5-7") == "sun,fri,sat"
    with pytest.raises(ValidationError, match=r"schedule\.cron"):
        schedules.validate({"type": "recurring", "cron": "0 10 * * 9"}, SHANGHAI)


@given(st.integers(0, 7))
def test_every_weekday_number_fires_on_that_day(number):
    due = _next(f"30 9 * * {number}")
    assert due.isoweekday() % 7 == number % 7


def test_once_needs_an_offset_and_immediate_is_now():
    with pytest.raises(ValidationError) as caught:
        schedules.validate({"type": "once", "at": "2026-11-11T10:00:00"}, SHANGHAI)
    assert "schedule.at" in caught.value.fields
    assert schedules.next_due({"type": "immediate"}, MONDAY, SHANGHAI) == MONDAY
    once = schedules.validate({"type": "once", "at": "2026-11-11T10:00:00+08:00"}, SHANGHAI)
    assert schedules.next_due(once, MONDAY, SHANGHAI) == datetime(2026, 11, 11, 2, tzinfo=UTC)


def test_recurring_uses_its_own_zone():
    schedule = schedules.validate(
        {"type": "recurring", "cron": "0 10 8 * *", "timezone": "Asia/Shanghai"}, ZoneInfo("UTC")
    )
    assert schedules.next_due(schedule, MONDAY, ZoneInfo("UTC")) == datetime(
        2026, 12, 8, 2, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"type": "once", "at": "9999-12-31T23:59:59+00:00"}, "schedule.at"),
        ({"type": "once", "at": "0001-01-01T00:00:00+14:00"}, "schedule.at"),
        ({"type": "local_time", "date": "0001-01-01", "time": "10:00"}, "schedule.date"),
        ({"type": "local_time", "date": "3000-01-01", "time": "10:00"}, "schedule.date"),
        ({"type": "local_time", "date": 20301111, "time": "10:00"}, "schedule.date"),
        ({"type": "local_time", "date": "2030-11-11", "time": 1000}, "schedule.time"),
        ({"type": "local_time", "date": "2030-11-11", "time": "10:00+08:00"}, "schedule.time"),
    ],
)
def test_out_of_range_or_non_string_schedule_values_name_the_field(schedule, field):
    with pytest.raises(ValidationError) as caught:
        schedules.validate(schedule, SHANGHAI)
    assert field in caught.value.fields


def test_local_time_is_stored_normalised_and_plans():
    stored = schedules.validate(
        {"type": "local_time", "date": "20301111", "time": "1000"}, SHANGHAI
    )
    assert (stored["date"], stored["time"]) == ("2030-11-11", "10:00:00")
    due = schedules.next_due(stored, MONDAY, SHANGHAI)
    assert due == datetime(2030, 11, 10, 20, 0, tzinfo=ZoneInfo("UTC"))
