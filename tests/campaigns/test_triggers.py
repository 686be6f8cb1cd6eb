"""Triggers end to end: a signed shop webhook fires a delayed message, a cancelling event stops
it, the filter and the per-member limit hold, and it all shows in the ledger and stats."""

from __future__ import annotations

import base64
import json
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from herald.campaigns.models import Delivery
from herald.core import clock
from herald.core.settings import Settings
from tests.conftest import make_settings
from tests.helpers import drain

SECRET = "whsec_" + base64.b64encode(b"a shop webhook key of 32 bytes!!").decode()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_server) -> Settings:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return make_settings(
        tmp_path,
        database_url,
        shop_webhook_secret=SECRET,
        smtp_port=str(port),
        frequency_cap="1/7d",
    )


def _webhook(client, body: dict[str, Any], webhook_id: str):  # type: ignore[no-untyped-def]
    raw = json.dumps(body)
    moment = datetime.fromtimestamp(time.time(), UTC)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(webhook_id, moment, raw),
        "content-type": "application/json",
    }
    answer = client.post("/webhooks/shop", data=raw, headers=headers)
    assert answer.status_code < 300, answer.json
    return answer


def _member(client, external_id: str, tier: str = "gold") -> None:  # type: ignore[no-untyped-def]
    customer = {
        "external_id": external_id,
        "email": f"{external_id}@example.com",
        "first_name": external_id.title(),
        "tier": tier,
        "consent": {"email": True},
    }
    _webhook(
        client, {"type": "customer.created", "data": {"customer": customer}}, f"c-{external_id}"
    )


def _cart(client, external_id: str, n: int = 1):  # type: ignore[no-untyped-def]
    cart = {
        "id": f"cart-{external_id}-{n}",
        "customer_external_id": external_id,
        "total": "88.00",
        "url": f"https://shop.example.com/cart/{external_id}",
        "items": [{"sku": "tea-1", "name": "Longjing tea", "qty": 1, "price": "88.00"}],
    }
    return _webhook(
        client, {"type": "cart.abandoned", "data": {"cart": cart}}, f"cart-{external_id}-{n}"
    )


def _reminder(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Cart reminder",
        "event": "cart.abandoned",
        "delay_minutes": 60,
        "cancel_on": "order.placed",
        "channel": "email",
        "max_per_contact_days": 3,
        "variants": [
            {
                "name": "A",
                "subject": "{{ contact.first_name }}, your {{ event['items'][0]['name'] }}"
                " is waiting",
                "html": "<p>Total {{ event.total }}</p>"
                "<a href='{{ event.url }}'>Back to your cart</a>",
            }
        ],
        **extra,
    }


def test_an_abandoned_cart_gets_one_reminder_an_hour_later(client, auth, db, settings, smtp_server):
    import email

    recorder, _ = smtp_server
    _member(client, "ann")
    created = client.post("/api/v1/triggers", json=_reminder(), headers=auth)
    assert created.status_code == 201, created.json
    trigger = created.json
    assert trigger["active"] is True
    _cart(client, "ann")
    _cart(client, "ann", 2)  # a second cart the same day: still one reminder
    drain(db, settings)
    assert recorder.messages == []  # not before the hour is up
    clock.shift(timedelta(minutes=59))
    drain(db, settings)
    assert recorder.messages == []
    clock.shift(timedelta(minutes=2))
    drain(db, settings)
    assert len(recorder.messages) == 1
    message = email.message_from_bytes(recorder.messages[0].data)
    assert message["Subject"] == "Ann, your Longjing tea is waiting"
    stats = client.get(f"/api/v1/triggers/{trigger['id']}/stats", headers=auth).json
    assert stats["total"]["recipients"] == 1 and stats["total"]["sent"] == 1


def test_an_order_before_the_reminder_cancels_it(client, auth, db, settings, smtp_server):
    recorder, _ = smtp_server
    _member(client, "bo")
    client.post("/api/v1/triggers", json=_reminder(), headers=auth)
    _cart(client, "bo")
    order = {
        "id": "o-1",
        "customer_external_id": "bo",
        "total": "88.00",
        "currency": "CNY",
        "placed_at": clock.now().isoformat(),
        "items": [],
    }
    _webhook(client, {"type": "order.placed", "data": {"order": order}}, "order-1")
    clock.shift(timedelta(hours=2))
    drain(db, settings)
    assert recorder.messages == []
    with db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.status == "cancelled"
    assert delivery.reason == "cancelled: order.placed came first"


def test_the_filter_and_the_per_member_limit_hold(client, auth, db, settings, smtp_server):
    recorder, _ = smtp_server
    _member(client, "cy", tier="gold")
    _member(client, "di", tier="new")
    body = _reminder(filter={"field": "tier", "op": "in", "value": ["gold", "platinum"]})
    client.post("/api/v1/triggers", json=body, headers=auth)
    _cart(client, "cy")
    _cart(client, "di")
    clock.shift(timedelta(hours=2))
    drain(db, settings)
    assert list(recorder.by_recipient()) == ["cy@example.com"]
    clock.shift(timedelta(days=1))  # a new day, but within max_per_contact_days
    _cart(client, "cy", 2)
    clock.shift(timedelta(hours=2))
    drain(db, settings)
    assert len(recorder.messages) == 1


