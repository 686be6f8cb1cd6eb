"""Recording an open or a click in one statement, for the tracking endpoints.

The request does the least work it can: the caller verifies the signed token, then one
``INSERT … SELECT`` finds the delivery (and its run's campaign) and writes the event, deciding
in SQL whether it arrived within the machine-event window of the delivery. One round trip and a
commit, no ORM objects, and no queue: the event is in PostgreSQL before the pixel is answered, so
nothing is lost when Redis or a worker restarts, and unique counts (distinct deliveries) stay
exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Executable, bindparam, false, insert, or_, select, text, true
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


def _machine_expr(forced: bool, windowed: bool) -> ColumnElement[bool]:
    if forced:
        return true()
    if not windowed:
        return false()
    sent_at = Delivery.__table__.c.sent_at
    # no sent_at yet: the ledger has not closed the row, so this is within the window
    return or_(sent_at.is_(None), sent_at > bindparam("cutoff", type_=UTCDateTime))


@cache
def _statement(forced: bool, windowed: bool, returning: bool = True) -> Executable:
    """The INSERT … SELECT … RETURNING for one shape of machine test, built once per process:
    every value is a bound parameter, so each request only binds and runs it."""
    deliveries, runs, events = Delivery.__table__, Run.__table__, Event.__table__
    rows = (
        select(
            bindparam("kind", type_=events.c.type.type),
            deliveries.c.id,
            deliveries.c.run_id,
            runs.c.campaign_id,
            deliveries.c.contact_id,
            bindparam("occurred_at", type_=UTCDateTime),
            _machine_expr(forced, windowed),
            bindparam("data", type_=JSONType),
        )
        .select_from(deliveries.join(runs, runs.c.id == deliveries.c.run_id))
        .where(deliveries.c.id == bindparam("delivery_id", type_=deliveries.c.id.type))
    )
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
    if not returning:
        return statement
    # RETURNING, not rowcount: psycopg reports -1 for some INSERT … SELECT statements
    return statement.returning(events.c.id, events.c.machine, events.c.contact_id)


class Tracked(NamedTuple):
    """One open or click as the tracking journal hands it over."""

    kind: str
    delivery_id: int
    at: datetime
    machine_agent: bool
    data: Mapping[str, Any]


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
    item = Tracked(kind, delivery_id, now, machine_agent, data)
    windowed, params = _bound(item, window)
    row = connection.execute(_statement(machine_agent, windowed), params).first()
    return None if row is None else Recorded(int(row[0]), bool(row[1]), row[2])


def _bound(item: Tracked, window: timedelta) -> tuple[bool, dict[str, Any]]:
    """Whether the machine window applies to ``item``, and its parameters for
    :func:`_statement`."""
    windowed = not item.machine_agent and window > timedelta(0)
    params: dict[str, Any] = {
        "kind": item.kind,
        "delivery_id": item.delivery_id,
        "occurred_at": item.at,
        "data": dict(item.data),
    }
    if windowed:
        params["cutoff"] = item.at - window
    return windowed, params


def record_many(connection: Connection, items: list[Tracked], window: timedelta) -> None:
    """Insert many events nobody waits on (no journey reacts to them). On PostgreSQL one
    ``INSERT … SELECT`` over ``unnest`` of the batch's arrays, joined to the ledger once;
    elsewhere one ``executemany`` per shape of machine test. A missing delivery records
    nothing; the machine test is :func:`record_tracking_event`'s, row by row."""
    if connection.dialect.name == "postgresql":
        connection.execute(_UNNEST, _arrays(items, window))
        return
    groups: dict[tuple[bool, bool], list[dict[str, Any]]] = {}
    for item in items:
        windowed, params = _bound(item, window)
        groups.setdefault((item.machine_agent, windowed), []).append(params)
    for (forced, windowed), rows in groups.items():
        connection.execute(_statement(forced, windowed, returning=False), rows)


# cutoff NULL: no window (or a machine agent, forced below); sent_at NULL: the ledger has not
# closed the row yet, so the fetch is within the window
_UNNEST = text(
    """
    INSERT INTO events (type, delivery_id, run_id, campaign_id, contact_id, occurred_at,
                        machine, data)
    SELECT v.kind, d.id, d.run_id, r.campaign_id, d.contact_id, v.at,
           v.forced OR (v.cutoff IS NOT NULL AND (d.sent_at IS NULL OR d.sent_at > v.cutoff)),
           CAST(v.data AS jsonb)
    FROM unnest(CAST(:kinds AS text[]), CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]),
                CAST(:forced AS boolean[]), CAST(:cutoffs AS timestamptz[]),
                CAST(:datas AS text[]))
         AS v(kind, delivery_id, at, forced, cutoff, data)
    JOIN deliveries d ON d.id = v.delivery_id
    JOIN runs r ON r.id = d.run_id
    """
)


def _arrays(items: list[Tracked], window: timedelta) -> dict[str, list[Any]]:
    """The batch as parallel arrays, one per column of the ``unnest``."""
    windowed = window > timedelta(0)
    return {
        "kinds": [i.kind for i in items],
        "ids": [i.delivery_id for i in items],
        "ats": [i.at for i in items],
        "forced": [i.machine_agent for i in items],
        "cutoffs": [i.at - window if windowed and not i.machine_agent else None for i in items],
        "datas": [json.dumps(dict(i.data), separators=(",", ":")) for i in items],
    }
