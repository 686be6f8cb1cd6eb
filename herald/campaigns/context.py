"""What templates see of a member: the ``contact`` of every message's context, and the
``promotion`` and ``now`` of the moment it is sent, in the member's zone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from herald.audiences.contacts import behaviour
from herald.audiences.models import Contact
from herald.campaigns import promotions
from herald.campaigns.promotions import Promotion
from herald.core import clock


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
    # what Herald derived (section 15): the member's columns, then their contact_scores row
    points_expiring: int | None
    points_expire_at: date | None
    referral_code: str | None
    referred_by_id: int | None
    rfm_recency: int | None
    rfm_frequency: int | None
    rfm_monetary: int | None
    rfm_group: str | None
    favourite_category: str | None


# ContactRow fields read from contact_scores rather than contacts
SCORE_FIELDS = ("rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_group", "favourite_category")


def contact_context(contact: Contact | ContactRow) -> dict[str, Any]:
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


def member_zone(contact: Contact | ContactRow | None, default_zone: ZoneInfo) -> ZoneInfo:
    """The member's own zone where known (and valid), else the shop's."""
    return clock.member_zone(contact.timezone if contact is not None else None, default_zone)


def promotion_snapshot(session: Session, promotion_id: int | None) -> dict[str, Any]:
    """What templates see as ``promotion``, in UTC, read once per run (``{}`` without one)."""
    if promotion_id is None:
        return {}
    return promotions.template_view(session.get(Promotion, promotion_id), ZoneInfo("UTC"))


def moment_context(
    promotion: Mapping[str, Any], zone: ZoneInfo, now: datetime | None = None
) -> dict[str, Any]:
    """``promotion`` and ``now`` (the send time) with their times in ``zone``, the member's."""
    local = {
        key: value.astimezone(zone) if isinstance(value, datetime) else value
        for key, value in promotion.items()
    }
    return {"promotion": local, "now": (now or clock.now()).astimezone(zone)}
