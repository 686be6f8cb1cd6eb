"""Parts of the segment compiler: number binding, comparisons, birthdays by zone and JSON
attributes (see :mod:`herald.audiences.segments`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import Numeric, and_, case, exists, false, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from herald.audiences import rules as R
from herald.audiences.models import Contact, Event, OrderItem
from herald.audiences.sqlfuncs import (
    ByteOrder,
    JsonNumber,
    JsonText,
    JsonType,
    MonthDay,
    birthday_keys,
    sqlite_path,
)

Cond = ColumnElement[bool]


def num(v: Any) -> Any:
    """Numbers bound as NUMERIC: an INTEGER-typed parameter would round 500.5 on PostgreSQL."""
    if isinstance(v, int | float | Decimal) and not isinstance(v, bool):
        return literal(Decimal(str(v)), Numeric(asdecimal=True))
    return v


def binary(column: Any, op: str, v: Any) -> Cond:
    v = num(v)
    return {
        "eq": lambda: column == v,
        "ne": lambda: column != v,
        "lt": lambda: column < v,
        "lte": lambda: column <= v,
        "gt": lambda: column > v,
        "gte": lambda: column >= v,
    }[op]()


def birthday(column: Any, days: int, now: datetime, zone: ZoneInfo) -> Cond:
    """Bucket zones by the date it is there now; each bucket matches its own month-day keys."""
    buckets: dict[Any, list[str]] = {}
    for name in _zone_names():
        buckets.setdefault(now.astimezone(ZoneInfo(name)).date(), []).append(name)
    default_day = now.astimezone(zone).date()
    zone = func.coalesce(Contact.timezone, literal(zone.key))
    key = MonthDay(column)
    parts: list[Cond] = []
    others: list[str] = []
    for day, names in sorted(buckets.items()):
        if day == default_day:
            continue
        others += names
        parts.append(and_(zone.in_(names), key.in_(birthday_keys(day, days))))
    default = key.in_(birthday_keys(default_day, days))
    parts.append(and_(zone.not_in(others), default) if others else default)
    return and_(column.is_not(None), or_(*parts))


_ZONES: list[str] = []


def _zone_names() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(available_timezones()))
    return _ZONES


def attribute(key: str, op: str, value: Any, vpath: str) -> Cond:
    args = (Contact.attributes, literal(key), literal(sqlite_path(key)))
    jtype = JsonType(*args)
    present = and_(jtype.is_not(None), jtype != "null")
    if op == "is_set":
        return present
    if op == "is_not_set":
        return present.is_not(true())
    if op in ("ne", "not_in"):
        positive = attribute(key, "eq" if op == "ne" else "in", value, vpath)
        return and_(present, positive.is_not(true()))
    if op == "in":
        values = R.value_list(value, vpath)
        return or_(
            false(), *[attribute(key, "eq", v, f"{vpath}[{i}]") for i, v in enumerate(values)]
        )
    if op == "between":
        low, high = R.pair(value, vpath)
        return and_(
            attribute(key, "gte", low, f"{vpath}[0]"), attribute(key, "lte", high, f"{vpath}[1]")
        )
    v = R.scalar("attribute", value, vpath)
    if isinstance(v, bool):
        if op != "eq":
            raise R.invalid(vpath, f"true/false only works with eq, ne, in, not_in, not {op}")
        return and_(jtype == "boolean", JsonText(*args) == ("true" if v else "false"))
    if isinstance(v, str):
        text = ByteOrder(JsonText(*args))
        guarded = and_(jtype == "string", _text_op(text, op, v))
        return guarded
    if op in R.TEXT_OPS:
        raise R.invalid(vpath, f"{op} needs text")
    # a CASE, not an AND: PostgreSQL may evaluate the cast before the type test
    return binary(case((jtype == "number", JsonNumber(*args)), else_=None), op, v)


def text_match(column: Any, op: str, v: str) -> Cond:
    """Case-insensitive contains / starts_with / ends_with as ``lower(x) LIKE lower(pattern)``
    (PostgreSQL's ILIKE is twice as slow over a million rows)."""
    escaped = v.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = {"contains": f"%{escaped}%", "starts_with": f"{escaped}%", "ends_with": f"%{escaped}"}
    return func.lower(column).like(func.lower(literal(pattern[op])), escape="/")


def _text_op(text: Any, op: str, v: str) -> Cond:
    if op in R.TEXT_OPS:
        return text_match(text, op, v)
    return binary(text, op, v)


def order_total() -> Any:
    """An order event's total (stored as a JSON number by audiences.shop)."""
    return JsonNumber(Event.data, literal("total"), literal(sqlite_path("total")))


def order_contents(node: Any, path: str) -> list[Cond]:
    """Conditions on one ``order.placed`` event from the keys of section 15: it has a line of
    ``sku`` / of ``category`` (exact match), and its total is at least ``min_total``."""
    where: list[Cond] = []
    for key in ("sku", "category"):
        if node.get(key) is not None:
            wanted = R.label(node[key], f"{path}.{key}")
            line = getattr(OrderItem, key) == wanted
            where.append(exists(select(OrderItem.id).where(OrderItem.event_id == Event.id, line)))
    if node.get("min_total") is not None:
        where.append(order_total() >= num(R.money(node["min_total"], f"{path}.min_total")))
    return where


def spent_at_least(where: list[Cond], amount: Any) -> Cond:
    """The totals of the orders ``where`` selects add up to at least ``amount``."""
    total = select(func.coalesce(func.sum(order_total()), 0)).where(*where).scalar_subquery()
    return total >= num(amount)
