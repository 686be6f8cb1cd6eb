"""Which message an order is credited to (contract section 13): at most one, across every
campaign and channel. The one whose Herald coupon the order carries (while the coupon was valid and
the order met its minimum spend),
else the member's last human click on a tracked link (email or SMS) within the 5 days before
``placed_at``, compared at whole seconds because shops send whole-second timestamps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.campaigns import coupon_specs
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Delivery

WINDOW = timedelta(days=5)
CHUNK = 500
# a click on a tracked link, whatever the channel that carried it
CLICK_TYPES = ("email.clicked", "sms.clicked")


@dataclass(frozen=True)
class Click:
    """A human click: when, on which delivery (event id breaks ties within a second)."""

    at: datetime
    delivery_id: int
    event_id: int


@dataclass(frozen=True)
class ConversionOrder:
    """One order credited to a delivery of a run, with its variant."""

    variant_id: int | None
    contact_id: int
    order_id: int
    revenue: Decimal
    delivery_id: int
    run_id: int
    via: str  # "coupon" or "click"


def whole_seconds(moment: datetime) -> datetime:
    """The moment as a UTC-aware instant, truncated to the second."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def credited_click(placed_at: datetime, clicks: Iterable[Click]) -> Click | None:
    """The last click at or before ``placed_at`` and no more than 5 days before it, both at whole
    seconds (a click in the same second as the order counts)."""
    placed = whole_seconds(placed_at)
    eligible = [c for c in clicks if placed - WINDOW <= whole_seconds(c.at) <= placed]
    if not eligible:
        return None
    return max(eligible, key=lambda c: (whole_seconds(c.at), c.at, c.event_id))


def revenue_of(data: dict[str, Any] | None) -> Decimal:
    """The order's total; 0 when missing or not a number."""
    try:
        return Decimal(str((data or {}).get("total", 0) or 0))
    except InvalidOperation:
        return Decimal(0)


def _code(data: dict[str, Any] | None) -> str | None:
    raw = (data or {}).get("coupon_code")
    return str(raw).strip().upper() if raw else None


def conversion_orders(session: Session, run_ids: Sequence[int]) -> list[ConversionOrder]:
    """Every order credited to a delivery of these runs (and to no other delivery anywhere)."""
    if not run_ids:
        return []
    human_click = Event.type.in_(CLICK_TYPES) & Event.machine.is_(False)
    clicked = (
        select(Event.contact_id)
        .join(Delivery, Delivery.id == Event.delivery_id)
        .where(Delivery.run_id.in_(run_ids), human_click)
        .distinct()
    )
    coupon_codes = select(Coupon.code).where(Coupon.run_id.in_(run_ids))
    order_code = func.upper(Event.data["coupon_code"].as_string())
    orders = session.execute(
        select(Event.id, Event.contact_id, Event.occurred_at, Event.data)
        .where(
            Event.type == "order.placed",
            Event.contact_id.in_(clicked) | order_code.in_(coupon_codes),
        )
        .order_by(Event.id)
    ).all()
    if not orders:
        return []
    codes = sorted({c for c in (_code(o.data) for o in orders) if c})
    coupons = {
        row.code: row
        for chunk in _chunks(codes)
        for row in session.execute(
            select(
                Coupon.code,
                Coupon.delivery_id,
                Coupon.valid_from,
                Coupon.valid_until,
                Coupon.min_spend,
                Coupon.order_id,
            ).where(Coupon.code.in_(chunk))
        )
    }
    clicks = _clicks(session, orders)
    credits: list[tuple[Any, int, str]] = []
    for order in orders:
        code = _code(order.data)
        found = coupons.get(code) if code else None
        # the coupon counts only where it redeems: inside its window, at its minimum spend, and
        # not a code another order used already
        if (
            found is not None
            and found.delivery_id is not None
            and found.order_id in (None, (order.data or {}).get("order_id"))
            and coupon_specs.refusal(
                whole_seconds(order.occurred_at),
                revenue_of(order.data),
                whole_seconds(found.valid_from),
                whole_seconds(found.valid_until),
                found.min_spend,
            )
            is None
        ):
            credits.append((order, found.delivery_id, "coupon"))
            continue
        click = credited_click(order.occurred_at, clicks.get(order.contact_id, ()))
        if click is not None:
            credits.append((order, click.delivery_id, "click"))
    deliveries = {
        row.id: (row.run_id, row.variant_id)
        for chunk in _chunks(sorted({delivery for _, delivery, _ in credits}))
        for row in session.execute(
            select(Delivery.id, Delivery.run_id, Delivery.variant_id).where(
                Delivery.id.in_(chunk), Delivery.run_id.in_(run_ids)
            )
        )
    }
    out = []
    for order, delivery_id, via in credits:
        if delivery_id not in deliveries:
            continue  # credited to a message of another campaign
        run_id, variant_id = deliveries[delivery_id]
        out.append(
            ConversionOrder(
                variant_id,
                order.contact_id,
                order.id,
                revenue_of(order.data),
                delivery_id,
                run_id,
                via,
            )
        )
    return out


def _clicks(session: Session, orders: Sequence[Any]) -> dict[int, list[Click]]:
    """Every human click, on any campaign, by the orders' members in the windows before them."""
    contacts = sorted({o.contact_id for o in orders if o.contact_id is not None})
    earliest = min(whole_seconds(o.occurred_at) for o in orders) - WINDOW
    latest = max(whole_seconds(o.occurred_at) for o in orders) + timedelta(seconds=1)
    out: dict[int, list[Click]] = defaultdict(list)
    for chunk in _chunks(contacts):
        rows = session.execute(
            select(Event.contact_id, Event.occurred_at, Event.delivery_id, Event.id).where(
                Event.type.in_(CLICK_TYPES),
                Event.machine.is_(False),
                Event.delivery_id.is_not(None),
                Event.contact_id.in_(chunk),
                Event.occurred_at >= earliest,
                Event.occurred_at < latest,
            )
        ).all()
        for contact_id, at, delivery_id, event_id in rows:
            out[contact_id].append(Click(at, delivery_id, event_id))
    return out


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """Slices of at most ``size`` values: IN lists stay inside SQLite's variable limit."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
