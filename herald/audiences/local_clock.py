"""A member's wall clock in SQL, the same on SQLite and PostgreSQL.

Zone rules are not in SQLite (and a member's zone name may be unknown to PostgreSQL), so the
offset is worked out in Python, once per zone and per stretch between two clock changes, and
joined to the rows as a small table ``(zone, since, until, shift)``. The hour and weekday are
then integer arithmetic on the epoch seconds plus that offset."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import Values
from sqlalchemy.sql.functions import FunctionElement

from herald.core.clock import member_zone
from herald.core.db import UTCDateTime

NO_ZONE = ""  # the key members without a zone of their own are joined on


class Rows(Values):
    """A VALUES table usable in FROM on SQLite too (which takes no column list on its alias)."""

    inherit_cache = True


@compiles(Rows, "sqlite")
def _rows_sqlite(element: Rows, compiler: Any, asfrom: bool = False, **kw: Any) -> str:
    inner = compiler.visit_values(element, asfrom=False, **kw)
    names = ", ".join(
        f"column{i + 1} AS {compiler.preparer.quote(c.name)}" for i, c in enumerate(element.columns)
    )
    body = f"(SELECT {names} FROM ({inner}))"
    return f"{body} AS {compiler.preparer.quote(element.name)}" if asfrom else body


def _offset(zone: ZoneInfo, at: datetime) -> int:
    delta = at.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def offset_spans(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, int]]:
    """``[(since, until, offset seconds)]`` covering ``[start, end)``: one span per stretch with
    the same UTC offset. Clock changes are found day by day, then to the second by bisection."""
    spans: list[tuple[datetime, datetime, int]] = []
    since, current = start, _offset(zone, start)
    probe = start
    while probe < end:
        step = min(probe + timedelta(days=1), end)
        if _offset(zone, step) != current:
            # the change happens in (low, high]; also in the last, shorter step up to ``end``
            low, high = probe, step
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(zone, middle) == current:
                    low = middle
                else:
                    high = middle
            # clock changes fall on whole seconds: the first whole second past ``low``
            changed = low.replace(microsecond=0) + timedelta(seconds=1)
            if _offset(zone, changed) == current:  # pragma: no cover - a change mid-second
                changed = high
            if changed >= end:
                break  # the change is at ``end`` itself, outside [start, end)
            spans.append((since, changed, current))
            since, current = changed, _offset(zone, changed)
        probe = step
    spans.append((since, end, current))
    return spans


def offsets_table(
    names: Iterable[str | None], default: ZoneInfo, start: datetime, end: datetime
) -> Any:
    """The ``(zone, since, until, offset)`` table for the zone names members carry (an unknown
    name and no name, as ``NO_ZONE``, take the default zone's offsets)."""
    rows: list[tuple[str, datetime, datetime, int]] = []
    for name in {n or NO_ZONE for n in names} | {NO_ZONE}:
        for since, until, offset in offset_spans(member_zone(name, default), start, end):
            rows.append((name, since, until, offset))
    return Rows(
        column("zone", String),
        column("since", UTCDateTime()),
        column("until", UTCDateTime()),
        column("shift", Integer),
        name="zone_offsets",
    ).data(rows)


class LocalHour(FunctionElement[int]):
    """``LocalHour(instant, offset seconds)``: the hour (0-23) of the wall clock there."""

    type = Integer()
    name = "local_hour"
    inherit_cache = True


class LocalWeekday(FunctionElement[int]):
    """``LocalWeekday(instant, offset seconds)``: the weekday, 0 = Sunday … 6 = Saturday."""

    type = Integer()
    name = "local_weekday"
    inherit_cache = True


def _epoch(dialect: str, instant: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {instant}) AS BIGINT)"
    return f"CAST(strftime('%s', {instant}) AS INTEGER)"


def _mod(dialect: str, value: str, modulus: int) -> str:
    # a bare % is a parameter marker to psycopg
    if dialect == "postgresql":
        return f"MOD({value}, {modulus})"
    return f"({value} % {modulus})"


def _args(element: FunctionElement[int], compiler: Any, **kw: Any) -> tuple[str, str]:
    instant, offset = list(element.clauses)
    return compiler.process(instant, **kw), compiler.process(offset, **kw)


@compiles(LocalHour)
def _local_hour(element: LocalHour, compiler: Any, **kw: Any) -> str:
    instant, offset = _args(element, compiler, **kw)
    dialect = compiler.dialect.name
    return _mod(dialect, f"(({_epoch(dialect, instant)} + {offset}) / 3600)", 24)


@compiles(LocalWeekday)
def _local_weekday(element: LocalWeekday, compiler: Any, **kw: Any) -> str:
    instant, offset = _args(element, compiler, **kw)
    # 1970-01-01 was a Thursday (4 when Sunday is 0)
    dialect = compiler.dialect.name
    return _mod(dialect, f"((({_epoch(dialect, instant)} + {offset}) / 86400) + 4)", 7)


def local_parts(at: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """The plain-Python twin: ``(weekday with Sunday = 0, hour)`` of ``at`` in ``zone``."""
    local = at.astimezone(zone)
    return (local.isoweekday() % 7, local.hour)
