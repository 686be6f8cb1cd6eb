"""Unique coupon codes issued per delivery (email and SMS variants, journey steps, member days),
traceable to member and campaign, and redeemed by orders while valid.

A code is unique across all campaigns (a unique index, and a retry with a fresh code on the rare
collision); one delivery gets at most one coupon (a unique index on ``delivery_id``), so a retried
hand-off reuses the code it issued the first time. Redemptions come from ``order.placed`` events
carrying ``data.coupon_code``: an order redeems a code only inside its validity window and, for a
threshold coupon (满减), at or above ``min_spend``; a refused attempt is kept on the coupon
(``refused_reason``) and on the order event (``data.coupon_result``) for the admin.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from herald.audiences.models import Event
from herald.campaigns import coupon_specs
from herald.core import clock
from herald.core.db import Base

# no 0/O, 1/I/L, 5/S, 2/Z, 8/B: codes are read aloud and typed from phone screens
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 10
MAX_TRIES = 8
OFFER_FIELDS = ("type", "percent_off", "amount_off", "min_spend", "sku", "multiplier")


class Coupon(Base):
    """One issued code: who got it, from which campaign and run, what it is worth, and whether
    (and by which order) it was used."""

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
    type: Mapped[str] = mapped_column(String(24), default="coupon", server_default="coupon")
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    min_spend: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    sku: Mapped[str | None] = mapped_column(String(64))
    multiplier: Mapped[float | None] = mapped_column(Float)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    redeemed_at: Mapped[datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(255))
    # the total of the order that redeemed it (coupon revenue in the metrics)
    order_total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # the last refused attempt: "expired", "below minimum spend", "not yet valid", "already used"
    refused_reason: Mapped[str | None] = mapped_column(String(64))
    refused_at: Mapped[datetime | None]

    def offer(self) -> dict[str, Any]:
        """The coupon as templates and the shop see it (:func:`coupon_specs.template_view`)."""
        return coupon_specs.template_view(
            {
                "code": self.code,
                "type": self.type,
                "percent_off": self.percent_off,
                "amount_off": self.amount_off,
                "min_spend": self.min_spend,
                "sku": self.sku,
                "multiplier": self.multiplier,
                "valid_until": self.valid_until,
            }
        )


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
    valid_from: datetime,
    valid_until: datetime,
    percent_off: int | None = None,
    offer: Mapping[str, Any] | None = None,
    generate: Callable[[int], str] = generate_code,
) -> Coupon:
    """The delivery's coupon: the one issued before (a retry), else a new one with a fresh
    unique code worth ``offer`` (a checked spec; ``percent_off`` alone is a percent coupon).
    Commit before telling anyone the code."""
    existing = session.scalar(select(Coupon).where(Coupon.delivery_id == delivery_id))
    if existing is not None:
        return existing
    worth = {k: v for k, v in (offer or {"percent_off": percent_off}).items() if k in OFFER_FIELDS}
    worth.setdefault("type", "coupon")
    for _ in range(MAX_TRIES):
        coupon = Coupon(
            code=generate(campaign_id),
            campaign_id=campaign_id,
            run_id=run_id,
            contact_id=contact_id,
            delivery_id=delivery_id,
            valid_from=valid_from,
            valid_until=valid_until,
            **worth,
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


def issue_many(
    session: Session,
    *,
    campaign_id: int,
    run_id: int,
    wanted: list[dict[str, Any]],
    generate: Callable[[int], str] = generate_code,
) -> dict[int, Coupon]:
    """Coupons for many deliveries at once (a chunk of a send): those issued before are reused,
    the rest inserted in one statement. ``wanted`` holds ``delivery_id``, ``contact_id``,
    ``valid_from``, ``valid_until`` and ``offer`` per delivery. On the rare clash (a code taken,
    or another worker issuing the same delivery) each is issued one by one."""
    ids = [w["delivery_id"] for w in wanted]
    found = {
        c.delivery_id: c
        for c in session.scalars(select(Coupon).where(Coupon.delivery_id.in_(ids)))
        if c.delivery_id is not None
    }
    missing = [w for w in wanted if w["delivery_id"] not in found]
    rows = [
        {
            "code": generate(campaign_id),
            "campaign_id": campaign_id,
            "run_id": run_id,
            "contact_id": w["contact_id"],
            "delivery_id": w["delivery_id"],
            "valid_from": w["valid_from"],
            "valid_until": w["valid_until"],
            "created_at": clock.now(),
            **_worth(w["offer"]),
        }
        for w in missing
    ]
    if rows:
        try:
            with session.begin_nested():
                session.execute(insert(Coupon), rows)
        except IntegrityError:
            for w in missing:
                issue(
                    session,
                    campaign_id=campaign_id,
                    run_id=run_id,
                    contact_id=w["contact_id"],
                    delivery_id=w["delivery_id"],
                    valid_from=w["valid_from"],
                    valid_until=w["valid_until"],
                    offer=w["offer"],
                    generate=generate,
                )
        new = [w["delivery_id"] for w in missing]
        for coupon in session.scalars(select(Coupon).where(Coupon.delivery_id.in_(new))):
            if coupon.delivery_id is not None:
                found[coupon.delivery_id] = coupon
    return found


def _worth(offer: Mapping[str, Any]) -> dict[str, Any]:
    """A spec's offer fields as coupon columns (absent ones empty)."""
    worth: dict[str, Any] = dict.fromkeys(OFFER_FIELDS[1:])
    worth.update({k: v for k, v in offer.items() if k in OFFER_FIELDS})
    worth.setdefault("type", "coupon")
    if worth["type"] is None:
        worth["type"] = "coupon"
    return worth


