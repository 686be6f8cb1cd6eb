"""An open or click in (from the tracking links): record it on its delivery, then hand a human
one to journeys (entries on ``email.opened`` / ``email.clicked``, ``wait_for`` and ``exit_on``)
in the same transaction. Machine opens and bot clicks move no one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.campaigns import feedback
from herald.journeys import entries as journeys


def tracked(
    session: Session,
    kind: str,
    ref: feedback.DeliveryRef,
    data: Mapping[str, Any] | None,
    *,
    machine: bool,
    zone: ZoneInfo,
) -> Event:
    """Record one tracking event and let journeys react to it; returns the event."""
    event = feedback.record_event(session, kind, ref, data, machine=machine)
    session.flush()
    if not machine:
        journeys.on_event(session, event, zone)
    return event
