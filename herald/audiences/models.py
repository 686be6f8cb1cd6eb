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
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from herald.core import clock, codes, tiers
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
        Index("ix_contacts_referral_code", "referral_code", unique=True),
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
    # the local hour (0-23) of most human opens and clicks in the last 90 days; set by
    # herald.audiences.send_time.recompute, null without such events
    best_hour: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    # behaviour (herald.audiences.points, .referrals): points expiry follows the member's
    # points lots; RFM scores live in ContactScore (see there)
    points_expiring: Mapped[int | None] = mapped_column(Integer)
    points_expire_at: Mapped[date | None] = mapped_column(index=True)
    referral_code: Mapped[str | None] = mapped_column(String(16), default=codes.referral_code)
    # the referrer's id; no foreign key: members are erased, never deleted, and SQLite cannot
    # add one to an existing table without rebuilding it
    referred_by_id: Mapped[int | None] = mapped_column(Integer)

    consents: Mapped[list[Consent]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", lazy="selectin"
    )
    scores: Mapped[ContactScore | None] = relationship(lazy="selectin", viewonly=True)

    @property
    def rfm_recency(self) -> int | None:
        """RFM recency score 1-5 (null without orders)."""
        return self.scores.rfm_recency if self.scores else None

    @property
    def rfm_frequency(self) -> int | None:
        """RFM frequency score 1-5 (null without orders)."""
        return self.scores.rfm_frequency if self.scores else None

    @property
    def rfm_monetary(self) -> int | None:
        """RFM monetary score 1-5 (null without orders)."""
        return self.scores.rfm_monetary if self.scores else None

    @property
    def rfm_group(self) -> str | None:
        """The named RFM group (herald.audiences.rfm.group_of), null without orders."""
        return self.scores.rfm_group if self.scores else None

    @property
    def favourite_category(self) -> str | None:
        """The category with the most spend, null without categorised order lines."""
        return self.scores.favourite_category if self.scores else None

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


class ContactScore(Base):
    """What the periodic recompute derives about a member (herald.audiences.rfm): RFM scores,
    group and favourite category. Its own narrow table, rebuilt with one INSERT … SELECT: a
    million fresh rows here cost a fraction of updating a million wide, indexed contact rows.
    Members without orders have no row."""

    __tablename__ = "contact_scores"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    rfm_recency: Mapped[int] = mapped_column(SmallInteger)
    rfm_frequency: Mapped[int] = mapped_column(SmallInteger)
    rfm_monetary: Mapped[int] = mapped_column(SmallInteger)
    rfm_group: Mapped[str] = mapped_column(String(16))
    favourite_category: Mapped[str | None] = mapped_column(String(255))


class OrderItem(Base):
    """One line of an ``order.placed``, kept queryable for the order-content conditions of
    segment rules (sku, category, spend)."""

    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("event_id", "line"),
        Index("ix_order_items_contact_at", "contact_id", "placed_at"),
        Index("ix_order_items_sku", "sku", "placed_at", "contact_id"),
        Index("ix_order_items_category", "category", "placed_at", "contact_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("events.id", ondelete="CASCADE")
    )
    line: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    order_id: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(255))
    qty: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    placed_at: Mapped[datetime] = mapped_column(default=clock.now)


class PointsLot(Base):
    """Points that expire on a date, as the shop last told them (``points.changed`` with
    ``expiring``); the member's ``points_expiring``/``points_expire_at`` follow the nearest."""

    __tablename__ = "points_lots"
    __table_args__ = (Index("ix_points_lots_expires_contact", "expires_at", "contact_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    points: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[date]


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
