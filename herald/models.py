"""Imports every model so that the metadata (and Alembic) sees all tables."""

from herald.audiences.models import (
    Consent,
    Contact,
    ContactList,
    Event,
    ImportJob,
    ListMember,
    Segment,
    Suppression,
    WebhookInbox,
)
from herald.campaigns.models import Batch, Campaign, Delivery, Run, Variant
from herald.core.accounts import ApiToken, User
from herald.core.db import Base

__all__ = [
    "ApiToken",
    "Base",
    "Batch",
    "Campaign",
    "Consent",
    "Contact",
    "ContactList",
    "Delivery",
    "Event",
    "ImportJob",
    "ListMember",
    "Run",
    "Segment",
    "Suppression",
    "User",
    "Variant",
    "WebhookInbox",
]
