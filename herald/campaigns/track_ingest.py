"""Recording an open or a click in one statement, for the tracking endpoints.

The request does the least work it can: the caller verifies the signed token, then one
``INSERT … SELECT`` finds the delivery (and its run's campaign) and writes the event, deciding
in SQL whether it arrived within the machine-event window of the delivery. One round trip and a
commit, no ORM objects, and no queue: the event is in PostgreSQL before the pixel is answered, so
nothing is lost when Redis or a worker restarts, and unique counts (distinct deliveries) stay
exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, false, insert, literal, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from herald.audiences.models import Event
from herald.campaigns.models import Delivery, Run
from herald.core.db import JSONType, UTCDateTime


class Recorded(NamedTuple):
    """The event as written, returned by the INSERT itself (nothing reads it back)."""

    id: int
    machine: bool
    contact_id: int | None


def _machine_expr(forced: bool, window: timedelta, now: datetime) -> ColumnElement[bool]:
    if forced:
        return true()
    if window <= timedelta(0):
        return false()
    sent_at = Delivery.__table__.c.sent_at
    # no sent_at yet: the ledger has not closed the row, so this is within the window
    return or_(sent_at.is_(None), sent_at > bindparam("cutoff", now - window, type_=UTCDateTime))


def record_tracking_event(
    connection: Connection,
    kind: str,
    delivery_id: int,
    data: Mapping[str, Any],
    *,
    machine_agent: bool,
    window: timedelta,
    now: datetime,
) -> Recorded | None:
    """Insert one ``kind`` event for ``delivery_id``; returns its id, whether it counts as a
    machine event and its member, or ``None`` when no such delivery exists.
    ``machine_agent`` is the caller's verdict on the request alone (a proxy or scanner agent, a
    ``HEAD``); the time window is checked against the delivery here. The caller commits."""
    deliveries, runs, events = Delivery.__table__, Run.__table__, Event.__table__
    rows = select(
        literal(kind),
        deliveries.c.id,
        deliveries.c.run_id,
        runs.c.campaign_id,
        deliveries.c.contact_id,
        bindparam("occurred_at", now, type_=UTCDateTime),
        _machine_expr(machine_agent, window, now),
        bindparam("data", dict(data), type_=JSONType),
    ).select_from(deliveries.join(runs, runs.c.id == deliveries.c.run_id))
    rows = rows.where(deliveries.c.id == delivery_id)
    statement = insert(events).from_select(
        [
            "type",
            "delivery_id",
            "run_id",
            "campaign_id",
            "contact_id",
            "occurred_at",
            "machine",
            "data",
        ],
        rows,
    )
    # RETURNING, not rowcount: psycopg reports -1 for some INSERT … SELECT statements
    returning = statement.returning(events.c.id, events.c.machine, events.c.contact_id)
    row = connection.execute(returning).first()
    return None if row is None else Recorded(int(row[0]), bool(row[1]), row[2])
