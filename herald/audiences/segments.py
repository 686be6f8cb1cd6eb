"""Segment rules (contract section 7) compiled to one SQL condition over contacts.

Three-valued logic: inside ``all``/``any`` a condition on a missing value yields NULL, which a
WHERE treats as false; ``not`` is compiled as ``x IS NOT TRUE`` so that the negation of a
condition on a missing value is true, as the contract asks. Event conditions count rows in the
events table (machine opens and bot clicks never count); ``birthday_within_days`` buckets members
by the calendar date "today" has in their zone (members without a zone use the service zone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from herald.audiences import rules as R
from herald.audiences import segment_parts as P
from herald.audiences.contacts import find_nul
from herald.audiences.models import TIERS, Consent, Contact, ContactScore, Event, ListMember
from herald.audiences.sqlfuncs import (
    ByteOrder,
)
from herald.core import clock

Cond = ColumnElement[bool]
GROUPS = ("all", "any", "not")


@dataclass
class Context:
    """When and where rules are evaluated."""

    now: datetime
    zone: ZoneInfo
    nodes: int = field(default=0)


def condition(
    rules: Mapping[str, Any] | None,
    path: str = "rules",
    *,
    now: datetime | None = None,
    zone: ZoneInfo | str | None = None,
) -> Cond:
    """Compile ``rules`` to a WHERE condition over :class:`Contact`; raises a 422
    :class:`~herald.core.errors.ValidationError` naming an unknown field or operator.
    ``zone`` is the service zone used for members without one (default UTC)."""
    if isinstance(zone, str):
        zone = ZoneInfo(zone)
    ctx = Context(now or clock.now(), zone or ZoneInfo("UTC"))
    if not rules:
        if rules is not None and not isinstance(rules, Mapping):
            raise R.invalid(path, "must be an object")
        return true()
    found = find_nul(rules, path)
    if found:
        raise R.invalid(*found)
    return _node(rules, path, ctx)


def members(
    rules: Mapping[str, Any] | None,
    *,
    now: datetime | None = None,
    zone: ZoneInfo | str | None = None,
) -> Select[tuple[int]]:
    """A SELECT of the ids of the live (not erased) members matching ``rules``."""
    return select(Contact.id).where(
        Contact.erased_at.is_(None), condition(rules, now=now, zone=zone)
    )


def validate(rules: Any, path: str = "rules") -> dict[str, Any]:
    """Check ``rules`` (compiling them) and return them; a 422 when they are wrong."""
    if rules is None:
        return {}
    if not isinstance(rules, Mapping):
        raise R.invalid(path, "must be an object")
    condition(rules, path)
    return dict(rules)


def count(session: Session, rules: Mapping[str, Any] | None, **kw: Any) -> int:
    """How many live members match."""
    query = select(func.count()).select_from(members(rules, **kw).subquery())
    return int(session.scalar(query) or 0)


def sample(
    session: Session, rules: Mapping[str, Any] | None, limit: int = 10, **kw: Any
) -> Sequence[Contact]:
    """Up to ``limit`` matching members, lowest ids first."""
    query = (
        select(Contact)
        .where(Contact.id.in_(members(rules, **kw)))
        .order_by(Contact.id)
        .limit(limit)
    )
    return session.scalars(query).all()


# --------------------------------------------------------------------------- structure


def _node(node: Any, path: str, ctx: Context, depth: int = 1) -> Cond:
    ctx.nodes += 1
    if ctx.nodes > R.MAX_NODES:
        raise R.invalid(path, f"too many conditions (at most {R.MAX_NODES})")
    if depth > R.MAX_DEPTH:
        # deeper nesting would overflow Python's stack while compiling the SQL
        raise R.invalid(path, f"groups nested too deep (at most {R.MAX_DEPTH} levels)")
    if not isinstance(node, Mapping):
        raise R.invalid(path, "each condition must be an object")
    groups = [k for k in GROUPS if k in node]
    if groups:
        key = groups[0]
        if len(node) != 1:
            extra = sorted(str(k) for k in node if k != key)
            raise R.invalid(path, f"a {key!r} group takes no other keys (got {', '.join(extra)})")
        if key == "not":
            return _node(node["not"], f"{path}.not", ctx, depth + 1).is_not(true())
        children = node[key]
        if not isinstance(children, list):
            raise R.invalid(f"{path}.{key}", "must be a list of conditions")
        parts = [_node(c, f"{path}.{key}[{i}]", ctx, depth + 1) for i, c in enumerate(children)]
        if key == "all":
            return and_(true(), *parts)
        return or_(false(), *parts)
    if "event" in node:
        return _event(node, path, ctx)
    if "list" in node:
        return _in_lists([_list_id(node["list"], f"{path}.list")], path, node, {"list"})
    return _leaf(node, path, ctx)


def _list_id(value: Any, path: str) -> int:
    return R.ident(value, path, "list")


def _in_lists(ids: list[int], path: str, node: Mapping[str, Any], allowed: set[str]) -> Cond:
    extra = sorted(str(k) for k in node if k not in allowed)
    if extra:
        raise R.invalid(path, f"unknown key {extra[0]!r}")
    if not ids:
        return false()
    return exists(
        select(ListMember.contact_id).where(
            ListMember.contact_id == Contact.id, ListMember.list_id.in_(ids)
        )
    )


def _event(node: Mapping[str, Any], path: str, ctx: Context) -> Cond:
    allowed = {"event", "within_days", "min_count", "campaign_id", *R.ORDER_KEYS}
    extra = sorted(str(k) for k in node if k not in allowed)
    if extra:
        raise R.invalid(path, f"unknown key {extra[0]!r} in an event condition")
    kind = node["event"]
    if kind not in R.EVENT_TYPES:
        raise R.invalid(
            f"{path}.event", f"unknown event {kind!r}; events: {', '.join(R.EVENT_TYPES)}"
        )
    contents = [k for k in R.ORDER_KEYS if node.get(k) is not None]
    if contents and kind != "order.placed":
        where = f"{path}.{contents[0]}"
        raise R.invalid(where, f"{contents[0]} only applies to order.placed conditions")
    where = [Event.contact_id == Contact.id, Event.type == kind]
    if node.get("within_days") is not None:
        window = R.days(node["within_days"], f"{path}.within_days")
        where += [
            Event.occurred_at >= ctx.now - timedelta(days=window),
            Event.occurred_at <= ctx.now,
        ]
    if node.get("campaign_id") is not None:
        campaign_id = R.ident(node["campaign_id"], f"{path}.campaign_id", "campaign")
        where.append(Event.campaign_id == campaign_id)
    if kind in R.HUMAN_ONLY_EVENTS:
        where.append(Event.machine.is_(False))
    min_count = node.get("min_count", 1)
    if (
        isinstance(min_count, bool)
        or not isinstance(min_count, int)
        or not 1 <= min_count <= R.MAX_COUNT
    ):
        raise R.invalid(f"{path}.min_count", f"must be a whole number from 1 to {R.MAX_COUNT:,}")
    spent = None
    if contents:
        where += P.order_contents(node, path)
        if node.get("min_spent") is not None:
            spent = P.spent_at_least(where, R.money(node["min_spent"], f"{path}.min_spent"))
    if min_count == 1:
        found = exists(select(Event.id).where(*where))
    else:
        found = select(func.count(Event.id)).where(*where).scalar_subquery() >= min_count
    return found if spent is None else and_(found, spent)


# --------------------------------------------------------------------------- field conditions


def _leaf(node: Mapping[str, Any], path: str, ctx: Context) -> Cond:
    extra = sorted(str(k) for k in node if k not in ("field", "op", "value"))
    if extra:
        raise R.invalid(path, f"unknown key {extra[0]!r}")
    name = node.get("field")
    kind = R.check_field(name, f"{path}.field")
    op = node.get("op")
    if op not in R.OPERATORS:
        raise R.invalid(f"{path}.op", f"unknown operator {op!r}")
    value = node.get("value")
    vpath = f"{path}.value"
    if op not in R.NO_VALUE and "value" not in node:
        raise R.invalid(vpath, f"{op} needs a value")
    if kind == "consent":
        return _consent(str(name).removeprefix("consent."), op, value, path)
    if kind == "list":
        if op in ("eq", "ne"):
            cond = _in_lists([_list_id(value, vpath)], path, node, {"field", "op", "value"})
        elif op in ("in", "not_in"):
            ids = [_list_id(v, vpath) for v in R.value_list(value, vpath)]
            cond = _in_lists(ids, path, node, {"field", "op", "value"})
        else:
            raise R.invalid(f"{path}.op", f"operator {op!r} does not apply to list")
        return cond.is_not(true()) if op in ("ne", "not_in") else cond
    if op not in R.OPS_BY_KIND[kind]:
        raise R.invalid(f"{path}.op", f"operator {op!r} does not apply to {name}")
    if kind == "attribute":
        return P.attribute(str(name).removeprefix("attributes."), op, value, vpath)
    attr = R.COLUMNS.get(str(name), str(name))
    if name in R.SCORE_FIELDS:
        return _score(attr, kind, str(name), op, value, vpath, ctx)
    column = getattr(Contact, attr)
    return _compare(column, kind, str(name), op, value, vpath, ctx)


def _compare(
    column: Any, kind: str, name: str, op: str, value: Any, vpath: str, ctx: Context
) -> Cond:
    if op == "is_set":
        return column.is_not(None)
    if op == "is_not_set":
        return column.is_(None)
    if op == "within_last_days":
        window = R.days(value, vpath)
        return and_(column >= ctx.now - timedelta(days=window), column <= ctx.now)
    if op == "birthday_within_days":
        return P.birthday(column, R.whole_days(value, vpath), ctx.now, ctx.zone)
    if kind == "tier":
        return _tier(column, op, value, vpath)
    if op in ("in", "not_in"):
        values = [
            R.scalar(kind, v, f"{vpath}[{i}]", name)
            for i, v in enumerate(R.value_list(value, vpath))
        ]
        if not values:
            return false() if op == "in" else column.is_not(None)
        if kind == "number":
            values = [P.num(v) for v in values]
        return column.in_(values) if op == "in" else column.not_in(values)
    if op == "between":
        low, high = R.pair(value, vpath)
        low = R.scalar(kind, low, f"{vpath}[0]", name)
        high = R.scalar(kind, high, f"{vpath}[1]", name)
        ordered = ByteOrder(column) if kind == "text" else column
        return and_(ordered >= P.num(low), ordered <= P.num(high))
    v = R.scalar(kind, value, vpath, name)
    if op in R.TEXT_OPS:
        return P.text_match(column, op, v)
    ordered = ByteOrder(column) if kind == "text" and op in R.ORDER_OPS else column
    return P.binary(ordered, op, v)


def _score(attr: str, kind: str, name: str, op: str, value: Any, vpath: str, ctx: Context) -> Cond:
    """A condition on contact_scores as a semi-join (EXISTS), which PostgreSQL runs as one hash
    join; members without a scores row match nothing but ``is_not_set`` (false and NULL
    are alike here: ``not`` is compiled as IS NOT TRUE)."""
    column = getattr(ContactScore, attr)
    mine = ContactScore.contact_id == Contact.id
    if op == "is_not_set":
        return exists(select(ContactScore.contact_id).where(mine, column.is_not(None))).is_not(
            true()
        )
    inner = _compare(column, kind, name, op, value, vpath, ctx)
    return exists(select(ContactScore.contact_id).where(mine, inner))


def _tier(column: Any, op: str, value: Any, vpath: str) -> Cond:
    if op in ("in", "not_in"):
        values = [
            R.scalar("tier", v, f"{vpath}[{i}]") for i, v in enumerate(R.value_list(value, vpath))
        ]
        if not values:
            return false() if op == "in" else true()
        return column.in_(values) if op == "in" else column.not_in(values)
    if op == "between":
        low, high = (
            R.scalar("tier", v, f"{vpath}[{i}]") for i, v in enumerate(R.pair(value, vpath))
        )
        chosen = [t for t in TIERS if TIERS.index(low) <= TIERS.index(t) <= TIERS.index(high)]
        return column.in_(chosen) if chosen else false()
    rank = TIERS.index(R.scalar("tier", value, vpath))
    keep = {
        "eq": lambda i: i == rank,
        "ne": lambda i: i != rank,
        "lt": lambda i: i < rank,
        "lte": lambda i: i <= rank,
        "gt": lambda i: i > rank,
        "gte": lambda i: i >= rank,
    }[op]
    chosen = [t for i, t in enumerate(TIERS) if keep(i)]
    if len(chosen) == 1:
        return column == chosen[0]
    return column.in_(chosen) if chosen else false()


def _consent(channel: str, op: str, value: Any, path: str) -> Cond:
    base = [Consent.contact_id == Contact.id, Consent.channel == channel]
    if op in ("is_set", "is_not_set"):
        found = exists(select(Consent.contact_id).where(*base))
        return found if op == "is_set" else found.is_not(true())
    if op not in ("eq", "ne"):
        raise R.invalid(f"{path}.op", f"operator {op!r} does not apply to consent.{channel}")
    if not isinstance(value, bool):
        raise R.invalid(f"{path}.value", "must be true or false")
    wanted = value if op == "eq" else not value
    return exists(select(Consent.contact_id).where(*base, Consent.granted.is_(wanted)))
