"""What a stored shop event sets off in campaigns: a coupon redeemed, triggers fired or
cancelled. Called by :mod:`herald.intake` inside the transaction that stored the event."""

from __future__ import annotations

from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.campaigns import coupons, triggers


def on_shop_event(session: Session, event: Event) -> Event:
    """React to one stored shop event (it has its id). Returns the event."""
    if event.type == "order.placed" and (event.data or {}).get("coupon_code"):
        data = event.data or {}
        coupons.redeem(session, str(data["coupon_code"]), data.get("order_id"), event.occurred_at)
    triggers.on_event(session, event)
    return event
