"""A verified shop webhook in: store the facts, then hand the event to campaigns and journeys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from herald.audiences import shop
from herald.audiences.models import Event
from herald.campaigns import reactions
from herald.journeys import entries as journeys

check = shop.check


def receive(
    session: Session,
    kind: str,
    data: Mapping[str, Any],
    region: str = "CN",
    zone: ZoneInfo | None = None,
) -> Event:
    """Apply one checked webhook (``kind``, ``data`` from :func:`check`) in the caller's
    transaction; returns the stored event. ``zone`` is the service zone (journey filters and
    times for members without one)."""
    event = shop.store(session, kind, data, region)
    reactions.on_shop_event(session, event)
    journeys.on_event(session, event, zone or ZoneInfo("UTC"))
    referral_id = (event.data or {}).get("referral_event_id")
    if referral_id is not None:  # the referrer's referral.converted, stored with the sign-up
        referral = session.get(Event, referral_id)
        if referral is not None:
            journeys.on_event(session, referral, zone or ZoneInfo("UTC"))
    return event
