"""``smart`` schedules: each member gets the message on the schedule's day at their best hour
(``contacts.best_hour``, on their own wall clock), else at ``fallback_time``.

Like ``local_time`` (see ``localtime.py``), the due instant is worked out in Python, here once
per distinct zone and hour (at most 25 per zone: the 24 hours and the fallback), and joined to
the audience as a small table, so the ledger's ``not_before`` is written by the one
INSERT … SELECT of the run. The batches are cut in due order, so each sleeps until its hour."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, and_, column, func, select
from sqlalchemy.orm import Session

from herald.audiences.local_clock import NO_ZONE, Rows
from herald.audiences.models import Contact
from herald.campaigns.schedules import wall_instant
from herald.core.clock import member_zone
from herald.core.db import UTCDateTime

FALLBACK = -1  # the hour key of members without a best hour


def due_instants(schedule: Mapping[str, Any], zone: ZoneInfo) -> dict[int, datetime]:
    """``{hour: instant}`` for the 24 hours of the schedule's day in ``zone`` and, under
    ``FALLBACK``, its fallback time. An hour a DST change skips is taken at the next valid
    minute; an hour that occurs twice, at its first occurrence."""
    day = date.fromisoformat(schedule["date"])
    out = {hour: wall_instant(datetime.combine(day, time(hour)), zone) for hour in range(24)}
    fallback = time.fromisoformat(schedule["fallback_time"])
    out[FALLBACK] = wall_instant(datetime.combine(day, fallback), zone)
    return out


def member_due(
    schedule: Mapping[str, Any], zone_name: str | None, best_hour: int | None, default: ZoneInfo
) -> datetime:
    """The plain-Python twin of :func:`members_with_due` for one member."""
    instants = due_instants(schedule, member_zone(zone_name, default))
    return instants[FALLBACK if best_hour is None else best_hour]


def members_with_due(
    session: Session, members: Any, schedule: Mapping[str, Any], default: ZoneInfo
) -> Any:
    """A subquery ``(id, due)`` of the audience with each member's due instant."""
    joined = select(members.c.id, Contact.timezone).join(Contact, Contact.id == members.c.id)
    names = set(session.scalars(select(joined.subquery().c.timezone).distinct()))
    rows = [
        (name, hour, instant)
        for name in {n or NO_ZONE for n in names} | {NO_ZONE}
        for hour, instant in due_instants(schedule, member_zone(name, default)).items()
    ]
    slots = Rows(
        column("zone", String),
        column("hour", Integer),
        column("due", UTCDateTime()),
        name="smart_slots",
    ).data(rows)
    return (
        select(members.c.id.label("id"), slots.c.due.label("due"))
        .join(Contact, Contact.id == members.c.id)
        .join(
            slots,
            and_(
                func.coalesce(Contact.timezone, NO_ZONE) == slots.c.zone,
                func.coalesce(Contact.best_hour, FALLBACK) == slots.c.hour,
            ),
        )
        .subquery()
    )
