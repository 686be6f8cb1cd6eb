"""Journeys, their members' progress (one row per member and entry) and each entry's visits to
steps (the per-step counters, and the link from a message step to its ledger row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from herald.core import clock
from herald.core.db import Base


class Journey(Base):
    """A marketer's flow: ``definition`` is the checked JSON of contract section 14;
    ``step_campaigns`` maps each message step's id to the campaign that carries its variants."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    step_campaigns: Mapped[dict[str, Any]] = mapped_column(default=dict)
    promotion_id: Mapped[int | None] = mapped_column(
        ForeignKey("promotions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    activated_at: Mapped[datetime | None]
    # set for a trigger's journey (contract section 10): kept out of the journey lists, edited
    # through /triggers only
    trigger_id: Mapped[int | None] = mapped_column(
        ForeignKey("triggers.id", ondelete="CASCADE"), unique=True
    )
    # a segment entry's watermark: since when joiners of the segment enter (NULL: the tick takes
    # who is in it now as the starting point, entering none of them)
    segment_watched_at: Mapped[datetime | None]


class JourneyEntry(Base):
    """One member's pass through a journey: the step they are at and when the tick next looks
    at them (``wake_at``; NULL while a time of day in their zone is still to be worked out, or
    once they left). ``occasion`` makes date entries once per occasion (``birthday:2026``)."""

    __tablename__ = "journey_entries"
    __table_args__ = (
        Index("ix_journey_entries_due", "journey_id", "state", "step", "wake_at"),
        Index("ix_journey_entries_contact", "contact_id", "state"),
        UniqueConstraint("journey_id", "contact_id", "occasion"),
        # a member is in a journey at most once at a time: two concurrent identical entry
        # events race to this index, and the second INSERT does nothing (ON CONFLICT)
        Index(
            "uq_journey_entries_active_member",
            "journey_id",
            "contact_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    wake_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default="active")  # active completed exited
    exit_reason: Mapped[str | None] = mapped_column(String(40))
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    occasion: Mapped[str | None] = mapped_column(String(40))
    # what the entry event said (a cart's items and link): message templates see it as `event`
    data: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    entered_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]


class JourneyVisit(Base):
    """An entry reached a step (at most one row per entry and step: a member who comes round
    again is not counted twice, and a message step's ``delivery_id`` is its one ledger row)."""

    __tablename__ = "journey_visits"
    __table_args__ = (
        UniqueConstraint("entry_id", "step"),
        Index("ix_journey_visits_journey_step", "journey_id", "step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("journey_entries.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    came_from: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    # the ledger row of a message step; NULL for other steps and for holdout members
    delivery_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))  # held, timeout, event


class JourneySegmentMember(Base):
    """Who was in a segment-entry journey's segment when the tick last looked (taken without
    entering anyone at activation): members the segment has now and this table has not are the
    ones who joined since, and only they enter."""

    __tablename__ = "journey_segment_members"

    journey_id: Mapped[int] = mapped_column(
        ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    # the tick that saw them join (they enter in it); NULL for the starting point
    joined_at: Mapped[datetime | None]


class JourneySignal(Base):
    """An event a member's entry listens for (``exit_on``, ``wait_for``) that arrived while the
    tick was moving that entry: the webhook leaves it here instead of waiting for the tick's row
    lock, and the tick applies it before it commits (or the next tick does)."""

    __tablename__ = "journey_signals"
    __table_args__ = (Index("ix_journey_signals_journey", "journey_id", "event_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=clock.now)
