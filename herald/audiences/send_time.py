"""Send time: each member's best hour, and when an audience opens (hour × weekday).

A member's best hour is the hour of day, on their own wall clock (their zone, else the service
zone), at which they have most often opened an email or clicked a link (human events only:
machine opens and bot clicks are left out) in the last ``WINDOW_DAYS`` days. Ties go to the
earliest hour. Without such an event it is null. ``recompute`` writes it for every member in
three statements; ``best_hours`` is its plain-Python twin, which the tests compare it with.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from herald.audiences.local_clock import (
    NO_ZONE,
    LocalHour,
    LocalWeekday,
    local_parts,
    offsets_table,
)
from herald.audiences.models import Contact, Event
from herald.core.clock import member_zone

WINDOW_DAYS = 90
ENGAGEMENT_TYPES = ("email.opened", "email.clicked", "sms.clicked")


def _engagement(since: datetime, now: datetime) -> Any:
    return and_(
        Event.type.in_(ENGAGEMENT_TYPES),
        Event.machine.is_(False),
        Event.occurred_at >= since,
        Event.occurred_at <= now,
    )


def _zones(session: Session) -> list[str | None]:
    return list(session.scalars(select(Contact.timezone).distinct()))


def _local_events(session: Session, default: ZoneInfo, since: datetime, now: datetime) -> Any:
    """``(contact_id, hour, weekday)`` of every human open and click in the window, on the
    member's wall clock."""
    zones = offsets_table(_zones(session), default, since, now + timedelta(seconds=1))
    return (
        select(
            Event.contact_id.label("contact_id"),
            LocalHour(Event.occurred_at, zones.c.shift).label("hour"),
            LocalWeekday(Event.occurred_at, zones.c.shift).label("weekday"),
        )
        .join(Contact, Contact.id == Event.contact_id)
        .join(
            zones,
            and_(
                func.coalesce(Contact.timezone, NO_ZONE) == zones.c.zone,
                Event.occurred_at >= zones.c.since,
                Event.occurred_at < zones.c.until,
            ),
        )
        .where(_engagement(since, now), Contact.erased_at.is_(None))
    )


def recompute(session: Session, default: ZoneInfo, now: datetime) -> int:
    """Write every member's best hour (set-based: no member is loaded into Python). Returns the
    number of members whose best hour changed."""
    since = now - timedelta(days=WINDOW_DAYS)
    local = _local_events(session, default, since, now).subquery()
    counts = (
        select(local.c.contact_id, local.c.hour, func.count().label("n"))
        .group_by(local.c.contact_id, local.c.hour)
        .subquery()
    )
    rank = func.row_number().over(
        partition_by=counts.c.contact_id, order_by=(counts.c.n.desc(), counts.c.hour)
    )
    ranked = select(counts.c.contact_id, counts.c.hour, rank.label("rank")).subquery()
    best = select(ranked.c.contact_id, ranked.c.hour).where(ranked.c.rank == 1).subquery("best")
    changed = session.execute(
        update(Contact)
        .where(Contact.id == best.c.contact_id, Contact.best_hour.is_distinct_from(best.c.hour))
        # a computed fact, not an edit of the member: updated_at stays
        .values(best_hour=best.c.hour, updated_at=Contact.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    engaged = exists().where(Event.contact_id == Contact.id, _engagement(since, now))
    cleared = session.execute(
        update(Contact)
        .where(Contact.best_hour.is_not(None), ~engaged | Contact.erased_at.is_not(None))
        .values(best_hour=None, updated_at=Contact.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    return (changed or 0) + (cleared or 0)


def best_hours(
    events: Iterable[tuple[int, datetime]],
    zones: dict[int, str | None],
    default: ZoneInfo,
    now: datetime,
) -> dict[int, int]:
    """The twin of :func:`recompute` over ``(contact_id, occurred_at)`` of human opens and
    clicks: ``{contact_id: best hour}`` for members with an event in the window."""
    since = now - timedelta(days=WINDOW_DAYS)
    per_member: dict[int, Counter[int]] = defaultdict(Counter)
    for contact_id, at in events:
        if since <= at <= now:
            zone = member_zone(zones.get(contact_id), default)
            per_member[contact_id][local_parts(at, zone)[1]] += 1
    return {
        contact_id: min(hours, key=lambda hour: (-hours[hour], hour))
        for contact_id, hours in per_member.items()
    }


def heat_map(
    session: Session, default: ZoneInfo, now: datetime, members: Any = None
) -> list[list[int]]:
    """Human opens and clicks of the last ``WINDOW_DAYS`` days by weekday (rows, Monday first)
    and hour (columns, 0-23) on each member's wall clock; ``members`` optionally narrows it to
    a SELECT of member ids (a segment)."""
    since = now - timedelta(days=WINDOW_DAYS)
    local = _local_events(session, default, since, now)
    if members is not None:
        local = local.where(Event.contact_id.in_(members))
    cells = local.subquery()
    grid = [[0] * 24 for _ in range(7)]
    for weekday, hour, count in session.execute(
        select(cells.c.weekday, cells.c.hour, func.count()).group_by(cells.c.weekday, cells.c.hour)
    ):
        grid[(int(weekday) + 6) % 7][int(hour)] = int(count)
    return grid
