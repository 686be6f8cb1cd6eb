"""Points that expire (contract section 15): ``points.changed`` may carry ``expiring: [{points,
expires_at}]``, the member's lots as the shop knows them now; they replace the stored ones.

A member's ``points_expiring`` / ``points_expire_at`` are the points and the date of the nearest
lot still to expire (today included; several lots on that date add up), null without one. When
a lot's date passes, the next lot takes over: :func:`roll_over` does that set-based for every
member whose date has passed; the scheduler runs it hourly (and the RFM task daily), so the
columns are at most an hour stale after midnight UTC. Dates are calendar dates in UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from herald.audiences.models import Contact, PointsLot
from herald.core import clock
from herald.core.errors import ValidationError

MAX_LOTS = 500
MAX_POINTS = 2**31 - 1


def check_lots(value: Any, where: str = "data.expiring") -> list[tuple[int, date]]:
    """``[(points, expires_at), ...]`` from the webhook's ``expiring``, or a 422 naming the bad
    entry. ``expires_at`` is a date (``2026-12-31``) or a date-time, whose own date counts."""
    if not isinstance(value, list):
        raise _bad(where, "must be a list of {points, expires_at}")
    if len(value) > MAX_LOTS:
        raise _bad(where, f"at most {MAX_LOTS} lots")
    lots = []
    for index, lot in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(lot, dict):
            raise _bad(at, "must be an object with points and expires_at")
        points = lot.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
            raise _bad(f"{at}.points", f"must be a whole number from 1 to {MAX_POINTS:,}")
        lots.append((points, _date(lot.get("expires_at"), f"{at}.expires_at")))
    return lots


def _date(value: Any, where: str) -> date:
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise _bad(where, "must be a date such as 2026-12-31")


def _bad(where: str, message: str) -> ValidationError:
    return ValidationError(f"{where}: {message}", {where: message})


def replace_lots(session: Session, contact: Contact, lots: list[tuple[int, date]]) -> None:
    """Store ``lots`` as the member's only lots and set their nearest-expiry fields."""
    session.execute(delete(PointsLot).where(PointsLot.contact_id == contact.id))
    if lots:
        session.execute(
            insert(PointsLot),
            [{"contact_id": contact.id, "points": p, "expires_at": d} for p, d in lots],
        )
    contact.points_expiring, contact.points_expire_at = nearest(lots, today())
    session.flush()


def nearest(lots: list[tuple[int, date]], on: date) -> tuple[int | None, date | None]:
    """The points and date of the nearest lot on or after ``on`` (lots of that date summed)."""
    due = [d for _, d in lots if d >= on]
    if not due:
        return None, None
    first = min(due)
    return sum(p for p, d in lots if d == first), first


def today() -> date:
    """The calendar date lots are compared with (UTC)."""
    return clock.now().date()


def roll_over(session: Session, on: date | None = None) -> int:
    """Move every member whose nearest lot has passed on to their next lot (or to null) in one
    UPDATE over just those members, then drop the passed lots. Returns how many moved."""
    on = on or today()
    lot, other = aliased(PointsLot), aliased(PointsLot)
    next_date = (
        select(func.min(other.expires_at))
        .where(other.contact_id == Contact.id, other.expires_at >= on)
        .scalar_subquery()
    )
    next_points = (
        select(func.sum(lot.points))
        .where(lot.contact_id == Contact.id, lot.expires_at == next_date)
        .scalar_subquery()
    )
    moved = session.execute(
        update(Contact)
        .where(Contact.points_expire_at.is_not(None), Contact.points_expire_at < on)
        .values(points_expire_at=next_date, points_expiring=next_points)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        delete(PointsLot)
        .where(PointsLot.expires_at < on)
        .execution_options(synchronize_session=False)
    )
    return int(moved or 0)
