"""An open or click in (from the tracking links): record it on its delivery in one statement,
then hand a human one to journeys (entries on ``email.opened`` / ``email.clicked``, ``wait_for``
and ``exit_on``) in the same transaction. Machine opens and bot clicks move no one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.campaigns.track_ingest import Tracked, record_many, record_tracking_event
from herald.journeys import entries as journeys


def tracked(
    connection: Connection,
    kind: str,
    delivery_id: int,
    data: Mapping[str, Any],
    *,
    machine_agent: bool,
    window: timedelta,
    now: datetime,
    zone: ZoneInfo,
) -> bool:
    """Record one tracking event and let journeys react to a human one, on ``connection``'s
    transaction (the caller commits). ``False`` when the delivery does not exist."""
    stored = record_tracking_event(
        connection, kind, delivery_id, data, machine_agent=machine_agent, window=window, now=now
    )
    if stored is None:
        return False
    if not stored.machine:
        # the event as just written (the INSERT returned what journeys need): not read back
        event = Event(
            id=stored.id,
            contact_id=stored.contact_id,
            type=kind,
            delivery_id=delivery_id,
            occurred_at=now,
            machine=False,
            data=dict(data),
        )
        with Session(bind=connection) as session:
            journeys.on_event(session, event, zone)
            # never commits the connection's transaction (the caller does); inside a savepoint
            # (the tracking journal's batches) it keeps the session's work, which closing an
            # uncommitted session would roll back
            session.commit()
    return True


def tracked_many(
    connection: Connection, items: list[Tracked], *, window: timedelta, zone: ZoneInfo
) -> None:
    """Record a batch of opens and clicks on ``connection``'s transaction: those of a kind no
    live journey reacts to (and every machine one) in one pipelined batch, the others one by one
    through :func:`tracked` so journeys see each."""
    with Session(bind=connection) as session:
        heard = journeys.kinds_heard(session)
    quiet = [i for i in items if i.machine_agent or i.kind not in heard]
    if quiet:
        record_many(connection, quiet, window)
    for item in items:
        if not item.machine_agent and item.kind in heard:
            tracked(
                connection,
                item.kind,
                item.delivery_id,
                item.data,
                machine_agent=False,
                window=window,
                now=item.at,
                zone=zone,
            )
