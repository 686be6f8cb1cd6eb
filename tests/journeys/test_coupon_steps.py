"""Coupons on journey message steps: a step's ``coupon`` issues one code per member's message,
on email and SMS alike, and ``{"tier_benefit": "birthday_gift"}`` gives each member the gift the
marketer configured for their tier (none for a tier without one)."""

from __future__ import annotations

import email
import email.policy
from email.utils import parseaddr

from sqlalchemy import select

from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Delivery
from tests.journeys.support import run, sign_up

GIFT_TEXT = (
    "Gift: {{ coupon.description }} [{{ coupon.code }}] for {{ tier.name }}: "
    "{% for line in tier.benefits %}{{ line }}; {% endfor %}"
)


def _journey() -> dict:
    return {
        "name": "Birthday gifts",
        "entry": {"event": "customer.created"},
        "steps": [
            {
                "id": "gift",
                "type": "message",
                "channel": "email",
                "variants": [{"name": "A", "subject": "Happy birthday", "text": GIFT_TEXT}],
                "coupon": {"tier_benefit": "birthday_gift"},
                "next": "sms",
            },
            {
                "id": "sms",
                "type": "message",
                "channel": "sms",
                "variants": [
                    {"name": "A", "body": "Code {{ coupon.code }}: {{ coupon.description }}"}
                ],
                "coupon": {"type": "coupon", "percent_off": 10, "valid_days": 7},
                "next": "exit",
            },
        ],
    }


def test_message_steps_issue_codes_and_birthday_gifts_follow_the_tier(
    client, auth, db, settings, smtp_server, sms
):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    gold = {
        "points_rate": 1.5,
        "birthday_gift": {"type": "coupon", "amount_off": 50, "min_spend": 300, "valid_days": 14},
        "member_day": {"type": "coupon", "percent_off": 15, "valid_days": 1},
        "free_shipping_over": 0,
        "lines": ["An upgraded birthday gift", "Free shipping"],
    }
    changed = client.put("/api/v1/tier-benefits/gold", json=gold, headers=auth)
    assert changed.status_code == 200, changed.json
    created = client.post("/api/v1/journeys", json=_journey(), headers=auth)
    assert created.status_code == 201, created.json
    assert created.json["steps"][1]["coupon"]["percent_off"] == 10
    client.post(f"/api/v1/journeys/{created.json['id']}/activate", headers=auth)

    sign_up(
        client, "gia", tier="gold", phone="+8613800000001", consent={"email": True, "sms": True}
    )
    sign_up(client, "nia", tier="new")
    run(db, settings)

    mails = {}
    for received in recorder.messages:
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        mails[parseaddr(message["To"])[1]] = message.get_body(("plain",)).get_content()
    with db.session() as session:
        coupons = list(session.scalars(select(Coupon).order_by(Coupon.id)))
        contact_of = dict(session.execute(select(Delivery.id, Delivery.contact_id)).all())
    by_contact: dict[int, list[Coupon]] = {}
    for coupon in coupons:
        by_contact.setdefault(contact_of[coupon.delivery_id], []).append(coupon)
    # nia's tier has no gift, and she has no phone: a skipped message issues no code
    ((gift, text_coupon),) = by_contact.values()
    assert (gift.type, gift.amount_off, gift.min_spend) == ("coupon", 50, 300)
    assert mails["gia@example.com"].startswith(
        f"Gift: ¥50 off orders over ¥300 [{gift.code}] for gold: An upgraded birthday gift; "
        "Free shipping;"
    )
    # a new member's tier has no birthday gift: the message renders without one
    assert mails["nia@example.com"].startswith("Gift:  [] for new: Registration points;")
    (texted,) = sms.seen
    assert texted.form()["Body"] == f"Code {text_coupon.code}: 10% off"
    assert text_coupon.code != gift.code

    # a second tick sends nothing again and issues no second code
    run(db, settings)
    with db.session() as session:
        assert len(list(session.scalars(select(Coupon)))) == 2


def test_a_bad_step_coupon_is_a_422_naming_the_step(client, auth):  # type: ignore[no-untyped-def]
    body = _journey()
    body["steps"][1]["coupon"] = {
        "type": "coupon",
        "amount_off": 30,
        "min_spend": 10,
        "valid_days": 3,
    }
    answer = client.post("/api/v1/journeys", json=body, headers=auth)
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert "steps.sms.coupon.min_spend" in fields
    assert "step 'sms'" in fields["steps.sms.coupon.min_spend"]
