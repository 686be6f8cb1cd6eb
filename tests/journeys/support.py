"""Helpers for journey tests: signed shop webhooks, the welcome journey, a tick that moves
journeys and sends what they wrote (what the scheduler's tick task and workers do)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from herald.core.db import Database
from herald.core.settings import Settings
from herald.journeys import engine
from tests.helpers import drain

SECRET = "whsec_" + base64.b64encode(b"a shop webhook key of 32 bytes!!").decode()


def webhook(client, body: dict[str, Any], webhook_id: str):  # type: ignore[no-untyped-def]
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


def sign_up(client, external_id: str, **extra: Any):  # type: ignore[no-untyped-def]
    customer = {
        "external_id": external_id,
        "email": f"{external_id}@example.com",
        "phone": extra.pop("phone", None),
        "first_name": external_id.title(),
        "tier": "new",
        "consent": extra.pop("consent", {"email": True}),
        **extra,
    }
    customer = {k: v for k, v in customer.items() if v is not None}
    return webhook(
        client, {"type": "customer.created", "data": {"customer": customer}}, f"c-{external_id}"
    )


def order(client, external_id: str, n: int = 1, total: str = "120.00"):  # type: ignore[no-untyped-def]
    data = {
        "order": {
            "id": f"o-{external_id}-{n}",
            "customer_external_id": external_id,
            "total": total,
            "currency": "CNY",
            "items": [{"sku": "tea-1", "name": "Longjing tea", "qty": 1, "price": total}],
        }
    }
    return webhook(client, {"type": "order.placed", "data": data}, f"o-{external_id}-{n}")


def cart(client, external_id: str, n: int = 1):  # type: ignore[no-untyped-def]
    data = {
        "cart": {
            "id": f"cart-{external_id}-{n}",
            "customer_external_id": external_id,
            "total": "88.00",
            "url": f"https://shop.example.com/cart/{external_id}",
            "items": [{"sku": "tea-1", "name": "Longjing tea", "qty": 1, "price": "88.00"}],
        }
    }
    return webhook(client, {"type": "cart.abandoned", "data": data}, f"cart-{external_id}-{n}")


def welcome(**extra: Any) -> dict[str, Any]:
    """The welcome series of contract section 14."""
    body: dict[str, Any] = {
        "name": "Welcome series",
        "entry": {"event": "customer.created"},
        "exit_on": ["order.placed"],
        "re_entry": "never",
        "holdout": 0,
        "steps": [
            {
                "id": "hello",
                "type": "message",
                "channel": "email",
                "variants": [
                    {
                        "name": "A",
                        "subject": "Welcome {{ contact.first_name }}",
                        "html": "<p>Hi</p>",
                    }
                ],
                "next": "wait1",
            },
            {"id": "wait1", "type": "wait", "minutes": 2880, "next": "opened?"},
            {
                "id": "opened?",
                "type": "branch",
                "condition": {"event": "email.opened", "step": "hello"},
                "then": "offer",
                "else": "sms",
            },
            {
                "id": "offer",
                "type": "message",
                "channel": "email",
                "variants": [{"name": "A", "subject": "10% off for you", "html": "<p>Offer</p>"}],
                "next": "exit",
            },
            {
                "id": "sms",
                "type": "message",
                "channel": "sms",
                "variants": [{"name": "A", "body": "Welcome {{ contact.first_name }}!"}],
                "next": "exit",
            },
        ],
    }
    body.update(extra)
    return body


def run(db: Database, settings: Settings) -> None:
    """One scheduler tick's journeys step, then everything the workers would send."""
    engine.tick(db, settings)
    drain(db, settings)
