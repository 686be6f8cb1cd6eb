"""What templates see of a member: the ``contact`` of every message's context."""

from __future__ import annotations

from typing import Any

from herald.audiences.contacts import behaviour
from herald.audiences.models import Contact


def contact_context(contact: Contact) -> dict[str, Any]:
    """What templates see as ``contact``."""
    derived = behaviour(contact)
    # scores a member lacks are left out so they render empty (like other missing fields)
    derived["rfm"] = {k: v for k, v in derived["rfm"].items() if v is not None}
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
        **derived,
    }
