"""Property test: for random members and random rules, the one SQL query finds exactly the
members the plain-Python twin finds, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from herald.audiences import segments
from herald.audiences.models import (
    Consent,
    Contact,
    ContactList,
    ContactScore,
    Event,
    ListMember,
    OrderItem,
)
from herald.audiences.rfm import GROUPS, group_of
from herald.core.db import Database
from tests.audiences.twin import TIERS, Member, matches

NOWS = [
    datetime(2026, 2, 27, 23, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 10, 0, tzinfo=UTC),
    datetime(2028, 2, 28, 12, 0, tzinfo=UTC),
    datetime(2026, 6, 15, 3, 0, tzinfo=UTC),
]
TEXTS = ["Ann", "ann", "ANNA", "Bob", "李雷", "韩梅梅", "", "a_b", "50%", "Zed"]
ZONES = [None, "UTC", "Asia/Shanghai", "America/Los_Angeles", "Pacific/Kiritimati"]
BIRTHDAYS = [
    None,
    date(2000, 2, 29),
    date(1990, 2, 28),
    date(1990, 3, 1),
    date(1985, 12, 31),
    date(1985, 1, 1),
    date(1985, 1, 3),
    date(1999, 6, 15),
    date(1999, 6, 16),
]
ATTR_VALUES = ["Hangzhou", "hangzhou", "Beijing", 1, 2.5, 10, "10", True, False, None]
EVENT_TYPES = ["order.placed", "cart.abandoned", "email.opened", "email.clicked"]
HOURS = [1, 20, 23, 25, 24 * 6, 24 * 8, 24 * 31, 24 * 400]
SKUS = ["TEA-1", "TEA-2", "MUG-1"]
CATEGORIES = ["tea", "cups", None]
TOTALS = [Decimal("0"), Decimal("50"), Decimal("99.5"), Decimal("100"), Decimal("250")]
line_st = st.tuples(st.sampled_from(SKUS), st.sampled_from(CATEGORIES))
order_st = st.tuples(st.sampled_from(TOTALS), st.lists(line_st, max_size=3))

member_st = st.fixed_dictionaries(
    {
        "first_name": st.sampled_from([None, *TEXTS]),
        "email_user": st.sampled_from([None, "ann", "bob", "Li"]),
        "email_domain": st.sampled_from(["example.com", "shop.cn"]),
        "tier": st.sampled_from(TIERS),
        "points": st.sampled_from([0, 100, 500, 501, 1000]),
        "orders_count": st.sampled_from([0, 1, 2, 5]),
        "total_spent": st.sampled_from([Decimal("0"), Decimal("99.50"), Decimal("500.00")]),
        "birthday": st.sampled_from(BIRTHDAYS),
        "timezone": st.sampled_from(ZONES),
        "last_order_hours": st.sampled_from([None, *HOURS]),
        "attributes": st.dictionaries(
            st.sampled_from(["city", "n", "vip"]), st.sampled_from(ATTR_VALUES), max_size=3
        ),
        "consent": st.dictionaries(st.sampled_from(["email", "sms"]), st.booleans(), max_size=2),
        "lists": st.sets(st.sampled_from([1, 2]), max_size=2),
        "events": st.lists(
            st.tuples(
                st.sampled_from(EVENT_TYPES),
                st.sampled_from(HOURS),
                st.sampled_from([None, 1, 2]),
                st.booleans(),
                order_st,
            ),
            max_size=4,
        ),
        "rfm": st.one_of(st.none(), st.tuples(*[st.integers(1, 5)] * 3)),
        "favourite_category": st.sampled_from([None, "tea", "cups"]),
        "expiring": st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from([100, 800]),
                st.sampled_from([date(2026, 12, 31), date(2027, 1, 31)]),
            ),
        ),
    }
)

FIELD_VALUES: dict[str, Any] = {
    "first_name": st.sampled_from(TEXTS),
    "email": st.sampled_from(["ann0@example.com", "@example.com", "ANN", "shop.cn", "b"]),
    "tier": st.sampled_from(TIERS),
    "points": st.sampled_from([0, 100, 500, 500.5, 1000]),
    "orders_count": st.sampled_from([0, 1, 2, 3]),
    "total_spent": st.sampled_from([0, 99.5, 100, 500]),
    "timezone": st.sampled_from(["UTC", "Asia/Shanghai"]),
    "rfm.recency": st.integers(1, 5),
    "rfm.monetary": st.integers(1, 5),
    "rfm.group": st.sampled_from(GROUPS),
    "favourite_category": st.sampled_from(["tea", "cups", "Tea"]),
    "points_expiring": st.sampled_from([100, 500, 800]),
}
ORDER_OPS = ["eq", "ne", "lt", "lte", "gt", "gte"]


@st.composite
def leaf(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["field", "field", "attr", "consent", "event", "date", "list"]))
    if kind == "field":
        name = draw(st.sampled_from(sorted(FIELD_VALUES)))
        values = FIELD_VALUES[name]
        ops = [*ORDER_OPS, "in", "not_in", "between", "is_set", "is_not_set"]
        if name in ("first_name", "email", "timezone", "favourite_category"):
            ops += ["contains", "starts_with", "ends_with"]
        if name == "rfm.group":
            ops = ["eq", "ne", "in", "not_in", "is_set", "is_not_set"]
        op = draw(st.sampled_from(ops))
        return _with_value(draw, name, op, values)
    if kind == "attr":
        name = "attributes." + draw(st.sampled_from(["city", "n", "vip"]))
        op = draw(
            st.sampled_from(
                [*ORDER_OPS, "in", "not_in", "is_set", "is_not_set", "contains", "between"]
            )
        )
        if op == "contains":
            return {"field": name, "op": op, "value": draw(st.sampled_from(["hang", "ZHOU", "1"]))}
        if op == "between":
            return {"field": name, "op": op, "value": draw(st.sampled_from([[1, 10], ["B", "i"]]))}
        plain = [
            v
            for v in ATTR_VALUES
            if v is not None and (op in ("eq", "ne", "in", "not_in") or not isinstance(v, bool))
        ]
        return _with_value(draw, name, op, st.sampled_from(plain))
    if kind == "consent":
        name = "consent." + draw(st.sampled_from(["email", "sms"]))
        op = draw(st.sampled_from(["eq", "ne", "is_set", "is_not_set"]))
        return _with_value(draw, name, op, st.booleans())
    if kind == "event":
        rule: dict[str, Any] = {"event": draw(st.sampled_from(EVENT_TYPES))}
        if draw(st.booleans()):
            rule["within_days"] = draw(st.sampled_from([1, 7, 30, 0.5]))
        if draw(st.booleans()):
            rule["min_count"] = draw(st.sampled_from([1, 2, 3]))
        if rule["event"] == "order.placed":
            for key, values in (
                ("sku", SKUS),
                ("category", ["tea", "cups"]),
                ("min_total", [50, 99.5, 100, 200]),
                ("min_spent", [0, 100, 149.5, 300]),
            ):
                if draw(st.booleans()):
                    rule[key] = draw(st.sampled_from(values))
        elif draw(st.booleans()):
            rule["campaign_id"] = draw(st.sampled_from([1, 2]))
        return rule
    if kind == "list":
        return {"list": draw(st.sampled_from([1, 2, 3]))}
    name = draw(st.sampled_from(["birthday", "last_order_at", "points_expire_at"]))
    if name == "points_expire_at":
        op = draw(st.sampled_from(["eq", "lte", "between", "is_set", "is_not_set"]))
        days = st.sampled_from(["2026-12-31", "2027-01-01", "2027-01-31"])
        return _with_value(draw, name, op, days)
    if name == "birthday":
        op = draw(st.sampled_from(["birthday_within_days", "birthday_within_days", "lt", "is_set"]))
        if op == "birthday_within_days":
            return {"field": name, "op": op, "value": draw(st.sampled_from([0, 1, 2, 7, 30, 365]))}
        return _with_value(draw, name, op, st.sampled_from(["1990-01-01", "1999-06-15"]))
    op = draw(st.sampled_from(["within_last_days", "gt", "is_not_set"]))
    if op == "within_last_days":
        return {"field": name, "op": op, "value": draw(st.sampled_from([1, 7, 30, 0.5]))}
    return _with_value(draw, name, op, st.sampled_from(["2026-01-01T00:00:00+00:00"]))


def _with_value(draw: st.DrawFn, name: str, op: str, values: Any) -> dict[str, Any]:
    if op in ("is_set", "is_not_set"):
        return {"field": name, "op": op}
    if op in ("in", "not_in"):
        return {"field": name, "op": op, "value": draw(st.lists(values, max_size=3))}
    if op == "between":
        low, high = draw(values), draw(values)
        return {"field": name, "op": op, "value": [low, high]}
    return {"field": name, "op": op, "value": draw(values)}


rules_st = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)


def _store(db: Database, drafts: list[dict[str, Any]], now: datetime) -> dict[int, Member]:
    twins: dict[int, Member] = {}
    with db.session() as session:
        for model in (
            ContactScore,
            OrderItem,
            ListMember,
            ContactList,
            Event,
            Consent,
            Contact,
        ):
            session.execute(delete(model))
        session.add_all([ContactList(id=1, name="one"), ContactList(id=2, name="two")])
        for i, d in enumerate(drafts):
            fields = {
                k: d[k]
                for k in (
                    "first_name",
                    "tier",
                    "points",
                    "orders_count",
                    "total_spent",
                    "birthday",
                    "timezone",
                )
            }
            fields["email"] = (
                f"{d['email_user']}{i}@{d['email_domain']}".lower() if d["email_user"] else None
            )
            hours = d["last_order_hours"]
            fields["last_order_at"] = None if hours is None else now - timedelta(hours=hours)
            attributes = {k: v for k, v in d["attributes"].items()}
            scores = d["rfm"] or (None, None, None)
            group = group_of(*d["rfm"]) if d["rfm"] else None
            points, expires = d["expiring"] or (None, None)
            contact = Contact(
                id=i + 1,
                attributes=attributes,
                points_expiring=points,
                points_expire_at=expires,
                **fields,
            )
            session.add(contact)
            session.flush()
            if d["rfm"]:
                session.add(
                    ContactScore(
                        contact_id=contact.id,
                        rfm_recency=scores[0],
                        rfm_frequency=scores[1],
                        rfm_monetary=scores[2],
                        rfm_group=group,
                        favourite_category=d["favourite_category"],
                    )
                )
            derived = {
                "rfm.recency": scores[0],
                "rfm.frequency": scores[1],
                "rfm.monetary": scores[2],
                "rfm.group": group,
                "favourite_category": d["favourite_category"] if d["rfm"] else None,
                "points_expiring": points,
                "points_expire_at": expires,
            }
            for channel, granted in d["consent"].items():
                session.add(Consent(contact_id=contact.id, channel=channel, granted=granted))
            for list_id in d["lists"]:
                session.add(ListMember(list_id=list_id, contact_id=contact.id))
            events = []
            for kind, ago, campaign_id, machine, (total, lines) in d["events"]:
                at = now - timedelta(hours=ago)
                is_order = kind == "order.placed"
                stored = Event(
                    contact_id=contact.id,
                    type=kind,
                    occurred_at=at,
                    campaign_id=campaign_id,
                    machine=machine,
                    data={"total": float(total)} if is_order else {},
                )
                session.add(stored)
                session.flush()
                for line, (sku, category) in enumerate(lines if is_order else [], start=1):
                    session.add(
                        OrderItem(
                            event_id=stored.id,
                            line=line,
                            contact_id=contact.id,
                            order_id=str(stored.id),
                            sku=sku,
                            category=category,
                            qty=1,
                            price=total,
                            placed_at=at,
                        )
                    )
                order = (total, lines) if is_order else None
                events.append((kind, at, campaign_id, machine, order))
            twins[contact.id] = Member(
                fields={**fields, **derived},
                attributes={k: v for k, v in attributes.items() if v is not None},
                consent=dict(d["consent"]),
                lists=set(d["lists"]),
                events=events,
            )
    return twins


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drafts=st.lists(member_st, max_size=6),
    rules=rules_st,
    now=st.sampled_from(NOWS),
    zone=st.sampled_from(["UTC", "Asia/Shanghai"]),
)
def test_the_query_finds_what_the_twin_finds(
    db: Database, drafts: list[dict[str, Any]], rules: dict[str, Any], now: datetime, zone: str
) -> None:
    twins = _store(db, drafts, now)
    with db.session() as session:
        found = set(session.scalars(segments.members(rules, now=now, zone=zone)))
    expected = {cid for cid, m in twins.items() if matches(rules, m, now, zone)}
    event(f"found {min(len(found), 3)}")
    assert found == expected, rules