def test_a_switched_off_trigger_fires_nothing_and_holds_what_waits(
    client, auth, db, settings, smtp_server
):
    recorder, _ = smtp_server
    _member(client, "ed")
    trigger = client.post("/api/v1/triggers", json=_reminder(), headers=auth).json
    _cart(client, "ed")
    off = client.patch(f"/api/v1/triggers/{trigger['id']}", json={"active": False}, headers=auth)
    assert off.status_code == 200 and off.json["active"] is False
    clock.shift(timedelta(hours=2))
    drain(db, settings)
    assert recorder.messages == []
    client.patch(f"/api/v1/triggers/{trigger['id']}", json={"active": True}, headers=auth)
    drain(db, settings)
    assert len(recorder.messages) == 1
    campaign = client.get(f"/api/v1/campaigns/{trigger['campaign_id']}", headers=auth).json
    assert (
        client.post(f"/api/v1/campaigns/{campaign['id']}/send-now", headers=auth).status_code == 409
    )


def test_transactional_triggers_pass_the_frequency_cap(client, auth, db, settings, smtp_server):
    recorder, _ = smtp_server
    _member(client, "fa")
    client.post("/api/v1/triggers", json=_reminder(name="marketing"), headers=auth)
    welcome = _reminder(
        name="order receipt", event="cart.abandoned", cancel_on=None, transactional=True
    )
    client.post("/api/v1/triggers", json=welcome, headers=auth)
    marketing_again = _reminder(name="marketing 2", cancel_on=None)
    client.post("/api/v1/triggers", json=marketing_again, headers=auth)
    _cart(client, "fa")
    clock.shift(timedelta(hours=2))
    drain(db, settings)
    # the cap is 1 per 7 days: one marketing reminder and the transactional one go out
    assert len(recorder.messages) == 2
    with db.session() as session:
        reasons = [
            d.reason for d in session.scalars(select(Delivery).where(Delivery.status == "skipped"))
        ]
    assert reasons == ["frequency cap (1 per 7d)"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event": "page.viewed"}, "event"),
        ({"cancel_on": "moon.landed"}, "cancel_on"),
        ({"delay_minutes": -5}, "delay_minutes"),
        ({"delay_minutes": 1e400}, "delay_minutes"),
        ({"delay_minutes": float("nan")}, "delay_minutes"),
        ({"delay_minutes": True}, "delay_minutes"),
        ({"max_per_contact_days": float("nan")}, "max_per_contact_days"),
        ({"max_per_contact_days": float("inf")}, "max_per_contact_days"),
        ({"max_per_contact_days": 36_601}, "max_per_contact_days"),
        ({"max_per_contact_days": 10**30}, "max_per_contact_days"),
        ({"channel": "social", "variants": [{"status": "new cart!"}]}, "channel"),
        (
            {
                "channel": "member_day",
                "variants": [{"benefits": {"gold": {"type": "coupon", "percent_off": 15}}}],
            },
            "channel",
        ),
        ({"filter": {"field": "shoe_size", "op": "eq", "value": 42}}, "filter.field"),
        ({"variants": [{"name": "A", "subject": "{{ oops", "html": "x"}]}, "variants[0].subject"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_triggers_are_a_422_naming_the_field(client, auth, db, change, field):
    from herald.core.errors import ValidationError
    from herald.journeys import triggers

    # NaN and infinity cannot travel in JSON: the service is checked directly as well
    with db.session() as session:
        with pytest.raises(ValidationError) as caught:
            triggers.create_trigger(session, _reminder(**change), ZoneInfo("UTC"))
        assert field in caught.value.fields
    if any(isinstance(v, float) and not math.isfinite(v) for v in change.values()):
        return
    answer = client.post("/api/v1/triggers", json=_reminder(**change), headers=auth)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["error"]["fields"], answer.json


def test_a_new_cart_after_a_cancelled_reminder_gets_its_own_reminder(
    client, auth, db, settings, smtp_server
):
    recorder, _ = smtp_server
    _member(client, "hu")
    client.post("/api/v1/triggers", json=_reminder(max_per_contact_days=None), headers=auth)
    _cart(client, "hu")
    order = {
        "id": "o-2",
        "customer_external_id": "hu",
        "total": "88.00",
        "currency": "CNY",
        "placed_at": clock.now().isoformat(),
        "items": [],
    }
    _webhook(client, {"type": "order.placed", "data": {"order": order}}, "order-2")
    _cart(client, "hu", 2)  # a new cart later the same day
    clock.shift(timedelta(hours=2))
    drain(db, settings)
    assert len(recorder.messages) == 1
