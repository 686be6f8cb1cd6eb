"""What a stored shop event sets off in campaigns: a coupon redeemed (or its refusal noted).
Called by :mod:`herald.intake` inside the transaction that stored the event (triggers, being
journeys, are fired and cancelled by :mod:`herald.journeys.entries` right after)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.campaigns import coupons


def on_shop_event(session: Session, event: Event) -> Event:
    """React to one stored shop event (it has its id). Returns the event."""
    if event.type == "order.placed":
        coupons.redeem_event(session, event)
    return event
