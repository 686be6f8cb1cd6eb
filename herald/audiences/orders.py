"""Order contents kept queryable: each line of an ``order.placed`` as an :class:`OrderItem`
row, written in the transaction that stores the event (so a duplicate webhook, which stores no
second event, writes no second set of lines)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from herald.audiences.models import Event, OrderItem
from herald.core.errors import ValidationError

MAX_ITEMS = 1000
MAX_QTY = 1_000_000
MAX_PRICE = Decimal(10) ** 12
TEXT_LIMITS = {"sku": 255, "name": 500, "category": 255}


def check_items(items: Any, where: str) -> list[dict[str, Any]]:
    """The order's lines as rows (``sku``, ``name``, ``category``, ``qty``, ``price``), or a 422
    naming the first bad one. ``qty`` defaults to 1 and ``price`` to 0; text fields may be
    left out (``category`` is optional in the contract) and are stored as given."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise _bad(where, "must be a list of objects")
    if len(items) > MAX_ITEMS:
        raise _bad(where, f"at most {MAX_ITEMS:,} items")
    rows = []
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise _bad(at, "must be an object")
        row: dict[str, Any] = {}
        for name, limit in TEXT_LIMITS.items():
            value = item.get(name)
            if value in (None, ""):
                row[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise _bad(f"{at}.{name}", "must be text")
            if len(str(value)) > limit:
                raise _bad(f"{at}.{name}", f"at most {limit} characters")
            row[name] = str(value)
        qty = item.get("qty", 1)
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= MAX_QTY:
            raise _bad(f"{at}.qty", f"must be a whole number from 0 to {MAX_QTY:,}")
        row["qty"] = qty
        row["price"] = _price(item.get("price", 0), f"{at}.price")
        rows.append(row)
    return rows


def _price(value: Any, where: str) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _bad(where, "must be a number")
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _bad(where, "must be a number") from None
    if not price.is_finite() or not 0 <= price < MAX_PRICE:
        raise _bad(where, "must be a number from 0 to less than 1,000,000,000,000")
    return price.quantize(Decimal("0.01"))


def _bad(where: str, message: str) -> ValidationError:
    return ValidationError(f"{where}: {message}", {where: message})


def store_items(
    session: Session, event: Event, order_id: str, rows: Sequence[dict[str, Any]], at: datetime
) -> int:
    """Write the checked lines of one stored order event in one INSERT; returns how many."""
    if not rows:
        return 0
    session.execute(
        insert(OrderItem),
        [
            {
                **row,
                "event_id": event.id,
                "line": line,
                "contact_id": event.contact_id,
                "order_id": order_id,
                "placed_at": at,
            }
            for line, row in enumerate(rows, start=1)
        ],
    )
    return len(rows)


def recent_items(session: Session, contact_id: int, limit: int = 20) -> list[OrderItem]:
    """The member's latest order lines, newest first (the admin's member page)."""
    return list(
        session.scalars(
            select(OrderItem)
            .where(OrderItem.contact_id == contact_id)
            .order_by(OrderItem.placed_at.desc(), OrderItem.id)
            .limit(limit)
        )
    )
