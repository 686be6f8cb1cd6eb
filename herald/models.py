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
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Batch, Campaign, Delivery, Run, Trigger, Variant
from herald.campaigns.posts import RunPost
from herald.campaigns.promotions import Promotion
from herald.campaigns.tier_benefits import TierBenefit
from herald.core.accounts import ApiToken, User
from herald.core.db import Base
from herald.core.journal import JournalPosition
from herald.journeys.models import (
    Journey,
    JourneyEntry,
    JourneySegmentMember,
    JourneySignal,
    JourneyVisit,
)
from herald.reports.models import ReportSent

__all__ = [
    "ApiToken",
    "Base",
    "Batch",
    "Campaign",
    "Consent",
    "Contact",
    "ContactList",
    "Coupon",
    "Delivery",
    "Event",
    "ImportJob",
    "JournalPosition",
    "Journey",
    "JourneyEntry",
    "JourneySegmentMember",
    "JourneySignal",
    "JourneyVisit",
    "ListMember",
    "Promotion",
    "ReportSent",
    "Run",
    "RunPost",
    "Segment",
    "Suppression",
    "TierBenefit",
    "Trigger",
    "User",
    "Variant",
    "WebhookInbox",
]
