"""Campaigns, their variants, runs, batches and the delivery ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from herald.core import clock
from herald.core.db import Base


class Campaign(Base):
    """What a marketer builds: a channel, an audience, variants and a schedule."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="RESTRICT"))
    # the promotion it belongs to (contract section 15); a journey's message steps carry the
    # journey's, so the promotion's report and templates see them like any campaign
    promotion_id: Mapped[int | None] = mapped_column(
        ForeignKey("promotions.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ab_test: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    # when the armed schedule next falls due; the scheduler's tick claims campaigns past it
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    # why Herald paused it by itself (a first chunk that failed for every member), for its page
    pause_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    variants: Mapped[list[Variant]] = relationship(
        back_populates="campaign",
        cascade="all, delete-orphan",
        order_by="Variant.position",
        lazy="selectin",
    )
    runs: Mapped[list[Run]] = relationship(back_populates="campaign", order_by="Run.id")

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.name!r} {self.status}>"


class Variant(Base):
    """One version of the content; its fields depend on the channel."""

    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)

    campaign: Mapped[Campaign] = relationship(back_populates="variants")


class Run(Base):
    """One sending of a campaign: a once-schedule has one, a recurring schedule one per
    occurrence. ``(campaign_id, due_at)`` is unique so two schedulers never start it twice."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("campaign_id", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="sending", index=True)
    due_at: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # when an A/B run's test window ends and the winner is chosen
    decide_at: Mapped[datetime | None]
    batches_total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    campaign: Mapped[Campaign] = relationship(back_populates="runs")


class Batch(Base):
    """A slice of a run's ledger, handed to one worker task at a time under a lease."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Delivery(Base):
    """The ledger: exactly one row per (run, contact), claimed before the hand-off to a channel
    and closed after it."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "contact_id"),
        Index("ix_deliveries_run_batch_status", "run_id", "batch_seq", "status"),
        Index("ix_deliveries_contact_sent", "contact_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"))
    batch_seq: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(500))
    # status callbacks and bounces find their delivery by the provider's id
    provider_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # set when a worker died mid-hand-off: the outcome was unknown at that moment
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    not_before: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    # what a triggered message knows of its event (a cart's items and link); templates see it
    data: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class Trigger(Base):
    """A message sent when a member's event happens (a cart abandoned, a first order), after a
    delay, unless a cancelling event comes first. Its channel and variants live in a campaign of
    its own (``schedule.type == "trigger"``), so the ledger, policy and metrics are the same; it
    runs as a journey (``herald.journeys.triggers``)."""

    __tablename__ = "triggers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    filter: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    delay_minutes: Mapped[float] = mapped_column(Float, default=0)
    cancel_on: Mapped[str | None] = mapped_column(String(40), index=True)
    max_per_contact_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    transactional: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    campaign: Mapped[Campaign] = relationship()
