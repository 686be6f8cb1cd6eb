"""Members entering journeys, and the events a member in a journey is listening for.

:func:`on_event` runs in the transaction that stores the event (called from
:mod:`herald.intake`): ``exit_on`` goals end a member's path, a ``wait_for`` step moves its
member on, and journeys entered by that event take the member in. :func:`scheduled_entries`
runs in the tick: segment entries (members who joined the segment since the journey started
watching it, :mod:`herald.journeys.segment_entry`) and date entries (birthdays, once a year at
a time in the member's zone), each one INSERT … SELECT per journey (and member zone)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, cast, exists, insert, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from herald.audiences import segments
from herald.audiences.models import Contact, Event, PointsLot
from herald.audiences.sqlfuncs import MonthDay
from herald.core import clock
from herald.core.db import UTCDateTime
from herald.journeys import segment_entry, signals
from herald.journeys.models import Journey
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneyVisit as V
from herald.journeys.moves import next_time, wake

HASH = 2654435761


def on_event(session: Session, event: Event, zone: ZoneInfo) -> None:
    """Apply one stored member event to every journey: goals, ``wait_for`` steps, entries.
    Nothing here waits for a tick moving these journeys (see :mod:`herald.journeys.signals`)."""
    if event.contact_id is None:
        return
    now = clock.now()
    live = session.scalars(
        select(Journey).where(Journey.status.in_(("active", "paused"))).order_by(Journey.id)
    ).all()
    for journey in live:
        signals.on_event(session, journey, event, now)
        if journey.status == "active" and journey.definition["entry"].get("event") == event.type:
            enter(session, journey, event.contact_id, now, zone, data=event.data)


def kinds_heard(session: Session) -> set[str]:
    """The event types some live journey reacts to as they arrive (an entry, a goal, a
    ``wait_for``); :func:`on_event` does nothing for any other type."""
    heard: set[str] = set()
    for definition in session.scalars(
        select(Journey.definition).where(Journey.status.in_(("active", "paused")))
    ):
        entry = definition["entry"].get("event")
        if entry:
            heard.add(entry)
        heard |= signals.kinds_listened(definition)
    return heard


def enter(
    session: Session,
    journey: Journey,
    contact_id: int,
    now: datetime,
    zone: ZoneInfo,
    data: dict[str, Any] | None = None,
) -> E | None:
    """Take one member in at the first step, or nothing when the filter or ``re_entry`` says
    no. Holdout members enter and are counted, and never get a message."""
    definition = journey.definition
    rules = definition["entry"].get("filter")
    if rules and not session.scalar(
        select(exists(segments.members(rules, zone=zone).where(Contact.id == contact_id)))
    ):
        return None
    if session.scalar(
        select(exists().where(_blocked(E, journey, now), E.contact_id == contact_id))
    ):
        return None
    first = definition["steps"][0]
    wake_at = wake(first, now)
    if first["type"] == "wait" and "until_time" in first:
        contact = session.get(Contact, contact_id)
        member_zone = clock.member_zone(contact.timezone if contact else None, zone)
        wake_at = next_time(first["until_time"], now, member_zone)
    # two identical events at once: the unique index on active entries lets one INSERT in and
    # the other does nothing (it waits for the first to commit, then finds the conflict)
    entry_id = session.execute(
        ignoring_conflicts(session, E)
        .values(
            journey_id=journey.id,
            contact_id=contact_id,
            step=first["id"],
            wake_at=wake_at,
            state="active",
            holdout=random.random() < definition.get("holdout", 0),
            entered_at=now,
            data=dict(data or {}),
        )
        .returning(E.id)
    ).scalar()
    if entry_id is None:
        return None
    session.add(V(journey_id=journey.id, entry_id=entry_id, step=first["id"], at=now))
    session.flush()
    return session.get(E, entry_id)


def ignoring_conflicts(session: Session, table: Any) -> Any:
    """An INSERT into ``table`` that does nothing for a row a unique index already holds."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _blocked(entries: Any, journey: Journey, now: datetime) -> Any:
    """Entries (of ``entries``, the table or an alias) of this journey that keep their member
    from entering again now, by ``re_entry``."""
    rule = journey.definition.get("re_entry", "never")
    mine = entries.journey_id == journey.id
    if rule == "never":
        return mine
    if rule == "after_exit":
        return and_(mine, entries.state == "active")
    since = now - timedelta(days=rule["after_days"])
    recent = entries.entered_at > since
    if rule.get("count_exits") is False:
        recent = and_(recent, entries.state != "exited")
    return and_(mine, or_(entries.state == "active", recent))


