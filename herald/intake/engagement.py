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
from herald.campaigns.track_ingest import record_tracking_event
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
            session.flush()
    return True
