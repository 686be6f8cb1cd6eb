"""Segment rules: the contract's examples, the 422s, and the edges (missing values, tiers,
birthdays across Feb 29 and the year's end, zones)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from herald.audiences import segments
from herald.audiences.models import Contact, Event
from herald.core.db import Database
from herald.core.errors import ValidationError

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _add(db: Database, **fields: Any) -> int:
    with db.session() as session:
        contact = Contact(attributes=fields.pop("attributes", {}), **fields)
        session.add(contact)
        session.flush()
        return contact.id


def _ids(db: Database, rules: dict[str, Any], now: datetime = NOW, zone: str = "UTC") -> set[int]:
    with db.session() as session:
        return set(session.scalars(segments.members(rules, now=now, zone=zone)))


def test_the_contract_example_compiles_to_one_query(db: Database) -> None:
    hit = _add(
        db,
        email="li@shop.cn",
        tier="gold",
        points=800,
        birthday=date(1990, 11, 27),
        attributes={"city": "Hangzhou"},
    )
    _add(db, email="x@example.com", tier="platinum", points=900, birthday=date(1990, 11, 27))
    with db.session() as session:
        session.add(Event(contact_id=hit, type="order.placed", occurred_at=NOW - timedelta(days=3)))
    rules = {
        "all": [
            {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
            {"field": "points", "op": "gt", "value": 500},
            {
                "any": [
                    {"field": "attributes.city", "op": "eq", "value": "Hangzhou"},
                    {"not": {"field": "email", "op": "ends_with", "value": "@example.com"}},
                ]
            },
            {"event": "order.placed", "within_days": 30, "min_count": 1},
            {"field": "birthday", "op": "birthday_within_days", "value": 7},
        ]
    }
    assert _ids(db, rules) == {hit}


def test_tiers_are_ordered(db: Database) -> None:
    ids = {t: _add(db, email=f"{t}@x.cn", tier=t) for t in ("new", "silver", "gold", "platinum")}
    assert _ids(db, {"field": "tier", "op": "gte", "value": "silver"}) == {
        ids["silver"],
        ids["gold"],
        ids["platinum"],
    }
    assert _ids(db, {"field": "tier", "op": "lt", "value": "silver"}) == {ids["new"]}


def test_a_condition_on_a_missing_value_is_false_and_its_not_is_true(db: Database) -> None:
    blank = _add(db, email="a@x.cn")
    berlin = _add(db, email="b@x.cn", attributes={"city": "Berlin"})
    rule = {"field": "attributes.city", "op": "ne", "value": "Hangzhou"}
    assert _ids(db, rule) == {berlin}
    assert _ids(db, {"not": rule}) == {blank}
    assert _ids(db, {"not": {"field": "first_name", "op": "eq", "value": "x"}}) == {blank, berlin}


def test_numbers_in_attributes_compare_as_numbers(db: Database) -> None:
    nine = _add(db, email="a@x.cn", attributes={"n": 9})
    _add(db, email="b@x.cn", attributes={"n": 10})
    _add(db, email="c@x.cn", attributes={"n": "9"})
    assert _ids(db, {"field": "attributes.n", "op": "lt", "value": 9.5}) == {nine}


@pytest.mark.parametrize(
    ("now", "birthday", "days", "hit"),
    [
        (datetime(2027, 2, 27, 12, tzinfo=UTC), date(2000, 2, 29), 1, True),  # no Feb 29 in 2027
        (datetime(2028, 2, 28, 12, tzinfo=UTC), date(2000, 2, 29), 0, False),  # 2028 has one
        (datetime(2028, 2, 28, 12, tzinfo=UTC), date(2000, 2, 29), 1, True),
        (datetime(2026, 12, 30, 12, tzinfo=UTC), date(1990, 1, 2), 3, True),  # year wrap
        (datetime(2026, 12, 30, 12, tzinfo=UTC), date(1990, 1, 3), 3, False),
        (datetime(2026, 5, 17, 0, tzinfo=UTC), date(1990, 5, 17), 0, True),  # today included
    ],
)
def test_birthday_within_days(
    db: Database, now: datetime, birthday: date, days: int, hit: bool
) -> None:
    cid = _add(db, email="a@x.cn", birthday=birthday)
    rule = {"field": "birthday", "op": "birthday_within_days", "value": days}
    assert _ids(db, rule, now) == ({cid} if hit else set())


def test_birthdays_use_the_members_zone(db: Database) -> None:
    # 20:00 UTC on 16 May is already 17 May in Shanghai
    now = datetime(2026, 5, 16, 20, tzinfo=UTC)
    shanghai = _add(db, email="a@x.cn", birthday=date(1990, 5, 17), timezone="Asia/Shanghai")
    _add(db, email="b@x.cn", birthday=date(1990, 5, 17), timezone="Europe/London")
    rule = {"field": "birthday", "op": "birthday_within_days", "value": 0}
    assert _ids(db, rule, now) == {shanghai}


@pytest.mark.parametrize(
    ("rules", "where"),
    [
        ({"field": "shoe_size", "op": "eq", "value": 1}, "rules.field"),
        ({"field": "points", "op": "about", "value": 1}, "rules.op"),
        ({"all": [{"field": "tier", "op": "eq", "value": "diamond"}]}, "rules.all[0].value"),
        ({"event": "order.refunded"}, "rules.event"),
        ({"field": "consent.fax", "op": "eq", "value": True}, "rules.field"),
        ({"field": "points", "op": "contains", "value": "1"}, "rules.op"),
        ({"field": "points", "op": "gt"}, "rules.value"),
    ],
)
def test_unknown_fields_and_operators_are_named(rules: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        segments.validate(rules)
    assert where in caught.value.fields
    assert caught.value.status == 422
