"""A member's rights: erasure (personal data gone, anonymous counts kept) and export."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from herald.audiences.contacts import to_dict
from herald.audiences.models import (
    Consent,
    Contact,
    ContactList,
    ContactScore,
    Event,
    ListMember,
    Suppression,
    WebhookInbox,
)
from herald.audiences.referrals import CONVERTED
from herald.audiences.sqlfuncs import JsonNumber, sqlite_path
from herald.core import clock

PERSONAL = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "timezone",
    "birthday",
    "referral_code",  # a member shares it: it points at them
)
PERSONAL_EVENT_KEYS = ("url", "email", "phone", "address", "ip", "user_agent", "name")
PERSONAL_EVENT_KEYS += ("referee_external_id",)


def erase(session: Session, contact: Contact) -> None:
    """Blank every personal field, drop consents and list memberships, strip personal keys from
    the member's events, blank the raw webhook bodies behind them and mark the row erased.
    Tier, points, order counts and the events themselves stay, so past campaign and revenue
    figures do not change. Does not commit."""
    for name in PERSONAL:
        setattr(contact, name, None)
    contact.attributes = {}
    contact.erased_at = clock.now()
    session.execute(delete(Consent).where(Consent.contact_id == contact.id))
    session.execute(delete(ListMember).where(ListMember.contact_id == contact.id))
    session.execute(delete(ContactScore).where(ContactScore.contact_id == contact.id))
    # the raw webhook bodies that produced this member's events carry their personal data too
    session.execute(
        update(WebhookInbox)
        .where(WebhookInbox.event_id.in_(select(Event.id).where(Event.contact_id == contact.id)))
        .values(payload={"erased": True})
        .execution_options(synchronize_session=False)
    )
    for event in session.scalars(select(Event).where(Event.contact_id == contact.id)):
        data = dict(event.data or {})
        if any(key in data for key in PERSONAL_EVENT_KEYS):
            event.data = {k: v for k, v in data.items() if k not in PERSONAL_EVENT_KEYS}
    # the referrer's referral.converted names this member by their shop id
    referred = JsonNumber(Event.data, "referee_id", sqlite_path("referee_id")) == contact.id
    for event in session.scalars(select(Event).where(Event.type == CONVERTED, referred)):
        event.data = {k: v for k, v in (event.data or {}).items() if k != "referee_external_id"}
    session.expire(contact, ["consents"])
    session.flush()


def export(session: Session, contact: Contact) -> dict[str, Any]:
    """Everything Herald holds about one member, as JSON-ready data."""
    consents = session.scalars(select(Consent).where(Consent.contact_id == contact.id)).all()
    events = session.scalars(
        select(Event).where(Event.contact_id == contact.id).order_by(Event.occurred_at, Event.id)
    ).all()
    lists = session.scalars(
        select(ContactList)
        .join(ListMember, ListMember.list_id == ContactList.id)
        .where(ListMember.contact_id == contact.id)
        .order_by(ContactList.id)
    ).all()
    addresses = [("email", contact.email), ("sms", contact.phone)]
    suppressions = [
        s
        for channel, address in addresses
        if address
        for s in session.scalars(
            select(Suppression).where(
                Suppression.channel == channel, Suppression.address == address
            )
        )
    ]
    return {
        "contact": to_dict(contact),
        "consents": [
            {
                "channel": c.channel,
                "granted": c.granted,
                "source": c.source,
                "updated_at": c.updated_at.isoformat() if c.updated_at else None,
            }
            for c in consents
        ],
        "events": [
            {
                "id": e.id,
                "type": e.type,
                "occurred_at": e.occurred_at.isoformat(),
                "campaign_id": e.campaign_id,
                "data": e.data or {},
            }
            for e in events
        ],
        "lists": [{"id": li.id, "name": li.name} for li in lists],
        "suppressions": [
            {
                "channel": s.channel,
                "address": s.address,
                "reason": s.reason,
                "created_at": s.created_at.isoformat(),
            }
            for s in suppressions
        ],
        "exported_at": clock.now().isoformat(),
    }
