"""What a stored shop event sets off in campaigns: a coupon redeemed (or its refusal noted),
triggers fired or cancelled. Called by :mod:`herald.intake` inside the transaction that stored
the event."""

from __future__ import annotations

from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.campaigns import coupons, triggers


def on_shop_event(session: Session, event: Event) -> Event:
    """React to one stored shop event (it has its id). Returns the event."""
    if event.type == "order.placed":
        coupons.redeem_event(session, event)
    triggers.on_event(session, event)
    return event
