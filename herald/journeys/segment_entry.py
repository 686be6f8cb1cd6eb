"""Segment entry (``{"segment_id": N}``): members who join the segment after the journey starts
watching it enter, not everyone already in it.

:class:`~herald.journeys.models.JourneySegmentMember` holds who was in the segment when the
tick last looked. The first tick of an active journey (``segment_watched_at`` still NULL) takes
everyone in the segment as the starting point and enters none of them; each later tick adds the
members the segment has now and the table has not (``joined_at`` = that tick: they are the ones
who enter, subject to ``re_entry``) and drops those who left, so leaving and joining again is a
new joining. While a journey is paused nobody is looked at: members who joined meanwhile enter on
resume. Changing the journey's segment starts watching afresh. Each step is one statement over
the whole segment, whatever its size."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, insert, literal, select
from sqlalchemy.orm import Session

from herald.audiences import segments
from herald.audiences.models import Segment
from herald.core.db import UTCDateTime
from herald.journeys.models import Journey
from herald.journeys.models import JourneySegmentMember as M


def joiners(session: Session, journey: Journey, now: datetime, zone: ZoneInfo) -> Any | None:
    """Record who is in the journey's segment now and return a select of the ids of those who
    joined since the last look (None on the first look, and for a segment that is gone)."""
    segment = session.get(Segment, journey.definition["entry"]["segment_id"])
    if segment is None:
        return None
    inside = segments.members(segment.rules, zone=zone).subquery()
    member = inside.c.id
    first = journey.segment_watched_at is None
    known = exists().where(M.journey_id == journey.id, M.contact_id == member)
    session.execute(
        insert(M).from_select(
            ["journey_id", "contact_id", "joined_at"],
            select(
                literal(journey.id), member, literal(None if first else now, UTCDateTime())
            ).where(~known),
        )
    )
    session.execute(
        delete(M)
        .where(M.journey_id == journey.id, M.contact_id.not_in(select(member)))
        .execution_options(synchronize_session=False)
    )
    journey.segment_watched_at = journey.segment_watched_at or now
    if first:
        return None
    return select(M.contact_id).where(M.journey_id == journey.id, M.joined_at == now)


def forget(session: Session, journey: Journey) -> None:
    """Watch the journey's segment afresh (its entry changed)."""
    session.execute(delete(M).where(M.journey_id == journey.id))
    journey.segment_watched_at = None
