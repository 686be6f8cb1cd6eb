"""Imports every model so that the metadata (and Alembic) sees all tables."""

from herald.audiences.models import Consent, Contact, Event, Segment, Suppression
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
    "Delivery",
    "Event",
    "Run",
    "Segment",
    "Suppression",
    "User",
    "Variant",
]
