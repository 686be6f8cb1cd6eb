"""The vocabulary of segment rules (contract section 7) and the checking of their values; shared
by the SQL compiler (:mod:`herald.audiences.segments`) and anything else that reads rules."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from herald.audiences.models import CHANNEL_CONSENTS, TIERS
from herald.audiences.rfm import GROUPS as RFM_GROUPS
from herald.core.errors import ValidationError

OPERATORS = [
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "is_set",
    "is_not_set",
    "between",
    "within_last_days",
    "birthday_within_days",
]
NO_VALUE = ("is_set", "is_not_set")
TEXT_OPS = ("contains", "starts_with", "ends_with")
ORDER_OPS = ("lt", "lte", "gt", "gte")
EVENT_TYPES = ("order.placed", "cart.abandoned", "email.opened", "email.clicked")
HUMAN_ONLY_EVENTS = ("email.opened", "email.clicked")

# field -> kind; the column itself is looked up by the compiler
FIELD_KINDS: dict[str, str] = {
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
    "created_at": "datetime",
    "updated_at": "datetime",
    # behaviour (section 15): scores 1-5 and the group, recomputed by the RFM task
    "rfm.recency": "number",
    "rfm.frequency": "number",
    "rfm.monetary": "number",
    "rfm.group": "rfm_group",
    "favourite_category": "text",
    "points_expiring": "number",
    "points_expire_at": "day",
    "referral_code": "text",
}
# fields kept in contact_scores (rebuilt by the RFM task), and their column names
SCORE_FIELDS = ("rfm.recency", "rfm.frequency", "rfm.monetary", "rfm.group", "favourite_category")
# rule field -> column, where the two differ
COLUMNS: dict[str, str] = {
    "rfm.recency": "rfm_recency",
    "rfm.frequency": "rfm_frequency",
    "rfm.monetary": "rfm_monetary",
    "rfm.group": "rfm_group",
}
# keys an order.placed condition may add (order contents, section 15)
ORDER_KEYS = ("sku", "category", "min_total", "min_spent")
OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "text": ("eq", "ne", *ORDER_OPS, "in", "not_in", *TEXT_OPS, *NO_VALUE, "between"),
    "tier": ("eq", "ne", *ORDER_OPS, "in", "not_in", *NO_VALUE, "between"),
    "number": ("eq", "ne", *ORDER_OPS, "in", "not_in", *NO_VALUE, "between"),
    "date": ("eq", "ne", *ORDER_OPS, *NO_VALUE, "between", "birthday_within_days"),
    "day": ("eq", "ne", *ORDER_OPS, *NO_VALUE, "between"),
    "rfm_group": ("eq", "ne", "in", "not_in", *NO_VALUE),
    "datetime": ("eq", "ne", *ORDER_OPS, *NO_VALUE, "between", "within_last_days"),
    "attribute": ("eq", "ne", *ORDER_OPS, "in", "not_in", *TEXT_OPS, *NO_VALUE, "between"),
}
ATTRIBUTE_KEY = re.compile(r"^[\w\- ]{1,64}$")
MAX_NODES = 500
MAX_DEPTH = 32  # nested all/any/not groups
MAX_DAYS = 36600
MAX_COUNT = 10**9
MAX_ID = 2**31 - 1
MAX_NUMBER = 10**15  # larger comparison values overflow the database's numbers


def invalid(path: str, message: str) -> ValidationError:
    """A 422 naming the offending place in the rules."""
    return ValidationError(f"{path}: {message}", {path: message})


def check_field(field: Any, path: str) -> str:
    """The kind of ``field`` ('text', 'number', …, 'attribute', 'consent', 'list') or a 422."""
    if not isinstance(field, str) or not field:
        raise invalid(path, "a field name is required")
    if field.startswith("attributes."):
        key = field.removeprefix("attributes.")
        if not ATTRIBUTE_KEY.match(key):
            raise invalid(path, f"unknown field {field!r}: attribute keys are letters, digits, _ -")
        return "attribute"
    if field.startswith("consent."):
        if field.removeprefix("consent.") not in CHANNEL_CONSENTS:
            raise invalid(path, f"unknown field {field!r}")
        return "consent"
    if field == "list":
        return "list"
    if field not in FIELD_KINDS:
        raise invalid(path, f"unknown field {field!r}")
    return FIELD_KINDS[field]


def number(value: Any, path: str) -> int | float | Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise invalid(path, f"must be a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity
        raise invalid(path, "must be a finite number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise invalid(path, "must be a finite number")
    if not -MAX_NUMBER <= value <= MAX_NUMBER:
        raise invalid(path, f"must be between -{MAX_NUMBER:,} and {MAX_NUMBER:,}")
    return value


def ident(value: Any, path: str, what: str = "list") -> int:
    """A database id (a whole number from 1 to 2**31-1)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise invalid(path, f"must be a {what} id")
    return value


def days(value: Any, path: str) -> float:
    """A non-negative day count (fractions allowed)."""
    n = number(value, path)
    if n < 0 or n > MAX_DAYS:
        raise invalid(path, f"must be between 0 and {MAX_DAYS} days")
    return float(n)


def whole_days(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise invalid(path, f"must be a whole number of days from 0 to {MAX_DAYS}")
    return value


def scalar(kind: str, value: Any, path: str, field: str = "") -> Any:
    """One comparison value checked and converted for a field of ``kind``."""
    if kind == "text":
        if not isinstance(value, str):
            raise invalid(path, f"must be text, not {value!r}")
        return value.strip().lower() if field == "email" else value
    if kind == "tier":
        if value not in TIERS:
            raise invalid(path, f"unknown tier {value!r}; tiers: {', '.join(TIERS)}")
        return value
    if kind == "number":
        n = number(value, path)
        return Decimal(str(n)) if field == "total_spent" else n
    if kind == "rfm_group":
        if value not in RFM_GROUPS:
            raise invalid(path, f"unknown RFM group {value!r}; groups: {', '.join(RFM_GROUPS)}")
        return value
    if kind in ("date", "day"):
        try:
            return date.fromisoformat(value if isinstance(value, str) else "?")
        except ValueError:
            raise invalid(path, f"must be a date such as 2026-05-17, not {value!r}") from None
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(
                value.replace("Z", "+00:00") if isinstance(value, str) else "?"
            )
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            moment.astimezone(UTC)  # a date-time at the edge of the calendar overflows here
        except (ValueError, OverflowError):
            raise invalid(path, "must be a date-time such as 2026-05-17T10:00:00Z") from None
        return moment
    if kind == "attribute":
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            return number(value, path)
        raise invalid(path, f"must be text, a number or true/false, not {value!r}")
    raise invalid(path, f"no values for {kind}")


def value_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(path, "must be a list")
    if len(value) > 10000:
        raise invalid(path, "at most 10,000 values")
    return value


def pair(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise invalid(path, "must be [low, high]")
    return value


def money(value: Any, path: str) -> Decimal:
    """A non-negative amount (order totals, spend)."""
    n = number(value, path)
    if n < 0:
        raise invalid(path, "must be 0 or more")
    return Decimal(str(n))


def label(value: Any, path: str) -> str:
    """A sku or category to match (non-empty text, at most 255 characters)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise invalid(path, "must be text of 1 to 255 characters")
    return value
