"""Unique coupon codes issued by campaigns (member days), traceable to member and campaign.

A code is unique across all campaigns (a unique index, and a retry with a fresh code on the rare
collision); one delivery gets at most one coupon (a unique index on ``delivery_id``), so a retried
hand-off reuses the code it issued the first time. Redemptions come from ``order.placed`` events
carrying ``data.coupon_code``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from herald.audiences.models import Event
from herald.core import clock
from herald.core.db import Base

# no 0/O, 1/I/L, 5/S, 2/Z, 8/B: codes are read aloud and typed from phone screens
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 10
MAX_TRIES = 8


class Coupon(Base):
    """One issued code: who got it, from which campaign and run, and whether it was used."""

    __tablename__ = "coupons"
    __table_args__ = (Index("ix_coupons_campaign_redeemed", "campaign_id", "redeemed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    percent_off: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    redeemed_at: Mapped[datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(255))


def generate_code(campaign_id: int) -> str:
    """A random code with a short per-campaign prefix, e.g. ``M7-KXT4-9PQA``: the prefix lets
    the shop's staff tell campaigns apart; uniqueness comes from the random part and the index."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH - 2))
    return f"M{campaign_id}-{body[:4]}-{body[4:]}"


def issue(
    session: Session,
    *,
    campaign_id: int,
    run_id: int,
    contact_id: int,
    delivery_id: int,
    percent_off: int,
    valid_from: datetime,
    valid_until: datetime,
    generate: Callable[[int], str] = generate_code,
) -> Coupon:
    """The delivery's coupon: the one issued before (a retry), else a new one with a fresh
    unique code. Commit before telling anyone the code."""
    existing = session.scalar(select(Coupon).where(Coupon.delivery_id == delivery_id))
    if existing is not None:
        return existing
    for _ in range(MAX_TRIES):
        coupon = Coupon(
            code=generate(campaign_id),
            campaign_id=campaign_id,
            run_id=run_id,
            contact_id=contact_id,
            delivery_id=delivery_id,
            percent_off=percent_off,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        try:
            with session.begin_nested():
                session.add(coupon)
            return coupon
        except IntegrityError:
            # the code collided, or another worker issued this delivery's coupon just now
            existing = session.scalar(select(Coupon).where(Coupon.delivery_id == delivery_id))
            if existing is not None:
                return existing
    raise RuntimeError(f"no unique coupon code after {MAX_TRIES} tries")


def redeem(session: Session, code: str, order_id: str | None, at: datetime | None = None) -> bool:
    """Mark a coupon used by an order (first redemption wins); False for an unknown or already
    redeemed code."""
    return (
        session.execute(
            update(Coupon)
            .where(Coupon.code == code.strip().upper(), Coupon.redeemed_at.is_(None))
            .values(redeemed_at=at or clock.now(), order_id=order_id)
        ).rowcount
        == 1
    )


def redeem_from_orders(session: Session, limit: int = 1000) -> int:
    """Mark coupons redeemed by stored ``order.placed`` events (the order webhook may also call
    :func:`redeem` directly; this sweep makes it safe if it doesn't). Returns how many."""
    code = func.upper(Event.data["coupon_code"].as_string())  # as the customer typed it
    rows = session.execute(
        select(Coupon.code, Event.data, Event.occurred_at)
        .join(Event, code == Coupon.code)
        .where(Event.type == "order.placed", Coupon.redeemed_at.is_(None))
        .order_by(Event.occurred_at)
        .limit(limit)
    ).all()
    done = 0
    for coupon_code, data, occurred_at in rows:
        order_id = (data or {}).get("order_id")
        done += redeem(session, coupon_code, str(order_id) if order_id else None, occurred_at)
    return done
