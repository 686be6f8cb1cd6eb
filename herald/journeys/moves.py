"""Moving members between steps, set-based: every function here is one or two statements over
all the entries a condition selects, never a loop over members."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, insert, literal, select, update
from sqlalchemy.orm import Session, aliased

from herald.audiences.models import Contact
from herald.core import clock
from herald.core.db import UTCDateTime
from herald.journeys.graph import EXIT
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneyVisit as V


def due(journey_id: int, step: str, now: datetime) -> ColumnElement[bool]:
    """Entries at ``step`` whose wake-up has come."""
    return and_(E.journey_id == journey_id, E.state == "active", E.step == step, E.wake_at <= now)


def wake(step: dict[str, Any] | None, now: datetime) -> datetime | None:
    """When a member arriving at ``step`` now is next looked at; None for a time of day in the
    member's zone, settled per zone by :func:`settle_times`."""
    if step is None:
        return None
    if step["type"] == "wait":
        return None if "until_time" in step else now + timedelta(minutes=step["minutes"])
    if step["type"] == "wait_for":
        return now + timedelta(minutes=step["timeout_minutes"])
    return now


def move(
    session: Session,
    journey_id: int,
    steps: dict[str, dict[str, Any]],
    where: ColumnElement[bool],
    came_from: str,
    to: str,
    now: datetime,
    outcome: str | None = None,
) -> int:
    """Move the entries ``where`` selects from ``came_from`` to ``to`` (``exit`` completes them),
    recording a visit of ``to`` (once per entry and step) and the outcome of the step left."""
    at = literal(now, UTCDateTime())
    if outcome is not None:
        session.execute(
            update(V)
            .where(V.step == came_from, V.entry_id.in_(select(E.id).where(where)))
            .values(outcome=outcome)
        )
    if to == EXIT:
        return session.execute(
            update(E)
            .where(where)
            .values(state="completed", step=EXIT, wake_at=None, finished_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    again = aliased(V)
    session.execute(
        insert(V).from_select(
            ["journey_id", "entry_id", "step", "came_from", "at"],
            select(literal(journey_id), E.id, literal(to), literal(came_from), at).where(
                where, ~exists().where(again.entry_id == E.id, again.step == to)
            ),
        )
    )
    return session.execute(
        update(E)
        .where(where)
        .values(step=to, wake_at=wake(steps[to], now))
        .execution_options(synchronize_session=False)
    ).rowcount


def next_time(at: str, now: datetime, zone: ZoneInfo) -> datetime:
    """The next ``HH:MM`` in ``zone`` from ``now`` on (``now`` itself when it is that minute)."""
    hour, minute = (int(p) for p in at.split(":"))
    local = now.astimezone(zone)
    moment = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    if moment < local.replace(second=0, microsecond=0):
        moment = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), zone)
    return moment.astimezone(now.tzinfo)


def settle_times(
    session: Session,
    journey_id: int,
    steps: dict[str, dict[str, Any]],
    now: datetime,
    default: ZoneInfo,
) -> None:
    """Give members who arrived at a ``wait until_time`` step their wake-up: one UPDATE per
    step and member zone."""
    for step in steps.values():
        if step["type"] != "wait" or "until_time" not in step:
            continue
        waiting = and_(
            E.journey_id == journey_id,
            E.state == "active",
            E.step == step["id"],
            E.wake_at.is_(None),
        )
        zones = session.scalars(
            select(Contact.timezone).join(E, E.contact_id == Contact.id).where(waiting).distinct()
        ).all()
        for name in zones:
            in_zone = Contact.timezone.is_(None) if name is None else Contact.timezone == name
            wake_at = next_time(step["until_time"], now, clock.member_zone(name, default))
            session.execute(
                update(E)
                .where(waiting, E.contact_id.in_(select(Contact.id).where(in_zone)))
                .values(wake_at=wake_at)
                .execution_options(synchronize_session=False)
            )
