"""Schedules: parse what a marketer stored and compute when a campaign next falls due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from herald.core.errors import ValidationError

TYPES = ("immediate", "once", "recurring", "local_time", "smart")
# schedules that reach each member at a moment of their own, spread across a day
PER_MEMBER = ("local_time", "smart")
# the earliest and latest zones on Earth: a local_time send spans this window
EARLIEST_OFFSET = timedelta(hours=14)
LATEST_OFFSET = timedelta(hours=12)
# years a schedule may name: outside them the arithmetic on the instant overflows
MIN_YEAR, MAX_YEAR = 1970, 2999


def _problem(field: str, message: str) -> ValidationError:
    return ValidationError(f"schedule.{field}: {message}", {f"schedule.{field}": message})


def parse_at(raw: Any, field: str = "at") -> datetime:
    """An ISO 8601 instant that must carry an offset or ``Z``."""
    if not isinstance(raw, str):
        raise _problem(field, "must be an ISO 8601 time such as 2026-11-11T10:00:00+08:00")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _problem(field, f"{raw!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise _problem(field, f"{raw!r} has no offset; add one such as +08:00 or Z")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise _problem(field, f"{raw!r}: the year must be from {MIN_YEAR} to {MAX_YEAR}")
    return value


def _cron(raw: Any, zone: ZoneInfo) -> CronTrigger:
    if not isinstance(raw, str) or len(raw.split()) != 5:
        raise _problem("cron", "must be a five-field cron expression such as '0 10 8 * *'")
    minute, hour, day, month, weekday = raw.split()
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=standard_weekdays(weekday),
            timezone=zone,
        )
    except ValueError as exc:
        raise _problem("cron", f"{raw!r}: {exc}") from None


def cron_trigger(raw: Any, zone: ZoneInfo) -> CronTrigger:
    """The APScheduler trigger of a five-field cron rule in ``zone`` (raises ValidationError)."""
    return _cron(raw, zone)


WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def standard_weekdays(field: str) -> str:
    """The day-of-week field in standard cron meaning (0 and 7 are Sunday), as weekday names.
    APScheduler 3 counts numbers from Monday, so ``3`` would otherwise fire on Thursday."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            low, high = (_weekday(x) for x in span.split("-", 1))
        else:
            low = high = _weekday(span)
            if step_text:
                high = 6
        if step < 1 or low > high:
            raise ValueError(f"day of week {part!r} is not a range from low to high")
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(WEEKDAY_NAMES[day] for day in sorted(days))


def _weekday(text: str) -> int:
    text = text.strip().lower()
    if text in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(text)
    if not text.isdigit() or int(text) > 7:
        raise ValueError(f"day of week {text!r} is not 0-7 or a name such as wed")
    return int(text)


def _zone(raw: Any, default: ZoneInfo) -> ZoneInfo:
    if raw is None:
        return default
    try:
        return ZoneInfo(str(raw))
    except (ZoneInfoNotFoundError, ValueError):
        raise _problem("timezone", f"{raw!r} is not an IANA time zone") from None


def _day(raw: Any) -> date:
    try:
        if not isinstance(raw, str):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise _problem("date", "must be a date such as 2026-11-11") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise _problem("date", f"the year must be from {MIN_YEAR} to {MAX_YEAR}")
    return day


def _wall(raw: Any, field: str) -> time:
    try:
        if not isinstance(raw, str):
            raise ValueError
        wall = time.fromisoformat(raw)
    except ValueError:
        raise _problem(field, "must be a wall-clock time such as 10:00") from None
    if wall.tzinfo is not None:
        raise _problem(field, "is the members' own wall-clock time: leave the offset out")
    return wall


def day_over(schedule: Mapping[str, Any], now: datetime) -> bool:
    """True when a per-member schedule's day has ended in every zone on Earth."""
    start = next_due(schedule, now, UTC_ZONE)
    return start is not None and last_moment(schedule, start) < now


def last_moment(schedule: Mapping[str, Any], start: datetime) -> datetime:
    """The latest instant a run that started at ``start`` may still reach a member: a
    local_time send ends when the latest zone reaches its time, a smart one when that zone's
    day ends."""
    kind = schedule.get("type")
    if kind == "local_time":
        return start + EARLIEST_OFFSET + LATEST_OFFSET
    if kind == "smart":
        return start + EARLIEST_OFFSET + LATEST_OFFSET + timedelta(days=1)
    return start


