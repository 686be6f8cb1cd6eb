"""One member's history as the admin shows it: consent per channel, events newest first, and
tier and points changes picked out of those events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences.models import Consent, Event

TIMELINE_LIMIT = 200
LOYALTY_EVENTS = ("points.changed", "tier.changed")


def consents(session: Session, contact_id: int) -> list[Consent]:
    """The member's consent per channel, with where it came from and when."""
    return list(
        session.scalars(
            select(Consent).where(Consent.contact_id == contact_id).order_by(Consent.channel)
        )
    )


def timeline(session: Session, contact_id: int, limit: int = TIMELINE_LIMIT) -> list[Event]:
    """The member's newest events (orders, carts, opens, clicks, loyalty changes, ...)."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.contact_id == contact_id)
            .order_by(Event.occurred_at.desc(), Event.id.desc())
            .limit(limit)
        )
    )


def loyalty(events: list[Event]) -> list[dict[str, Any]]:
    """Tier and points changes among ``events``: ``{at, kind, value, previous}``."""
    out = []
    for event in events:
        if event.type not in LOYALTY_EVENTS:
            continue
        data = event.data or {}
        key = "points" if event.type == "points.changed" else "tier"
        out.append(
            {
                "at": event.occurred_at,
                "kind": key,
                "value": data.get(key),
                "previous": data.get("previous"),
            }
        )
    return out


def describe(event: Event) -> str:
    """A short line for the timeline: what happened, in a marketer's words."""
    data = event.data or {}
    order = data.get("order") if isinstance(data.get("order"), dict) else data
    if event.type == "order.placed":
        total = order.get("total")
        code = order.get("coupon_code")
        return f"ordered {order.get('order_id') or order.get('id') or ''} for {total}" + (
            f" with coupon {code}" if code else ""
        )
    if event.type == "cart.abandoned":
        return f"left a cart worth {data.get('total', '?')}"
    if event.type in ("email.clicked", "sms.clicked"):
        return f"clicked {data.get('url', 'a link')}"
    if event.type == "points.changed":
        return f"points {data.get('previous', '?')} → {data.get('points')}"
    if event.type == "tier.changed":
        return f"tier {data.get('previous', '?')} → {data.get('tier')}"
    if event.type == "bounced":
        return f"bounced: {data.get('reason') or data.get('detail') or ''}".rstrip(": ")
    return event.type.replace(".", " ")
