"""``local_time`` schedules: each member gets the message at the same wall-clock time in their
own zone. The due instant is computed once per distinct zone of the audience (a handful, not a
row per member) and written into the ledger's ``not_before`` with one CASE expression."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, literal, select
from sqlalchemy.orm import Session

from herald.audiences.models import Contact
from herald.core import clock
from herald.core.db import UTCDateTime


def due_instant(schedule: Mapping[str, Any], zone: ZoneInfo) -> datetime:
    """When the schedule's wall-clock date and time happen in ``zone`` (as UTC). A time that a
    DST change skips is taken as the same wall time after the change (``fold=0``)."""
    wall = datetime.combine(
        date.fromisoformat(schedule["date"]), time.fromisoformat(schedule["time"])
    )
    return wall.replace(tzinfo=zone).astimezone(UTC)


def members_with_due(
    session: Session, members: Any, schedule: Mapping[str, Any], default: ZoneInfo
) -> Any:
    """A subquery ``(id, due)`` of the audience with each member's due instant."""
    joined = select(members.c.id, Contact.timezone).join(Contact, Contact.id == members.c.id)
    zones = session.scalars(select(joined.subquery().c.timezone).distinct()).all()
    fallback = due_instant(schedule, default)
    whens = [
        (
            Contact.timezone == name,
            literal(due_instant(schedule, clock.member_zone(name, default)), UTCDateTime()),
        )
        for name in zones
        if name
    ]
    due = (
        case(*whens, else_=literal(fallback, UTCDateTime()))
        if whens
        else literal(fallback, UTCDateTime())
    )
    return (
        select(members.c.id.label("id"), due.label("due"))
        .join(Contact, Contact.id == members.c.id)
        .subquery()
    )
