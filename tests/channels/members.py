"""Domain-level set-up for channel tests: members and campaigns straight through the services the
API calls (so the tests need no web app)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from herald.audiences import contacts
from herald.campaigns import service
from herald.core.db import Database

UTC = ZoneInfo("UTC")


def add_member(db: Database, **payload: Any) -> int:
    """Create one member (the API's payload shape) and return their id."""
    with db.session() as session:
        contact, _ = contacts.upsert(session, payload)
        return contact.id


def start_campaign(db: Database, payload: dict[str, Any]) -> int:
    """Create a campaign and make it due now; returns its id."""
    payload = {"name": "Test campaign", "schedule": {"type": "immediate"}, **payload}
    with db.session() as session:
        campaign = service.create_campaign(session, payload, UTC)
        service.send_now(session, campaign)
        return campaign.id
