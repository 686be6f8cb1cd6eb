"""POST /webhooks/shop: Standard Webhooks signatures, once-only delivery, member effects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from standardwebhooks import Webhook

from herald.audiences import suppression
from herald.audiences.models import Contact, Event, WebhookInbox
from herald.core.db import Database
from herald.core.settings import Settings
from tests.conftest import make_settings

KEY = b"a shop webhook key of 32 bytes!!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, shop_webhook_secret=SECRET)


def _send(
    client: FlaskClient,
    body: Any,
    webhook_id: str = "msg_1",
    *,
    at: float | None = None,
    secret: str = SECRET,
) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    moment = datetime.fromtimestamp(at if at is not None else time.time(), UTC)
    signature = Webhook(secret).sign(webhook_id, moment, raw)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return client.post("/webhooks/shop", data=raw, headers=headers)


def _customer(**extra: Any) -> dict[str, Any]:
    customer = {"external_id": "cust-1", "email": "Ann@Example.com", "first_name": "Ann"}
    return {"type": "customer.created", "data": {"customer": {**customer, **extra}}}


def _order(order_id: str = "o-1", total: str = "120.50") -> dict[str, Any]:
    order = {
        "id": order_id,
        "customer_external_id": "cust-1",
        "total": total,
        "currency": "CNY",
        "coupon_code": "GOLD15",
        "placed_at": "2026-11-11T10:00:00+08:00",
        "items": [{"sku": "A1", "name": "Tea", "qty": 2, "price": "60.25"}],
    }
    return {"type": "order.placed", "data": {"order": order}}


def _one(db: Database) -> Contact:
    with db.session() as session:
        found = session.scalar(select(Contact).where(Contact.external_id == "cust-1"))
        assert found is not None
        return found


def test_customer_and_order_webhooks_update_the_member(client: FlaskClient, db: Database) -> None:
    assert _send(client, _customer(consent={"email": True}), "m1").status_code == 200
    answer = _send(client, _order(), "m2")
    assert answer.status_code == 200 and answer.json["status"] == "accepted"
    member = _one(db)
    assert member.email == "ann@example.com" and member.consent_for("email")
    assert member.orders_count == 1 and float(member.total_spent) == 120.5
    assert member.last_order_at == datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
    with db.session() as session:
        event = session.scalar(select(Event).where(Event.type == "order.placed"))
        assert event is not None and event.contact_id == member.id
        assert event.data["coupon_code"] == "GOLD15" and event.data["order_id"] == "o-1"
        assert event.data["items"][0]["sku"] == "A1"
    _send(
        client,
        {
            "type": "points.changed",
            "data": {"customer_external_id": "cust-1", "points": 800, "previous": 10},
        },
        "m3",
    )
    _send(
        client,
        {
            "type": "tier.changed",
            "data": {"customer_external_id": "cust-1", "tier": "gold", "previous": "silver"},
        },
        "m4",
    )
    cart = {
        "id": "c9",
        "customer_external_id": "cust-1",
        "total": 30,
        "url": "https://shop/c9",
        "items": [],
    }
    assert (
        _send(client, {"type": "cart.abandoned", "data": {"cart": cart}}, "m5").status_code == 200
    )
    member = _one(db)
    assert (member.points, member.tier) == (800, "gold")
    with db.session() as session:
        kinds = set(session.scalars(select(Event.type)))
    assert {"cart.abandoned", "points.changed", "tier.changed"} <= kinds


def test_the_same_webhook_id_has_no_second_effect_whatever_its_body(
    client: FlaskClient, db: Database
) -> None:
    _send(client, _customer(), "m0")
    assert _send(client, _order(), "dup").status_code == 200
    again = _send(client, _order("o-2", "999"), "dup")
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert _send(client, "not json at all", "dup").status_code == 200
    assert _one(db).orders_count == 1
    # the same order under a new id is counted once too
    assert _send(client, _order(), "other").status_code == 200
    assert _one(db).orders_count == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookInbox)) == 3


def test_bad_signatures_and_stale_timestamps_are_refused(client: FlaskClient, db: Database) -> None:
    wrong = "whsec_" + base64.b64encode(b"another key of thirty-two bytes!").decode()
    assert _send(client, _customer(), secret=wrong).status_code == 401
    assert _send(client, _customer(), at=time.time() - 301).status_code == 401
    assert _send(client, _customer(), at=time.time() + 301).status_code == 401
    assert client.post("/webhooks/shop", json=_customer()).status_code == 401
    headers = {
        "webhook-id": "x",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1,???",
    }
    assert client.post("/webhooks/shop", data="{}", headers=headers).status_code == 401
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_signature_made_by_hand_per_the_contract_is_accepted(client: FlaskClient) -> None:
    raw = json.dumps(_customer())
    stamp = str(int(time.time()))
    mac = hmac.new(KEY, f"hand.{stamp}.{raw}".encode(), hashlib.sha256).digest()
    signature = "v1,bm90IGl0 v1," + base64.b64encode(mac).decode()
    headers = {"webhook-id": "hand", "webhook-timestamp": stamp, "webhook-signature": signature}
    assert client.post("/webhooks/shop", data=raw, headers=headers).status_code == 200


def test_unparseable_unknown_and_incomplete_bodies(client: FlaskClient, db: Database) -> None:
    assert _send(client, "{not json", "a").status_code == 400
    unknown = _send(client, {"type": "order.refunded", "data": {}}, "b")
    assert unknown.status_code == 422 and "type" in unknown.json["error"]["fields"]
    missing = _send(client, {"type": "order.placed", "data": {"order": {"id": "o"}}}, "c")
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) == {
        "data.order.customer_external_id",
        "data.order.total",
    }
    bad_zone = _send(client, _customer(timezone="Mars/Base"), "d")
    assert (
        bad_zone.status_code == 422 and "data.customer.timezone" in bad_zone.json["error"]["fields"]
    )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookInbox)) == 0


def test_a_webhook_cannot_regrant_consent_to_a_suppressed_address(
    client: FlaskClient, db: Database
) -> None:
    with db.session() as session:
        suppression.suppress(session, "email", "ann@example.com", "unsubscribe")
    _send(client, _customer(consent={"email": True}), "s1")
    _send(
        client,
        {"type": "customer.updated", "data": _customer(consent={"email": True})["data"]},
        "s2",
    )
    assert not _one(db).consent_for("email")


def test_erasure_blanks_the_stored_webhook_bodies(client: FlaskClient, db: Database) -> None:
    from herald.audiences import privacy

    _send(client, _customer(), "e1")
    _send(client, _order(), "e2")
    with db.session() as session:
        contact = session.scalar(select(Contact).where(Contact.external_id == "cust-1"))
        assert contact is not None
        privacy.erase(session, contact)
    with db.session() as session:
        payloads = list(session.scalars(select(WebhookInbox.payload)))
        assert payloads == [{"erased": True}, {"erased": True}]
        assert session.scalar(select(func.count()).select_from(Event)) == 2


def _order_with(**fields: Any) -> dict[str, Any]:
    body = _order()
    body["data"]["order"].update(fields)
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_order_with(total="1e400"), "data.order.total"),
        (_order_with(total=1e308), "data.order.total"),
        (_order_with(total="-50"), "data.order.total"),
        (_order_with(total=-50), "data.order.total"),
        (_order_with(total="99999999999999999999999"), "data.order.total"),
        (_order_with(total="Infinity"), "data.order.total"),
        (_order_with(total="NaN"), "data.order.total"),
        (_order_with(total=True), "data.order.total"),
        (_order_with(total=[1]), "data.order.total"),
        (_order_with(placed_at="0001-01-01T00:00:00+01:00"), "data.order.placed_at"),
        (_order_with(placed_at="1969-12-31T23:59:59Z"), "data.order.placed_at"),
        (_order_with(placed_at="3000-01-01T00:00:00Z"), "data.order.placed_at"),
        (_order_with(placed_at="9999-12-31T23:59:59-10:00"), "data.order.placed_at"),
        (_order_with(coupon_code=["GOLD15"]), "data.order.coupon_code"),
        (_order_with(coupon_code={"a": 1}), "data.order.coupon_code"),
        (_order_with(coupon_code=15), "data.order.coupon_code"),
        (_order_with(items="notalist"), "data.order.items"),
        (_order_with(items=[1, 2]), "data.order.items"),
        (_order_with(id={"x": 1}), "data.order.id"),
        (_order_with(id=True), "data.order.id"),
        (_order_with(customer_external_id=["c"]), "data.order.customer_external_id"),
        (_order_with(currency="CN\x00Y"), "data.order.currency"),
        (_order_with(items=[{"sku": "A\x001"}]), "data.order.items[0].sku"),
        (
            {
                "type": "cart.abandoned",
                "data": {"cart": {"id": "c1", "customer_external_id": "cust-1", "total": "1e400"}},
            },
            "data.cart.total",
        ),
        (
            {
                "type": "cart.abandoned",
                "data": {"cart": {"id": 1.5, "customer_external_id": "cust-1"}},
            },
            "data.cart.id",
        ),
        (_customer(external_id={"id": 1}), "data.customer.external_id"),
        (_customer(points=2**31), "data.customer.points"),
        (_customer(first_name="A\x00nn"), "data.customer.first_name"),
        (
            {"type": "points.changed", "data": {"customer_external_id": "cust-1", "points": 2**70}},
            "data.points",
        ),
    ],
)
def test_bad_amounts_times_ids_and_nul_characters_are_422_naming_the_field(
    client: FlaskClient, db: Database, body: dict[str, Any], field: str
) -> None:
    answer = _send(client, body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json["error"]["fields"], answer.json
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_refused_order_never_breaks_the_customers_later_orders(
    client: FlaskClient, db: Database
) -> None:
    assert _send(client, _order_with(id="o-1", total="1e400"), "msg_1").status_code == 422
    assert _send(client, _order_with(id="o-2", total="1e20"), "msg_2").status_code == 422
    ok = _send(client, _order_with(id="o-3", total=999999999999.99, coupon_code=None), "msg_3")
    assert ok.status_code == 200, ok.text
    later = _send(client, _order_with(id="o-4", total="10", coupon_code=None), "msg_4")
    assert later.status_code == 422  # the customer's total spent would pass 10**12
    fine = _send(client, _order_with(id=5, total="0", coupon_code=None, items=None), "msg_5")
    assert fine.status_code == 200, fine.text
    member = _one(db)
    assert member.orders_count == 2
    assert float(member.total_spent) == 999999999999.99
