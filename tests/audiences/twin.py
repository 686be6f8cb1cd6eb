"""A plain-Python evaluation of segment rules: the specification the SQL compiler is checked
against. Written from the contract's words, not from the compiler."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

TIERS = ["new", "bronze", "silver", "gold", "platinum"]
KINDS = {
    "external_id": "text",
    "email": "text",
    "phone": "text",
    "first_name": "text",
    "last_name": "text",
    "locale": "text",
    "timezone": "text",
    "tier": "tier",
    "points": "number",
    "birthday": "date",
    "orders_count": "number",
    "total_spent": "number",
    "last_order_at": "datetime",
    "rfm.recency": "number",
    "rfm.frequency": "number",
    "rfm.monetary": "number",
    "rfm.group": "group",
    "favourite_category": "text",
    "points_expiring": "number",
    "points_expire_at": "date",
}


@dataclass
class Member:
    """A member as the twin sees it."""

    fields: dict[str, Any]
    attributes: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    lists: set[int] = field(default_factory=set)
    # (type, at, campaign_id, machine, order): order is (total, [(sku, category), ...]) for
    # order.placed events, else None
    events: list[tuple[str, datetime, int | None, bool, Any]] = field(default_factory=list)


def matches(rules: dict[str, Any] | None, m: Member, now: datetime, zone: str = "UTC") -> bool:
    if not rules:
        return True
    if "all" in rules:
        return all(matches(r, m, now, zone) for r in rules["all"])
    if "any" in rules:
        return any(matches(r, m, now, zone) for r in rules["any"])
    if "not" in rules:
        return not matches(rules["not"], m, now, zone)
    if "event" in rules:
        return _event(rules, m, now)
    if "list" in rules:
        return rules["list"] in m.lists
    name, op, value = rules["field"], rules["op"], rules.get("value")
    if name == "list":
        wanted = set(value) if isinstance(value, list) else {value}
        hit = bool(wanted & m.lists)
        return hit if op in ("eq", "in") else not hit
    if name.startswith("consent."):
        got = m.consent.get(name.removeprefix("consent."))
        if op == "is_set":
            return got is not None
        if op == "is_not_set":
            return got is None
        return got is not None and (got == value) == (op == "eq")
    if name.startswith("attributes."):
        return _attribute(m.attributes.get(name.removeprefix("attributes.")), op, value)
    got = m.fields.get(name)
    kind = KINDS[name]
    if op == "is_set":
        return got is not None
    if op == "is_not_set":
        return got is None
    if got is None:
        return False
    if op == "within_last_days":
        return now - timedelta(days=value) <= got <= now
    if op == "birthday_within_days":
        local = now.astimezone(ZoneInfo(m.fields.get("timezone") or zone)).date()
        return any(_celebrated(got, local + timedelta(days=i)) for i in range(value + 1))
    if kind == "tier":
        got = TIERS.index(got)
        value = [TIERS.index(v) for v in value] if isinstance(value, list) else TIERS.index(value)
    if kind == "date":
        value = (
            [date.fromisoformat(v) for v in value]
            if isinstance(value, list)
            else date.fromisoformat(value)
        )
    if kind == "datetime":
        value = (
            [datetime.fromisoformat(v) for v in value]
            if isinstance(value, list)
            else datetime.fromisoformat(value)
        )
    if kind == "number":
        got = Decimal(str(got))
        value = [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))
    if name == "email" and isinstance(value, str):
        value = value.lower()
    return _compare(got, op, value)


def _compare(got: Any, op: str, value: Any) -> bool:
    if op == "eq":
        return got == value
    if op == "ne":
        return got != value
    if op == "lt":
        return got < value
    if op == "lte":
        return got <= value
    if op == "gt":
        return got > value
    if op == "gte":
        return got >= value
    if op == "in":
        return got in value
    if op == "not_in":
        return got not in value
    if op == "between":
        return value[0] <= got <= value[1]
    if op == "contains":
        return value.lower() in got.lower()
    if op == "starts_with":
        return got.lower().startswith(value.lower())
    if op == "ends_with":
        return got.lower().endswith(value.lower())
    raise AssertionError(op)


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return "string"


def _attribute(got: Any, op: str, value: Any) -> bool:
    present = got is not None
    if op == "is_set":
        return present
    if op == "is_not_set":
        return not present
    if not present:
        return False
    if op in ("ne", "not_in"):
        return not _attribute(got, "eq" if op == "ne" else "in", value)
    if op == "in":
        return any(_attribute(got, "eq", v) for v in value)
    if op == "between":
        return _attribute(got, "gte", value[0]) and _attribute(got, "lte", value[1])
    if _json_kind(got) != _json_kind(value):
        return False
    if isinstance(got, int | float) and not isinstance(got, bool):
        return _compare(Decimal(str(got)), op, Decimal(str(value)))
    return _compare(got, op, value)


def _celebrated(birthday: date, day: date) -> bool:
    if (birthday.month, birthday.day) == (day.month, day.day):
        return True
    return (
        (birthday.month, birthday.day) == (2, 29)
        and (day.month, day.day) == (2, 28)
        and not calendar.isleap(day.year)
    )


def _order_fits(rule: dict[str, Any], order: Any) -> bool:
    """The order's contents meet the rule's sku, category and min_total."""
    total, lines = order if order is not None else (Decimal(0), [])
    if rule.get("sku") is not None and all(sku != rule["sku"] for sku, _ in lines):
        return False
    if rule.get("category") is not None and all(cat != rule["category"] for _, cat in lines):
        return False
    return rule.get("min_total") is None or total >= Decimal(str(rule["min_total"]))


def _event(rule: dict[str, Any], m: Member, now: datetime) -> bool:
    hits = 0
    spent = Decimal(0)
    for kind, at, campaign_id, machine, order in m.events:
        if kind != rule["event"]:
            continue
        if rule.get("within_days") is not None and not (
            now - timedelta(days=rule["within_days"]) <= at <= now
        ):
            continue
        if rule.get("campaign_id") is not None and campaign_id != rule["campaign_id"]:
            continue
        if machine and kind in ("email.opened", "email.clicked"):
            continue
        if not _order_fits(rule, order):
            continue
        hits += 1
        spent += order[0] if order is not None else Decimal(0)
    if rule.get("min_spent") is not None and spent < Decimal(str(rule["min_spent"])):
        return False
    return hits >= rule.get("min_count", 1)