def scheduled_entries(session: Session, journey: Journey, now: datetime, zone: ZoneInfo) -> int:
    """Segment and date entries due now; one INSERT … SELECT each (per member zone for dates)."""
    entry = journey.definition["entry"]
    if "segment_id" in entry:
        joined = segment_entry.joiners(session, journey, now, zone)
        return 0 if joined is None else _insert(session, journey, now, joined, None)
    if entry.get("date_field") == "points_expire_at":
        return _expiry_entries(session, journey, now, zone, entry)
    if entry.get("date_field") != "birthday":
        return 0
    names = session.scalars(
        select(Contact.timezone).where(Contact.birthday.is_not(None)).distinct()
    ).all()
    taken = 0
    for name in names:
        local = now.astimezone(clock.member_zone(name, zone))
        if local.strftime("%H:%M") < entry["time"]:
            continue
        # entering on the day offset_days from the birthday: the birthday is that far off
        birthday = local.date() - timedelta(days=entry["offset_days"])
        keys = [birthday.strftime("%m-%d")]
        if keys == ["02-28"] and not _leap(birthday.year):
            keys.append("02-29")
        in_zone = Contact.timezone.is_(None) if name is None else Contact.timezone == name
        members = select(Contact.id).where(
            Contact.erased_at.is_(None), in_zone, MonthDay(Contact.birthday).in_(keys)
        )
        taken += _insert(session, journey, now, members, f"birthday:{birthday.year}")
    return taken


def _expiry_entries(
    session: Session, journey: Journey, now: datetime, zone: ZoneInfo, entry: dict[str, Any]
) -> int:
    """Members with a points lot expiring ``-offset_days`` from their local today, once per
    expiry date (read from the lots, so a lot that has just become the nearest is not missed)."""
    names = session.scalars(
        select(Contact.timezone).where(Contact.points_expire_at.is_not(None)).distinct()
    ).all()
    taken = 0
    for name in names:
        local = now.astimezone(clock.member_zone(name, zone))
        if local.strftime("%H:%M") < entry["time"]:
            continue
        expires = local.date() - timedelta(days=entry["offset_days"])
        in_zone = Contact.timezone.is_(None) if name is None else Contact.timezone == name
        members = select(Contact.id).where(
            Contact.erased_at.is_(None),
            in_zone,
            exists().where(PointsLot.contact_id == Contact.id, PointsLot.expires_at == expires),
        )
        taken += _insert(session, journey, now, members, f"points_expire_at:{expires}")
    return taken


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _insert(
    session: Session, journey: Journey, now: datetime, members: Any, occasion: str | None
) -> int:
    """Enter every member ``members`` selects that may enter, then record their first visits."""
    definition = journey.definition
    first = definition["steps"][0]
    ids = members.subquery()
    member = ids.c[0]
    prior = aliased(E)
    same = exists().where(
        prior.journey_id == journey.id, prior.contact_id == member, prior.occasion == occasion
    )
    blocked = exists().where(_blocked(prior, journey, now), prior.contact_id == member)
    spread = cast(member, BigInteger) * literal(HASH, BigInteger) + journey.id
    held = spread % 1000 < round(definition.get("holdout", 0) * 1000)
    source = select(
        literal(journey.id),
        member,
        literal(first["id"]),
        literal(wake(first, now), UTCDateTime()),
        literal("active"),
        held,
        literal(occasion),
        literal(now, UTCDateTime()),
    ).where(~blocked if occasion is None else and_(~same, ~_active(prior, journey, member)))
    taken = session.execute(
        ignoring_conflicts(session, E).from_select(
            [
                "journey_id",
                "contact_id",
                "step",
                "wake_at",
                "state",
                "holdout",
                "occasion",
                "entered_at",
            ],
            source,
        )
    ).rowcount
    if taken:
        visited = aliased(V)
        session.execute(
            insert(V).from_select(
                ["journey_id", "entry_id", "step", "at"],
                select(literal(journey.id), E.id, E.step, E.entered_at).where(
                    E.journey_id == journey.id,
                    E.entered_at == now,
                    ~exists().where(visited.entry_id == E.id),
                ),
            )
        )
    return taken


def _active(prior: Any, journey: Journey, member: Any) -> Any:
    return exists().where(
        prior.journey_id == journey.id, prior.contact_id == member, prior.state == "active"
    )
