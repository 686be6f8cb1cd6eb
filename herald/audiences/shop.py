"""Effects of the shop's webhooks (contract section 5) on members and events.

:func:`check` checks a verified webhook body; :func:`store` changes the member and stores an
:class:`Event`. Everything happens in the caller's transaction, and :mod:`herald.intake` then
hands the event to campaigns in the same one, so a webhook is either wholly applied (with its
inbox row) or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from herald.audiences import contacts, orders, referrals
from herald.audiences import points as expiry
from herald.audiences.contacts import MAX_POINTS
from herald.audiences.models import TIERS, Contact, Event
from herald.audiences.sqlfuncs import JsonText, sqlite_path
from herald.core import clock
from herald.core.errors import ValidationError

CUSTOMER_FIELDS = ("external_id", "email", "phone", "first_name", "last_name", "locale")
CUSTOMER_FIELDS += ("tier", "points", "birthday", "timezone", "consent", "attributes")
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "customer.created": {"customer": ("external_id",)},
    "customer.updated": {"customer": ("external_id",)},
    "order.placed": {"order": ("id", "customer_external_id", "total")},
    "cart.abandoned": {"cart": ("id", "customer_external_id")},
    "points.changed": {"": ("customer_external_id", "points")},
    "tier.changed": {"": ("customer_external_id", "tier")},
}
TYPES = tuple(REQUIRED)
# ids: a string or a whole number; ``part`` "" is ``data`` itself
IDS: dict[str, tuple[tuple[str, str], ...]] = {
    "customer.created": (("customer", "external_id"),),
    "customer.updated": (("customer", "external_id"),),
    "order.placed": (("order", "id"), ("order", "customer_external_id")),
    "cart.abandoned": (("cart", "id"), ("cart", "customer_external_id")),
    "points.changed": (("", "customer_external_id"),),
    "tier.changed": (("", "customer_external_id"),),
}
MAX_MONEY = Decimal(10) ** 12
MIN_YEAR, MAX_YEAR = 1970, 2999


def check(body: Any) -> tuple[str, dict[str, Any]]:
    """``(type, data)`` of a webhook body, or a 422 naming the unknown type or missing fields."""
    if not isinstance(body, Mapping):
        raise ValidationError("the body must be a JSON object", {"": "must be an object"})
    kind = body.get("type")
    if kind not in REQUIRED:
        raise ValidationError(
            f"type: unknown type {kind!r}; types: {', '.join(TYPES)}", {"type": "unknown type"}
        )
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise ValidationError("data: must be an object", {"data": "required"})
    missing: dict[str, str] = {}
    for part, names in REQUIRED[kind].items():
        inner = data.get(part) if part else data
        prefix = f"data.{part}." if part else "data."
        if not isinstance(inner, Mapping):
            missing[f"data.{part}"] = "required"
            continue
        for name in names:
            if inner.get(name) in (None, ""):
                missing[prefix + name] = "required"
    if missing:
        raise ValidationError("missing fields: " + ", ".join(missing), missing)
    found = contacts.find_nul(data, "data")
    if found:
        raise ValidationError(f"{found[0]}: {found[1]}", {found[0]: found[1]})
    for part, name in IDS[kind]:
        inner = data.get(part) if part else data
        where = f"data.{part}.{name}" if part else f"data.{name}"
        _ident(inner[name], where)
    if kind in ("order.placed", "cart.abandoned"):
        part = "order" if kind == "order.placed" else "cart"
        inner = data[part]
        coupon = inner.get("coupon_code")
        if coupon is not None and not isinstance(coupon, str):
            where = f"data.{part}.coupon_code"
            raise ValidationError(f"{where}: must be text", {where: "must be text"})
        items = inner.get("items")
        if items is not None and (
            not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items)
        ):
            where = f"data.{part}.items"
            raise ValidationError(
                f"{where}: must be a list of objects", {where: "must be a list of objects"}
            )
        if kind == "order.placed":
            orders.check_items(items, "data.order.items")
    if kind == "points.changed" and data.get("expiring") is not None:
        expiry.check_lots(data["expiring"])
    return kind, dict(data)


def _ident(value: Any, where: str) -> str:
    """An id sent by the shop: text (at most 255 characters) or a whole number."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(f"{where}: must be text or a whole number", {where: "not an id"})
    text = str(value)
    if len(text) > 255:
        raise ValidationError(f"{where}: at most 255 characters", {where: "too long"})
    return text


def store(session: Session, kind: str, data: Mapping[str, Any], region: str = "CN") -> Event:
    """Store what one checked webhook tells about a member (contact, order facts, points, tier)
    and the event itself; returns the event, flushed so that it has its id. What the event
    triggers is decided a layer up (:mod:`herald.intake`)."""
    handlers = {
        "customer.created": _customer,
        "customer.updated": _customer,
        "order.placed": _order,
        "cart.abandoned": _cart,
        "points.changed": _points,
        "tier.changed": _tier,
    }
    event = handlers[kind](session, kind, data, region)
    session.flush()
    return event


def _member(session: Session, external_id: Any, region: str) -> Contact:
    """The member with this shop id; an unknown one is created so order facts are not lost."""
    # consents and RFM scores load when used, not with every order or points webhook
    query = select(Contact).options(lazyload(Contact.consents), lazyload(Contact.scores))
    found = session.scalar(query.where(Contact.external_id == str(external_id)))
    if found is not None:
        return found
    contact, _ = contacts.upsert(
        session, {"external_id": str(external_id)}, source="shop", region=region
    )
    return contact