def validate(schedule: Any, default_zone: ZoneInfo) -> dict[str, Any]:
    """Check a schedule and return it normalised; raises :class:`ValidationError` naming the
    field."""
    if schedule is None:
        return {"type": "immediate"}
    if not isinstance(schedule, Mapping):
        raise ValidationError("schedule must be an object", {"schedule": "must be an object"})
    kind = schedule.get("type")
    if kind not in TYPES:
        raise _problem("type", f"{kind!r} is not one of {', '.join(TYPES)}")
    allowed = {
        "immediate": {"type"},
        "once": {"type", "at"},
        "recurring": {"type", "cron", "timezone"},
        "local_time": {"type", "date", "time"},
        "smart": {"type", "date", "fallback_time"},
    }[kind]
    unknown = sorted(set(schedule) - allowed)
    if unknown:
        raise _problem(unknown[0], f"not a field of a {kind} schedule")
    out: dict[str, Any] = {"type": kind}
    if kind == "once":
        out["at"] = parse_at(schedule.get("at")).isoformat()
    elif kind == "recurring":
        zone = _zone(schedule.get("timezone"), default_zone)
        _cron(schedule.get("cron"), zone)
        out.update(cron=schedule["cron"], timezone=zone.key)
    elif kind == "local_time":
        day = _day(schedule.get("date"))
        wall = _wall(schedule.get("time"), "time")
        out.update(date=day.isoformat(), time=wall.isoformat())
    elif kind == "smart":
        day = _day(schedule.get("date"))
        wall = _wall(schedule.get("fallback_time"), "fallback_time")
        out.update(date=day.isoformat(), fallback_time=wall.isoformat(timespec="minutes"))
    return out


UTC_ZONE = ZoneInfo("UTC")
# a cron matches at least once in any 14 months; this bounds the walk past skipped times
MAX_CANDIDATES = 10_000


def wall_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time names in ``zone``: the first of the two when the
    clocks go back (the time occurs twice), and the next valid minute when they go forward (the
    time does not occur)."""
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC_ZONE).astimezone(zone).replace(tzinfo=None) == wall:
        return first
    probe = wall.replace(second=0, microsecond=0)
    for _ in range(48 * 60):  # the longest gap on record is a whole day (Samoa, 2011)
        probe += timedelta(minutes=1)
        candidate = probe.replace(tzinfo=zone, fold=0)
        if candidate.astimezone(UTC_ZONE).astimezone(zone).replace(tzinfo=None) == probe:
            return candidate
    raise ValueError(f"{wall} never occurs in {zone.key}")  # pragma: no cover


def next_wall_clock(trigger: CronTrigger, zone: ZoneInfo, after: datetime) -> datetime | None:
    """The first instant strictly after ``after`` at which the cron's wall-clock times fall in
    ``zone``. The cron is walked on the wall clock (``trigger`` counts in UTC, which has no
    daylight saving), so a time that occurs twice runs once and a skipped time runs once, at the
    next valid minute."""
    wall = after.astimezone(zone).replace(tzinfo=None) + timedelta(seconds=1)
    for _ in range(MAX_CANDIDATES):
        fire = trigger.get_next_fire_time(None, wall.replace(tzinfo=UTC_ZONE))
        if fire is None:
            return None
        candidate = fire.replace(tzinfo=None)
        instant = wall_instant(candidate, zone)
        if instant > after:
            return instant
        wall = candidate + timedelta(seconds=1)
    return None


def next_due(
    schedule: Mapping[str, Any], after: datetime, default_zone: ZoneInfo
) -> datetime | None:
    """When the schedule next falls due strictly after ``after`` (``None`` when never again).

    ``immediate`` falls due at once; ``once`` at its instant; ``recurring`` at the next cron
    time; ``local_time`` when the earliest zone reaches the wall-clock time; ``smart`` when the
    day begins in the earliest zone.
    """
    kind = schedule.get("type", "immediate")
    if kind == "immediate":
        return after
    if kind == "once":
        return parse_at(schedule["at"])
    if kind == "recurring":
        zone = _zone(schedule.get("timezone"), default_zone)
        return next_wall_clock(_cron(schedule["cron"], UTC_ZONE), zone, after)
    if kind == "local_time":
        wall = datetime.combine(
            date.fromisoformat(schedule["date"]), time.fromisoformat(schedule["time"])
        )
        return (wall - EARLIEST_OFFSET).replace(tzinfo=ZoneInfo("UTC"))
    if kind == "smart":
        midnight = datetime.combine(date.fromisoformat(schedule["date"]), time())
        return (midnight - EARLIEST_OFFSET).replace(tzinfo=ZoneInfo("UTC"))
    return None
