"""Behaviour data in and out: order lines from signed shop webhooks (once, whatever the
redeliveries), points lots, RFM scores and groups recomputed set-based (checked against a plain
Python twin), the order-content and RFM segment conditions, and the member's API shape."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text
from standardwebhooks import Webhook

from herald.audiences import rfm, segments
from herald.audiences.models import Contact, ContactScore, Event, OrderItem, PointsLot
from herald.core import clock
from herald.core.db import Database
from herald.core.errors import ValidationError
from tests.conftest import make_settings

SECRET = "whsec_" + base64.b64encode(b"a shop webhook key of 32 bytes!!").decode()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Any:
    return make_settings(tmp_path, database_url, shop_webhook_secret=SECRET)


def _send(client, body: Any, webhook_id: str):  # type: ignore[no-untyped-def]
    raw = json.dumps(body)
    moment = datetime.fromtimestamp(time.time(), UTC)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(webhook_id, moment, raw),
        "content-type": "application/json",
    }
    return client.post("/webhooks/shop", data=raw, headers=headers)


def _order(order_id: str, customer: str, total: str, items: list, days_ago: float = 1) -> dict:  # type: ignore[type-arg]
    placed = (clock.now() - timedelta(days=days_ago)).isoformat()
    order = {
        "id": order_id,
        "customer_external_id": customer,
        "total": total,
        "currency": "CNY",
        "placed_at": placed,
        "items": items,
    }
    return {"type": "order.placed", "data": {"order": order}}


TEA = {"sku": "TEA-1", "name": "Longjing", "category": "tea", "qty": 2, "price": "60.00"}
MUG = {"sku": "MUG-1", "name": "Mug", "category": "cups", "qty": 1, "price": "30.00"}


def test_order_lines_are_kept_once_whatever_the_redeliveries(client, db):  # type: ignore[no-untyped-def]
    body = _order("o-1", "ann", "150.00", [TEA, MUG, {"sku": "GIFT", "price": 0}])
    assert _send(client, body, "w1").status_code == 200
    assert _send(client, body, "w1").status_code == 200  # the same webhook again
    assert _send(client, body, "w2").status_code == 200  # the same order, a new webhook id
    with db.session() as session:
        rows = session.execute(
            select(
                OrderItem.line, OrderItem.sku, OrderItem.category, OrderItem.qty, OrderItem.price
            ).order_by(OrderItem.line)
        ).all()
        assert rows == [
            (1, "TEA-1", "tea", 2, Decimal("60.00")),
            (2, "MUG-1", "cups", 1, Decimal("30.00")),
            (3, "GIFT", None, 1, Decimal("0.00")),
        ]
        contact = session.scalar(select(Contact).where(Contact.external_id == "ann"))
        assert contact.orders_count == 1
        event_id = session.scalar(select(Event.id).where(Event.type == "order.placed"))
        assert set(session.scalars(select(OrderItem.event_id))) == {event_id}
        assert set(session.scalars(select(OrderItem.contact_id))) == {contact.id}


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"sku": "A", "qty": "two"}], "data.order.items[0].qty"),
        ([{"sku": "A"}, {"sku": "B", "price": "cheap"}], "data.order.items[1].price"),
        ([{"sku": {"no": 1}}], "data.order.items[0].sku"),
    ],
)
def test_a_bad_order_line_is_a_422_naming_it_and_nothing_is_stored(client, db, items, field):  # type: ignore[no-untyped-def]
    answer = _send(client, _order("o-9", "bob", "10", items), "bad")
    assert answer.status_code == 422
    assert field in answer.json["error"]["fields"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_points_lots_give_the_nearest_expiry_and_a_bad_lot_is_named(client, db):  # type: ignore[no-untyped-def]
    lots = [
        {"points": 300, "expires_at": "2030-06-30"},
        {"points": 800, "expires_at": "2030-01-31"},
        {"points": 50, "expires_at": "2030-01-31T10:00:00+08:00"},
    ]
    body = {
        "type": "points.changed",
        "data": {"customer_external_id": "ann", "points": 1150, "expiring": lots},
    }
    assert _send(client, body, "p1").status_code == 200
    with db.session() as session:
        ann = session.scalar(select(Contact).where(Contact.external_id == "ann"))
        assert (ann.points_expiring, ann.points_expire_at) == (850, date(2030, 1, 31))
    bad = {
        "type": "points.changed",
        "data": {
            "customer_external_id": "ann",
            "points": 1,
            "expiring": [{"points": 5, "expires_at": "soon"}],
        },
    }
    answer = _send(client, bad, "p2")
    assert answer.status_code == 422
    assert "data.expiring[0].expires_at" in answer.json["error"]["fields"]
    cleared = {"type": "points.changed", "data": {**body["data"], "expiring": []}}
    assert _send(client, cleared, "p3").status_code == 200
    with db.session() as session:
        ann = session.scalar(select(Contact).where(Contact.external_id == "ann"))
        assert (ann.points_expiring, ann.points_expire_at) == (None, None)
        assert session.scalar(select(func.count()).select_from(PointsLot)) == 0


# ------------------------------------------------------------------------------------- RFM


def _twin_scores(values: list[Any]) -> list[int]:
    """1 + floor(5 (rank - 1) / n), rank = 1 + how many values are lower (ties share it)."""
    n = len(values)
    return [1 + 5 * sum(1 for w in values if w < v) // n for v in values]


def _seed(db: Database, members: list[tuple[int, int, int] | None]) -> list[int]:
    now = datetime(2026, 11, 11, tzinfo=UTC)
    ids = []
    with db.session() as session:
        session.execute(delete(ContactScore))
        session.execute(delete(OrderItem))
        session.execute(delete(Event))
        session.execute(delete(Contact))
        for i, m in enumerate(members):
            fields: dict[str, Any] = {"email": f"m{i}@shop.cn", "referral_code": f"T{i:04d}"}
            if m is not None:
                days, count, spent = m
                fields.update(
                    last_order_at=now - timedelta(days=days),
                    orders_count=count,
                    total_spent=Decimal(spent),
                )
            contact = Contact(attributes={}, **fields)
            session.add(contact)
            session.flush()
            ids.append(contact.id)
        session.commit()
    return ids


member_st = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 400), st.integers(1, 6), st.sampled_from([10, 99, 100, 500, 2000])),
)


@examples(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(members=st.lists(member_st, min_size=1, max_size=14))
def test_rfm_scores_are_quintiles_ties_kept_together(db, members):  # type: ignore[no-untyped-def]
    ids = _seed(db, members)
    with db.session() as session:
        rfm.recompute(session)
        session.commit()
        got = {
            c.id: (c.rfm_recency, c.rfm_frequency, c.rfm_monetary, c.rfm_group)
            for c in session.scalars(select(Contact))
        }
    buyers = [(cid, m) for cid, m in zip(ids, members, strict=True) if m is not None]
    recency = _twin_scores([-m[0] for _, m in buyers])  # fewer days ago: more recent
    frequency = _twin_scores([m[1] for _, m in buyers])
    monetary = _twin_scores([m[2] for _, m in buyers])
    expected = {cid: (None, None, None, None) for cid in ids}
    for i, (cid, _) in enumerate(buyers):
        scores = (recency[i], frequency[i], monetary[i])
        expected[cid] = (*scores, rfm.group_of(*scores))
    assert got == expected


def test_the_sql_groups_are_the_pure_functions(db):  # type: ignore[no-untyped-def]
    combos = [(r, f, m) for r in rfm.SCORES for f in rfm.SCORES for m in rfm.SCORES]
    values = ", ".join(f"({r}, {f}, {m})" for r, f, m in combos)
    case = rfm.group_case("r", "f", "m")
    sql = f"WITH s(r, f, m) AS (VALUES {values}) SELECT r, f, m, {case} FROM s"
    with db.session() as session:
        got = {(r, f, m): g for r, f, m, g in session.execute(text(sql))}
    assert got == {c: rfm.group_of(*c) for c in combos}
    assert set(got.values()) == set(rfm.GROUPS)  # every group is reachable


def test_a_recompute_replaces_the_scores_and_leaves_erased_members_out(db):  # type: ignore[no-untyped-def]
    ids = _seed(db, [(1, 5, 2000), (300, 1, 10), None])
    with db.session() as session:
        first = rfm.recompute(session)
        session.commit()
        assert (first.removed, first.scored) == (0, 2)
        assert session.get(Contact, ids[0]).rfm_group == "loyal"  # 3, 3, 3: the top of two buyers
        again = rfm.recompute(session)
        assert (again.removed, again.scored) == (2, 2)
        erased = session.get(Contact, ids[0])
        erased.erased_at = clock.now()
        session.commit()
        assert rfm.recompute(session).scored == 1
        session.commit()
        assert session.get(Contact, ids[0]).rfm_group is None
        assert session.get(Contact, ids[1]).rfm_recency == 1


# ------------------------------------------------------------------------- segment rules


def test_bought_tea_spent_and_rfm_conditions(client, db):  # type: ignore[no-untyped-def]
    _send(client, _order("o-1", "ann", "150.00", [TEA, MUG], days_ago=5), "a1")
    _send(client, _order("o-2", "bob", "30.00", [MUG], days_ago=10), "b1")
    _send(client, _order("o-3", "cy", "120.00", [TEA], days_ago=200), "c1")
    _send(client, _order("o-4", "bob", "480.00", [MUG], days_ago=20), "b2")
    _send(client, _order("o-5", "bob", "40.00", [MUG], days_ago=100), "b3")
    with db.session() as session:
        rfm.recompute(session)
        session.commit()

    def who(rules: dict[str, Any]) -> list[str]:
        with db.session() as session:
            ids = session.scalars(segments.members(rules)).all()
            return sorted(session.scalars(select(Contact.external_id).where(Contact.id.in_(ids))))

    tea90 = {"event": "order.placed", "within_days": 90, "category": "tea"}
    assert who(tea90) == ["ann"]
    assert who({"event": "order.placed", "category": "tea"}) == ["ann", "cy"]
    assert who({"event": "order.placed", "sku": "MUG-1", "min_total": 100}) == ["ann", "bob"]
    assert who({"event": "order.placed", "sku": "MUG-1", "min_count": 2}) == ["bob"]
    spent = {"event": "order.placed", "within_days": 90, "min_spent": 500}
    assert who(spent) == ["bob"]  # 30 + 480 this quarter; the 40 is older
    assert who({**spent, "min_spent": 511}) == []
    assert who({"field": "favourite_category", "op": "eq", "value": "cups"}) == ["bob"]
    # three buyers: recency ranks cy, bob, ann → 1, 2, 4; frequency 1, 1, 4 (bob);
    # monetary 1 (cy 120), 2 (ann 150), 4 (bob 550)
    assert who({"field": "rfm.group", "op": "in", "value": ["cant_lose"]}) == ["bob"]
    assert who({"field": "rfm.group", "op": "eq", "value": "new"}) == ["ann"]
    assert who({"field": "rfm.group", "op": "eq", "value": "lost"}) == ["cy"]
    assert who({"field": "rfm.recency", "op": "gte", "value": 4}) == ["ann"]
    assert who({"field": "rfm.monetary", "op": "between", "value": [2, 5]}) == ["ann", "bob"]
    assert who({"not": {"field": "rfm.frequency", "op": "is_set"}}) == []


@pytest.mark.parametrize(
    ("rules", "place", "words"),
    [
        ({"event": "order.placed", "colour": "red"}, "rules", "'colour'"),
        ({"event": "cart.abandoned", "sku": "A"}, "rules.sku", "only applies to order.placed"),
        ({"event": "order.placed", "min_total": -1}, "rules.min_total", "0 or more"),
        ({"event": "order.placed", "category": ""}, "rules.category", "text"),
        ({"field": "rfm.group", "op": "eq", "value": "vip"}, "rules.value", "unknown RFM group"),
        ({"field": "rfm.score", "op": "eq", "value": 1}, "rules.field", "'rfm.score'"),
        ({"field": "points_expire_at", "op": "birthday_within_days", "value": 3}, "rules.op", ""),
    ],
)
def test_bad_behaviour_rules_are_a_422_naming_the_key(rules, place, words):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        segments.validate(rules)
    assert place in caught.value.fields
    assert words in caught.value.message


def test_the_member_api_shows_behaviour(client, db, auth):  # type: ignore[no-untyped-def]
    _send(client, _order("o-1", "ann", "150.00", [TEA], days_ago=3), "a1")
    lots = [{"points": 80, "expires_at": "2031-01-31"}]
    body = {"type": "points.changed", "data": {"customer_external_id": "ann", "points": 80}}
    body["data"]["expiring"] = lots
    _send(client, body, "a2")
    with db.session() as session:
        rfm.recompute(session)
        session.commit()
        ann_id = session.scalar(select(Contact.id).where(Contact.external_id == "ann"))
    got = client.get(f"/api/v1/contacts/{ann_id}", headers=auth).json
    # the only buyer ranks first of one: the lowest quintile, as NTILE(5) would put it
    assert got["rfm"] == {"recency": 1, "frequency": 1, "monetary": 1, "group": "lost"}
    assert got["favourite_category"] == "tea"
    assert got["points_expiring"] == 80 and got["points_expire_at"] == "2031-01-31"
    assert len(got["referral_code"]) == 11 and got["referred_by_id"] is None
