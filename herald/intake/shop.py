"""A verified shop webhook in: store the facts, then hand the event to campaigns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from herald.audiences import shop
from herald.audiences.models import Event
from herald.campaigns import reactions

check = shop.check


def receive(session: Session, kind: str, data: Mapping[str, Any], region: str = "CN") -> Event:
    """Apply one checked webhook (``kind``, ``data`` from :func:`check`) in the caller's
    transaction; returns the stored event."""
    event = shop.store(session, kind, data, region)
    reactions.on_shop_event(session, event)
    return event
