"""Segment rules (contract section 7) compiled to one SQL condition over contacts.

Foundation version: contact columns and ``consent.<channel>`` with the basic operators. The
audiences work extends it to the whole rule language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, false, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from herald.audiences.models import Consent, Contact
from herald.core.errors import ValidationError

COLUMNS = {
    "email": Contact.email,
    "phone": Contact.phone,
    "first_name": Contact.first_name,
    "last_name": Contact.last_name,
    "tier": Contact.tier,
    "points": Contact.points,
    "locale": Contact.locale,
    "timezone": Contact.timezone,
}


def _invalid(path: str, message: str) -> ValidationError:
    return ValidationError(f"{path}: {message}", {path: message})


def condition(rules: Mapping[str, Any] | None, path: str = "rules") -> ColumnElement[bool]:
    """Compile ``rules`` to a WHERE condition over :class:`Contact` (erased members excluded by
    :func:`members`)."""
    if not rules:
        return true()
    if not isinstance(rules, Mapping):
        raise _invalid(path, "must be an object")
    if "all" in rules:
        return and_(true(), *[condition(r, f"{path}.all[{i}]") for i, r in enumerate(rules["all"])])
    if "any" in rules:
        return or_(false(), *[condition(r, f"{path}.any[{i}]") for i, r in enumerate(rules["any"])])
    if "not" in rules:
        return not_(condition(rules["not"], f"{path}.not"))
    field = rules.get("field")
    op = rules.get("op")
    value = rules.get("value")
    if isinstance(field, str) and field.startswith("consent."):
        channel = field.removeprefix("consent.")
        granted = exists(
            select(Consent.contact_id).where(
                Consent.contact_id == Contact.id,
                Consent.channel == channel,
                Consent.granted.is_(True),
            )
        )
        if op == "eq":
            return granted if value else not_(granted)
        raise _invalid(f"{path}.op", f"operator {op!r} does not apply to {field}")
    column = COLUMNS.get(field)  # type: ignore[arg-type]
    if column is None:
        raise _invalid(f"{path}.field", f"unknown field {field!r}")
    ops = {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "in": lambda: column.in_(value),
        "not_in": lambda: column.not_in(value),
        "is_set": lambda: column.is_not(None),
        "is_not_set": lambda: column.is_(None),
    }
    if op not in ops:
        raise _invalid(f"{path}.op", f"unknown operator {op!r}")
    return ops[op]()


def members(rules: Mapping[str, Any] | None):  # type: ignore[no-untyped-def]
    """A SELECT of the ids of the live (not erased) members matching ``rules``."""
    return select(Contact.id).where(Contact.erased_at.is_(None), condition(rules))
