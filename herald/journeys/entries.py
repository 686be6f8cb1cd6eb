"""Members entering journeys, and the events a member in a journey is listening for.

:func:`on_event` runs in the transaction that stores the event (called from
:mod:`herald.intake`): ``exit_on`` goals end a member's path, a ``wait_for`` step moves its
member on, and journeys entered by that event take the member in. :func:`scheduled_entries`
runs in the tick: segment entries and date entries (birthdays, once a year at a time in the
member's zone), each one INSERT … SELECT per journey (and member zone)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, cast, exists, insert, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from herald.audiences import segments
from herald.audiences.models import Contact, Event, PointsLot, Segment
from herald.audiences.sqlfuncs import MonthDay
from herald.campaigns import status as st
from herald.campaigns.models import Delivery, Run
from herald.core import clock
from herald.core.db import UTCDateTime
from herald.journeys.models import Journey
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneyVisit as V
from herald.journeys.moves import move, next_time, wake, zone_of

HASH = 2654435761


def on_event(session: Session, event: Event, zone: ZoneInfo) -> None:
    """Apply one stored member event to every journey: goals, ``wait_for`` steps, entries."""
    if event.contact_id is None:
        return
    now = clock.now()
    live = session.scalars(
        select(Journey).where(Journey.status.in_(("active", "paused"))).order_by(Journey.id)
    ).all()
    relevant = [j for j in live if _listens(j.definition, event.type)]
    if relevant:
        # wait for a tick moving these journeys (it holds their rows FOR UPDATE), so that the
        # messages it wrote for this member are seen, and cancelled below if they exit
        session.execute(
            select(Journey.id)
            .where(Journey.id.in_([j.id for j in relevant]))
            .with_for_update(read=True)
        )
    for journey in relevant:
        mine = and_(
            E.journey_id == journey.id, E.contact_id == event.contact_id, E.state == "active"
        )
        definition = journey.definition
        if event.type in definition.get("exit_on", []):
            session.execute(
                update(E)
                .where(mine)
                .values(state="exited", exit_reason=event.type, wake_at=None, finished_at=now)
                .execution_options(synchronize_session=False)
            )
            cancel_waiting_messages(session, journey, event.contact_id, event.type)
        if journey.status != "active":
            continue
        steps = {s["id"]: s for s in definition["steps"]}
        for step in steps.values():
            if step["type"] == "wait_for" and step["event"] == event.type:
                where = and_(mine, E.step == step["id"])
                move(session, journey.id, steps, where, step["id"], step["then"], now, "event")
        if definition["entry"].get("event") == event.type:
            enter(session, journey, event.contact_id, now, zone, data=event.data)


def _listens(definition: dict[str, Any], kind: str) -> bool:
    """Whether events of ``kind`` matter to this journey (goal, wait_for, entry)."""
    if kind in definition.get("exit_on", []) or definition["entry"].get("event") == kind:
        return True
    return any(s["type"] == "wait_for" and s["event"] == kind for s in definition["steps"])


def cancel_waiting_messages(session: Session, journey: Journey, contact_id: int, kind: str) -> int:
    """A member who reached the goal gets none of the journey's messages still queued."""
    campaigns = list((journey.step_campaigns or {}).values())
    if not campaigns:
        return 0
    return session.execute(
        update(Delivery)
        .where(
            Delivery.contact_id == contact_id,
            Delivery.status == st.PENDING,
            Delivery.run_id.in_(select(Run.id).where(Run.campaign_id.in_(campaigns))),
        )
        .values(status=st.CANCELLED, reason=f"cancelled: {kind} reached the journey's goal")
        .execution_options(synchronize_session=False)
    ).rowcount


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
    entry = E(
        journey_id=journey.id,
        contact_id=contact_id,
        step=first["id"],
        wake_at=wake(first, now),
        state="active",
        holdout=random.random() < definition.get("holdout", 0),
        entered_at=now,
        data=dict(data or {}),
    )
    if first["type"] == "wait" and "until_time" in first:
        contact = session.get(Contact, contact_id)
        member_zone = zone_of(contact.timezone if contact else None, zone)
        entry.wake_at = next_time(first["until_time"], now, member_zone)
    session.add(entry)
    session.flush()
    session.add(V(journey_id=journey.id, entry_id=entry.id, step=first["id"], at=now))
    session.flush()
    return entry


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
    return and_(mine, or_(entries.state == "active", entries.entered_at > since))


def scheduled_entries(session: Session, journey: Journey, now: datetime, zone: ZoneInfo) -> int:
    """Segment and date entries due now; one INSERT … SELECT each (per member zone for dates)."""
    entry = journey.definition["entry"]
    if "segment_id" in entry:
        segment = session.get(Segment, entry["segment_id"])
        if segment is None:
            return 0
        members = segments.members(segment.rules, zone=zone).subquery()
        return _insert(session, journey, now, select(members.c.id), None)
    if entry.get("date_field") == "points_expire_at":
        return _expiry_entries(session, journey, now, zone, entry)
    if entry.get("date_field") != "birthday":
        return 0
    names = session.scalars(
        select(Contact.timezone).where(Contact.birthday.is_not(None)).distinct()
    ).all()
    taken = 0
    for name in names:
        local = now.astimezone(zone_of(name, zone))
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
        local = now.astimezone(zone_of(name, zone))
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
        insert(E).from_select(
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
