"""Coupons on an email campaign, through the API and a real SMTP server: one unique code per
recipient in the mail, the same code after a retry, redemption refused after ``valid_until`` and
under ``min_spend``, and the coupon metrics."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from herald.audiences.models import Event
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Batch, Delivery
from herald.core import clock
from tests.campaigns.test_triggers import _webhook, settings  # noqa: F401
from tests.helpers import drain, email_campaign

CODE = re.compile(r"Code: (M\d+-[A-Z0-9]{4}-[A-Z0-9]{4})")
AMOUNT_OFF = {"type": "coupon", "amount_off": 30, "min_spend": 200, "valid_days": 7}


def _coupon_campaign(coupon: dict[str, Any]) -> dict[str, Any]:
    body = email_campaign()
    body["variants"][0].update(
        coupon=coupon,
        text="Hello {{ contact.first_name }}. Code: {{ coupon.code }} ({{ coupon.description }}, "
        "until {{ coupon.valid_until }})",
        html="<p>Code: {{ coupon.code }}</p><p>{{ coupon.amount_off }} off over "
        "{{ coupon.min_spend }}</p>",
    )
    return body


def _members(client, auth, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        answer = client.post(
            "/api/v1/contacts",
            json={
                "external_id": f"m{i}",
                "email": f"member{i}@example.com",
                "first_name": f"Member{i}",
                "tier": "gold",
                "consent": {"email": True},
            },
            headers=auth,
        )
        assert answer.status_code == 201, answer.json


def _codes_in_mail(recorder) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    for received in recorder.messages:
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()
        (code,) = CODE.findall(text)
        assert "¥30 off orders over ¥200" in text
        out[received.recipients[0]] = code
    return out


def _issued(db) -> dict[int, Coupon]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return {c.delivery_id: c for c in session.scalars(select(Coupon))}


def _send(client, auth, db, settings, coupon=AMOUNT_OFF) -> int:  # type: ignore[no-untyped-def]  # noqa: F811
    created = client.post("/api/v1/campaigns", json=_coupon_campaign(coupon), headers=auth)
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert created.json["variants"][0]["coupon"] == AMOUNT_OFF | coupon
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    return campaign_id


def _order(client, n: int, customer: str, code: str, total: str, placed_at) -> dict:  # type: ignore[no-untyped-def]
    order = {
        "id": f"o-{n}",
        "customer_external_id": customer,
        "total": total,
        "currency": "CNY",
        "coupon_code": code.lower(),
        "placed_at": placed_at.isoformat(),
        "items": [],
    }
    _webhook(client, {"type": "order.placed", "data": {"order": order}}, f"order-{n}")
    return order


def test_every_recipient_gets_a_unique_code_in_the_mail(
    client,
    auth,
    db,
    settings,  # noqa: F811
    smtp_server,
):
    recorder, _ = smtp_server
    _members(client, auth, 4)
    campaign_id = _send(client, auth, db, settings)

    codes = _codes_in_mail(recorder)
    assert len(codes) == 4 and len(set(codes.values())) == 4
    issued = _issued(db)
    with db.session() as session:
        deliveries = set(session.scalars(select(Delivery.id)))
    assert {c.code for c in issued.values()} == set(codes.values())
    assert deliveries == set(issued)  # one code per delivery, none without one
    coupon = next(iter(issued.values()))
    assert (coupon.type, coupon.amount_off, coupon.min_spend) == ("coupon", 30, 200)
    assert coupon.valid_until - coupon.valid_from == timedelta(days=7)
    total = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).json["total"]
    assert (total["coupons_issued"], total["coupons_redeemed"]) == (4, 0)
    assert total["coupon_redemption_rate"] == 0


def test_a_retried_delivery_reuses_its_code(client, auth, db, settings, smtp_server):  # noqa: F811
    recorder, _ = smtp_server
    _members(client, auth, 3)
    recorder.refuse["member1@example.com"] = "451 4.3.0 mailbox busy, try later"
    _send(client, auth, db, settings)
    first = _issued(db)
    assert len(recorder.messages) == 2 and len(first) == 3  # the refused one has its code too
    with db.session() as session:
        retried = session.scalar(select(Delivery).where(Delivery.status == "pending"))
        assert retried is not None and retried.reason.startswith("retrying")
        # the back-off has passed
        session.execute(update(Delivery).values(not_before=None))
        session.execute(update(Batch).values(lease_until=None))
    recorder.refuse.clear()
    drain(db, settings)

    codes = _codes_in_mail(recorder)
    assert len(codes) == 3
    after = _issued(db)
    assert {d: c.code for d, c in after.items()} == {d: c.code for d, c in first.items()}
    assert codes["member1@example.com"] == first[retried.id].code


def test_orders_redeem_only_while_valid_and_over_the_minimum_spend(
    client,
    auth,
    db,
    settings,  # noqa: F811
    smtp_server,
):
    _members(client, auth, 3)
    until = (clock.now() + timedelta(days=2)).replace(microsecond=0)
    spec = {"type": "coupon", "amount_off": 30, "min_spend": 200, "valid_until": until.isoformat()}
    created = client.post("/api/v1/campaigns", json=_coupon_campaign(spec), headers=auth)
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    by_member = {}
    with db.session() as session:
        for coupon, external_id in session.execute(
            select(Coupon, Delivery.contact_id).join(Delivery, Delivery.id == Coupon.delivery_id)
        ).all():
            by_member[external_id] = coupon.code
    from herald.audiences.models import Contact

    with db.session() as session:
        ids = dict(session.execute(select(Contact.external_id, Contact.id)).all())
    code = {ext: by_member[cid] for ext, cid in ids.items()}

    _order(client, 1, "m0", code["m0"], "250.00", until + timedelta(seconds=1))
    _order(client, 2, "m1", code["m1"], "150.00", clock.now())
    _order(client, 3, "m2", code["m2"], "260.00", clock.now())
    _order(client, 4, "m1", code["m2"], "300.00", clock.now())  # used already

    with db.session() as session:
        coupons = {c.code: c for c in session.scalars(select(Coupon))}
        results = {
            e.data["order_id"]: e.data["coupon_result"]
            for e in session.scalars(select(Event).where(Event.type == "order.placed"))
        }
    assert results == {
        "o-1": "expired",
        "o-2": "below minimum spend",
        "o-3": "redeemed",
        "o-4": "already used",
    }
    assert coupons[code["m0"]].redeemed_at is None
    assert coupons[code["m0"]].refused_reason == "expired"
    assert coupons[code["m1"]].redeemed_at is None
    assert coupons[code["m1"]].refused_reason == "below minimum spend"
    assert coupons[code["m2"]].order_id == "o-3" and coupons[code["m2"]].order_total == 260

    total = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).json["total"]
    assert (total["coupons_issued"], total["coupons_redeemed"]) == (3, 1)
    assert total["coupon_redemption_rate"] == pytest.approx(1 / 3)
    assert total["coupon_revenue"] == 260.0
    # the expired and under-spend orders are not credited through their coupons
    assert total["conversions"] == 1 and total["revenue"] == 260.0

    listed = client.get(f"/api/v1/coupons?campaign_id={campaign_id}", headers=auth).json["items"]
    assert {c["code"]: c["refused_reason"] for c in listed}[code["m0"]] == "expired"
    assert all(c["description"] == "¥30 off orders over ¥200" for c in listed)


def test_a_code_whose_message_failed_is_not_counted_as_issued(
    client,
    auth,
    db,
    settings,  # noqa: F811
    smtp_server,
):
    recorder, _ = smtp_server
    _members(client, auth, 3)
    recorder.refuse["member2@example.com"] = "550 5.1.1 no such mailbox"
    campaign_id = _send(client, auth, db, settings)
    assert len(_issued(db)) == 3  # issued before the hand-off, as the claim commits
    total = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).json["total"]
    assert (total["sent"], total["failed"], total["coupons_issued"]) == (2, 1, 2)


@pytest.mark.parametrize(
    ("coupon", "field"),
    [
        ({"type": "coupon", "amount_off": 30}, "variants[0].coupon.valid_days"),
        ({"type": "coupon", "amount_off": -5, "valid_days": 3}, "variants[0].coupon.amount_off"),
        (
            {"type": "coupon", "amount_off": 30, "min_spend": 20, "valid_days": 3},
            "variants[0].coupon.min_spend",
        ),
        (
            {"type": "coupon", "percent_off": 10, "valid_until": "2030-01-01T00:00:00"},
            "variants[0].coupon.valid_until",
        ),
        ({"type": "gift", "valid_days": 3}, "variants[0].coupon.sku"),
        ({"type": "voucher", "valid_days": 3}, "variants[0].coupon.type"),
        ({"tier_benefit": "anniversary"}, "variants[0].coupon.tier_benefit"),
    ],
)
def test_a_bad_coupon_is_a_422_naming_its_field(client, auth, coupon, field):
    answer = client.post("/api/v1/campaigns", json=_coupon_campaign(coupon), headers=auth)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["error"]["fields"], answer.json
    assert "variant A" in answer.json["error"]["fields"][field]


def test_templates_are_checked_against_the_coupon_fields(client, auth):
    body = _coupon_campaign(AMOUNT_OFF)
    body["variants"][0]["text"] = "Use {{ coupon.discount }}"
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 422
    assert "coupons have no field 'discount'" in answer.json["error"]["message"]


def test_a_social_post_carries_no_coupon(client, auth):
    body = {
        "name": "Post",
        "channel": "social",
        "variants": [{"name": "A", "status": "Sale!", "coupon": AMOUNT_OFF}],
    }
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 422
    assert "variants[0].coupon" in answer.json["error"]["fields"]


def test_a_preview_and_a_test_send_show_a_sample_code(client, auth, db, settings, smtp_server):  # noqa: F811
    recorder, _ = smtp_server
    _members(client, auth, 1)
    campaign_id = client.post(
        "/api/v1/campaigns", json=_coupon_campaign(AMOUNT_OFF), headers=auth
    ).json["id"]
    shown = client.get(f"/api/v1/campaigns/{campaign_id}/preview", headers=auth).json
    assert "Code: SAMPLE-CODE (¥30 off orders over ¥200" in shown["text"]
    sent = client.post(
        f"/api/v1/campaigns/{campaign_id}/test-send",
        json={"to": "me@shop.example.com"},
        headers=auth,
    )
    assert sent.status_code == 200, sent.json
    (received,) = recorder.messages
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert "Code: SAMPLE-CODE" in message.get_body(("plain",)).get_content()
    with db.session() as session:
        assert session.scalar(select(Coupon)) is None  # nothing issued by a preview


def test_a_message_whose_fixed_coupon_expired_is_refused_not_sent(
    client,
    auth,
    db,
    settings,  # noqa: F811
    smtp_server,
):
    recorder, _ = smtp_server
    _members(client, auth, 2)
    until = clock.now() + timedelta(hours=1)
    spec = {"type": "free_shipping", "valid_until": until.isoformat()}
    created = client.post("/api/v1/campaigns", json=_coupon_campaign(spec), headers=auth)
    assert created.status_code == 201, created.json
    clock.shift(timedelta(hours=2))  # the send starts after the coupon's end
    client.post(f"/api/v1/campaigns/{created.json['id']}/send-now", headers=auth)
    drain(db, settings)
    assert recorder.messages == []
    assert _issued(db) == {}
    with db.session() as session:
        reasons = {d.status: d.reason for d in session.scalars(select(Delivery))}
    assert list(reasons) == ["failed"]
    assert reasons["failed"].startswith("the coupon expired at")


def test_a_chunk_reuses_issued_codes_and_survives_a_code_clash(
    client,
    auth,
    db,
    settings,  # noqa: F811
    smtp_server,
):
    from sqlalchemy import delete

    from herald.campaigns import coupons

    _members(client, auth, 3)
    _send(client, auth, db, settings)
    before = _issued(db)
    kept, *gone = sorted(before)
    taken = before[kept].code
    with db.session() as session:
        session.execute(delete(Coupon).where(Coupon.delivery_id.in_(gone)))
    fresh = iter([taken, "FRESH-1", "FRESH-2", "FRESH-3", "FRESH-4"])  # the first code clashes
    wanted = [
        {
            "delivery_id": d,
            "contact_id": before[d].contact_id,
            "valid_from": before[d].valid_from,
            "valid_until": before[d].valid_until,
            "offer": AMOUNT_OFF,
        }
        for d in before
    ]
    with db.session() as session:
        got = coupons.issue_many(
            session,
            campaign_id=before[kept].campaign_id,
            run_id=before[kept].run_id,
            wanted=wanted,
            generate=lambda _campaign: next(fresh),
        )
        codes = {d: c.code for d, c in got.items()}
    assert codes[kept] == taken  # issued before: reused
    # the one-statement insert (taken, FRESH-1) clashed and was undone; one by one they got
    # the next fresh codes
    assert sorted(codes[d] for d in gone) == ["FRESH-2", "FRESH-3"]
    after = _issued(db)
    assert {d: c.code for d, c in after.items()} == codes
    assert after[gone[0]].amount_off == 30 and after[gone[0]].min_spend == 200
