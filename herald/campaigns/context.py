"""What templates see of a member: the ``contact`` of every message's context."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from herald.audiences.models import Contact


class ContactRow(NamedTuple):
    """A member's columns read as plain values (the send path reads chunks without the ORM)."""

    id: int
    external_id: str | None
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    locale: str | None
    timezone: str | None
    tier: str
    points: int
    birthday: date | None
    attributes: dict[str, Any] | None
    orders_count: int
    total_spent: Decimal | None
    erased_at: datetime | None


def contact_context(contact: Contact | ContactRow) -> dict[str, Any]:
    """What templates see as ``contact``."""
    return {
        "id": contact.id,
        "external_id": contact.external_id,
        "email": contact.email,
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "locale": contact.locale,
        "timezone": contact.timezone,
        "tier": contact.tier,
        "points": contact.points,
        "birthday": contact.birthday.isoformat() if contact.birthday else None,
        "attributes": dict(contact.attributes or {}),
        "orders_count": contact.orders_count,
        "total_spent": float(contact.total_spent or 0),
    }