@dataclass(frozen=True)
class Attempt:
    """What one order did with a code: ``redeemed``, or why not."""

    redeemed: bool
    reason: str  # "redeemed", "unknown code", "already used", "expired", ...
    coupon_id: int | None = None


def redeem_order(
    session: Session,
    code: str,
    order_id: str | None,
    placed_at: datetime | None = None,
    total: Any = None,
) -> Attempt:
    """Redeem ``code`` by an order placed at ``placed_at`` for ``total``, if the code is valid
    then and the order meets its minimum spend (first redemption wins); a refusal is recorded
    on the coupon."""
    at = placed_at or clock.now()
    coupon = session.scalar(select(Coupon).where(Coupon.code == code.strip().upper()))
    if coupon is None:
        return Attempt(False, "unknown code")
    if coupon.redeemed_at is not None:
        if order_id is not None and coupon.order_id == order_id:
            return Attempt(True, "redeemed", coupon.id)  # the same order told twice
        return _refuse(session, coupon, "already used", at)
    reason = coupon_specs.refusal(
        at, total, coupon.valid_from, coupon.valid_until, coupon.min_spend
    )
    if reason is not None:
        return _refuse(session, coupon, reason, at)
    amount = Decimal(str(total)) if total is not None else None
    done = session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, Coupon.redeemed_at.is_(None))
        .values(redeemed_at=at, order_id=order_id, order_total=amount)
    ).rowcount
    if done != 1:
        return _refuse(session, coupon, "already used", at)
    return Attempt(True, "redeemed", coupon.id)


def _refuse(session: Session, coupon: Coupon, reason: str, at: datetime) -> Attempt:
    session.execute(
        update(Coupon).where(Coupon.id == coupon.id).values(refused_reason=reason, refused_at=at)
    )
    return Attempt(False, reason, coupon.id)


def redeem(
    session: Session, code: str, order_id: str | None, at: datetime | None = None, total: Any = None
) -> bool:
    """Mark a coupon used by an order when it may be (see :func:`redeem_order`); False for an
    unknown, used, expired or not-yet-valid code, or an order under its minimum spend."""
    attempt = redeem_order(session, code, order_id, at, total)
    return attempt.redeemed and attempt.reason == "redeemed"


def redeem_event(session: Session, event: Event) -> Attempt | None:
    """Redeem the code an ``order.placed`` event carries and note the result on the event
    (``data.coupon_result``) so the admin can show refused attempts. None without a code."""
    data = dict(event.data or {})
    code = data.get("coupon_code")
    if not code:
        return None
    order_id = data.get("order_id")
    attempt = redeem_order(
        session,
        str(code),
        str(order_id) if order_id is not None else None,
        event.occurred_at,
        data.get("total"),
    )
    event.data = {**data, "coupon_result": attempt.reason}
    return attempt


def redeem_from_orders(session: Session, limit: int = 1000) -> int:
    """Redeem codes of stored ``order.placed`` events no redemption has looked at yet (no
    ``coupon_result``): the order webhook redeems at once; this sweep makes it safe if it
    didn't. Returns how many were redeemed."""
    code = func.upper(Event.data["coupon_code"].as_string())  # as the customer typed it
    events = session.scalars(
        select(Event)
        .join(Coupon, code == Coupon.code)
        .where(
            Event.type == "order.placed",
            Coupon.redeemed_at.is_(None),
            Event.data["coupon_result"].as_string().is_(None),
        )
        .order_by(Event.occurred_at)
        .limit(limit)
    ).all()
    done = 0
    for event in events:
        attempt = redeem_event(session, event)
        done += bool(attempt and attempt.redeemed)
    return done
