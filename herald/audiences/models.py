"""Members of the shop, their consent, suppressions, static lists, segments and events."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from herald.core import clock, tiers
from herald.core.db import Base

TIERS = tiers.TIERS
CHANNEL_CONSENTS: tuple[str, ...] = ("email", "sms")


class Contact(Base):
    """A shop member. Erasure blanks personal data but keeps the row for anonymous counts."""

    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(
            "tier IN ('new', 'bronze', 'silver', 'gold', 'platinum')", name="tier_known"
        ),
        Index("ix_contacts_tier_points", "tier", "points"),
        Index("ix_contacts_last_order_at", "last_order_at"),
        Index("ix_contacts_birthday", "birthday"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    birthday: Mapped[date | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    orders_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_spent: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0, server_default="0")
    last_order_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    erased_at: Mapped[datetime | None]

    consents: Mapped[list[Consent]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", lazy="selectin"
    )

    def consent_for(self, channel: str) -> bool:
        """True only when the member has granted consent on ``channel``."""
        return any(c.channel == channel and c.granted for c in self.consents)

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.email or self.external_id}>"


class Consent(Base):
    """Per-channel consent with where it came from and when."""

    __tablename__ = "consents"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64), default="api")
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    contact: Mapped[Contact] = relationship(back_populates="consents")


class Suppression(Base):
    """An address that must never receive marketing on a channel; wins over imports and webhooks."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Segment(Base):
    """A saved rule set (contract section 7) that compiles to one SQL query."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Event(Base):
    """A shop event (order, cart) or a tracking event (open, click) tied to a member."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_contact_type_at", "contact_id", "type", "occurred_at"),
        Index("ix_events_campaign_type", "campaign_id", "type"),
        Index("ix_events_type_at_contact", "type", "occurred_at", "contact_id"),
        # metrics read a run's events; feedback and results look events up by delivery
        Index("ix_events_run_id", "run_id"),
        Index("ix_events_delivery_type", "delivery_id", "type"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(40))
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)
    machine: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContactList(Base):
    """A static list of members (imported ids or emails); a segment can target it."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ListMember(Base):
    """Membership of one member in one static list."""

    __tablename__ = "list_members"
    __table_args__ = (Index("ix_list_members_contact", "contact_id"),)

    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(default=clock.now)


IMPORT_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed")


class ImportJob(Base):
    """One CSV import (CLI or admin upload) and its progress, so a page can show a bar."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(500))
    stored_path: Mapped[str] = mapped_column(String(1000))
    encoding: Mapped[str] = mapped_column(String(40), default="utf-8")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int | None] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(String(1000))
    warning: Mapped[str | None] = mapped_column(String(1000))
    rejects_path: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class WebhookInbox(Base):
    """Every accepted incoming webhook, once: the unique (source, webhook_id) makes a redelivery a
    no-op. ``source`` is "shop", "email", "sms"…"""

    __tablename__ = "webhook_inbox"
    __table_args__ = (UniqueConstraint("source", "webhook_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    webhook_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=clock.now)
    processed_at: Mapped[datetime | None]
    event_id: Mapped[int | None] = mapped_column(BigInteger)