def _customer(session: Session, kind: str, data: Mapping[str, Any], region: str) -> Event:
    customer = data["customer"]
    payload = {k: customer[k] for k in CUSTOMER_FIELDS if k in customer}
    payload["external_id"] = _ident(payload["external_id"], "data.customer.external_id")
    try:
        contact, _ = contacts.upsert(session, payload, source="shop", region=region)
    except ValidationError as exc:
        fields = {f"data.customer.{k}": v for k, v in exc.fields.items()}
        raise ValidationError(f"data.customer.{exc.message}", fields) from None
    details: dict[str, Any] = {"external_id": contact.external_id}
    if kind == "customer.created" and customer.get("referred_by") not in (None, ""):
        referral = referrals.convert(session, contact, customer["referred_by"])
        if referral is not None:
            # intake hands this event to journeys too (a referral.converted entry)
            details["referral_event_id"] = referral.id
    return _event(session, kind, contact, details)


def _money(value: Any, where: str) -> Decimal:
    """An amount: a finite number from 0 up to (not including) 10**12."""
    bad = ValidationError(
        f"{where}: must be a number from 0 to less than 1,000,000,000,000",
        {where: "must be a number from 0 to less than 10**12"},
    )
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise bad
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise bad from None
    if not amount.is_finite() or not 0 <= amount < MAX_MONEY:
        raise bad
    return amount.quantize(Decimal("0.01"))


def _moment(value: Any, where: str) -> datetime:
    if value in (None, ""):
        return clock.now()
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        in_utc = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(
            f"{where}: must be an ISO date-time", {where: "not a date-time"}
        ) from None
    if not MIN_YEAR <= in_utc.year <= MAX_YEAR:
        raise ValidationError(
            f"{where}: the year must be from {MIN_YEAR} to {MAX_YEAR}",
            {where: f"the year must be from {MIN_YEAR} to {MAX_YEAR}"},
        )
    return moment


def _order(session: Session, kind: str, data: Mapping[str, Any], region: str) -> Event:
    order = data["order"]
    total = _money(order["total"], "data.order.total")
    placed_at = _moment(order.get("placed_at"), "data.order.placed_at")
    contact = _member(session, order["customer_external_id"], region)
    order_id = _ident(order["id"], "data.order.id")
    lines = orders.check_items(order.get("items"), "data.order.items")
    seen = session.scalar(
        select(Event).where(
            Event.contact_id == contact.id,
            Event.type == "order.placed",
            JsonText(Event.data, "order_id", sqlite_path("order_id")) == order_id,
        )
    )
    if seen is not None:  # the same order under a new webhook-id: count it once
        return seen
    spent = Decimal(contact.total_spent or 0) + total
    if spent >= MAX_MONEY:
        raise ValidationError(
            "data.order.total: the customer's total spent would pass 1,000,000,000,000",
            {"data.order.total": "too large"},
        )
    contact.orders_count = (contact.orders_count or 0) + 1
    contact.total_spent = spent
    if contact.last_order_at is None or placed_at > contact.last_order_at:
        contact.last_order_at = placed_at
    details = {
        "order_id": order_id,
        "total": float(total),
        "currency": order.get("currency"),
        "coupon_code": order.get("coupon_code") or None,
        "items": order.get("items") or [],
    }
    event = _event(session, kind, contact, details, placed_at)
    orders.store_items(session, event, order_id, lines, placed_at)
    return event


def _cart(session: Session, kind: str, data: Mapping[str, Any], region: str) -> Event:
    cart = data["cart"]
    contact = _member(session, cart["customer_external_id"], region)
    details = {
        "cart_id": _ident(cart["id"], "data.cart.id"),
        "total": float(_money(cart.get("total") or 0, "data.cart.total")),
        "url": cart.get("url"),
        "items": cart.get("items") or [],
    }
    return _event(session, kind, contact, details)


def _points(session: Session, kind: str, data: Mapping[str, Any], region: str) -> Event:
    points = data["points"]
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= MAX_POINTS:
        raise ValidationError(
            f"data.points: a whole number from 0 to {MAX_POINTS:,}", {"data.points": "invalid"}
        )
    contact = _member(session, data["customer_external_id"], region)
    contact.points = points
    details: dict[str, Any] = {"points": points, "previous": data.get("previous")}
    if data.get("expiring") is not None:
        lots = expiry.check_lots(data["expiring"])
        expiry.replace_lots(session, contact, lots)
        details["expiring"] = [{"points": p, "expires_at": d.isoformat()} for p, d in lots]
    return _event(session, kind, contact, details)


def _tier(session: Session, kind: str, data: Mapping[str, Any], region: str) -> Event:
    tier = data["tier"]
    if tier not in TIERS:
        raise ValidationError(
            f"data.tier: one of {', '.join(TIERS)}", {"data.tier": "unknown tier"}
        )
    contact = _member(session, data["customer_external_id"], region)
    contact.tier = tier
    return _event(session, kind, contact, {"tier": tier, "previous": data.get("previous")})


def _event(
    session: Session,
    kind: str,
    contact: Contact,
    details: dict[str, Any],
    at: datetime | None = None,
) -> Event:
    event = Event(contact_id=contact.id, type=kind, occurred_at=at or clock.now(), data=details)
    session.add(event)
    session.flush()
    return event
