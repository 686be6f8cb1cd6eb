"""Points saved by redemption after an expiry warning: for a journey entered on
``points_expire_at``, how many points its entrants redeemed between entering and the expiry
date they were warned about, beside the same figure for the holdout.

A redemption is a ``points.changed`` whose ``points`` is below its ``previous`` (the shop's
own account of the balance before); the drop counts while the lot has not expired yet (up to
the end of the expiry date, UTC). Expiry itself lowers the balance after that date, so it is
not counted. A simple figure: members who redeem for other reasons count too, which is what
the holdout is there to show."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.journeys.models import Journey
from herald.journeys.models import JourneyEntry as E

PREFIX = "points_expire_at:"


def points_saved(session: Session, journey: Journey) -> dict[str, Any] | None:
    """``{entrants: {members, redeemed_members, points}, holdout: {...}}`` for an expiry
    journey, else None."""
    if journey.definition.get("entry", {}).get("date_field") != "points_expire_at":
        return None
    entries = session.execute(
        select(E.contact_id, E.entered_at, E.occasion, E.holdout).where(
            E.journey_id == journey.id, E.occasion.like(f"{PREFIX}%")
        )
    ).all()
    groups = {
        False: {"members": 0, "redeemed_members": 0, "points": 0},
        True: {"members": 0, "redeemed_members": 0, "points": 0},
    }
    if not entries:
        return {"entrants": groups[False], "holdout": groups[True]}
    since = min(e.entered_at for e in entries)
    drops: dict[int, list[tuple[datetime, int]]] = {}
    for contact_id, at, data in session.execute(
        select(Event.contact_id, Event.occurred_at, Event.data).where(
            Event.type == "points.changed",
            Event.contact_id.in_({e.contact_id for e in entries}),
            Event.occurred_at >= since,
        )
    ):
        drop = _drop(data or {})
        if drop:
            drops.setdefault(contact_id, []).append((at, drop))
    for entry in entries:
        ends = _end_of(entry.occasion.removeprefix(PREFIX))
        redeemed = sum(
            points
            for at, points in drops.get(entry.contact_id, [])
            if entry.entered_at <= at < ends
        )
        group = groups[bool(entry.holdout)]
        group["members"] += 1
        group["points"] += redeemed
        group["redeemed_members"] += 1 if redeemed else 0
    return {"entrants": groups[False], "holdout": groups[True]}


def _drop(data: dict[str, Any]) -> int:
    points, previous = data.get("points"), data.get("previous")
    if isinstance(points, int) and isinstance(previous, int) and previous > points:
        return previous - points
    return 0


def _end_of(day: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(day), time(), UTC) + timedelta(days=1)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
