"""A promotion's report on a seeded data set, every number worked out by hand: two campaigns of
the promotion on two channels and one outside it, clicks, coupons and orders, sign-ups in and
out of the window. An order that follows clicks on both of the promotion's campaigns counts
once; one credited to a campaign outside the promotion does not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from herald.audiences import contacts
from herald.audiences.models import Event
from herald.campaigns import metrics
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Campaign, Delivery, Run, Variant
from herald.campaigns.promotions import Promotion

T0 = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def _campaign(session: Any, name: str, channel: str, promotion_id: int | None) -> Run:
    campaign = Campaign(
        name=name, channel=channel, status="sent", schedule={}, promotion_id=promotion_id
    )
    campaign.variants.append(Variant(name="A", position=0, content={}))
    session.add(campaign)
    session.flush()
    run = Run(campaign_id=campaign.id, status="sent", due_at=T0 - timedelta(days=5))
    session.add(run)
    session.flush()
    return run


def _send(session: Any, run: Run, contact_id: int) -> Delivery:
    variant_id = session.get(Campaign, run.campaign_id).variants[0].id
    delivery = Delivery(
        run_id=run.id,
        contact_id=contact_id,
        variant_id=variant_id,
        status="sent",
        sent_at=T0 - timedelta(days=5),
    )
    session.add(delivery)
    session.flush()
    return delivery


def _click(delivery: Delivery, kind: str, when: datetime) -> Event:
    return Event(
        contact_id=delivery.contact_id,
        type=kind,
        run_id=delivery.run_id,
        delivery_id=delivery.id,
        occurred_at=when,
        data={"url": "https://shop.example/double11"},
    )


def _order(contact_id: int, when: datetime, total: str, code: str | None = None) -> Event:
    data: dict[str, Any] = {"order_id": f"o-{contact_id}", "total": total}
    if code:
        data["coupon_code"] = code
    return Event(contact_id=contact_id, type="order.placed", occurred_at=when, data=data)


def _coupon(run: Run, delivery: Delivery, code: str, redeemed: bool) -> Coupon:
    return Coupon(
        code=code,
        campaign_id=run.campaign_id,
        run_id=run.id,
        contact_id=delivery.contact_id,
        delivery_id=delivery.id,
        percent_off=15,
        valid_from=T0 - timedelta(days=5),
        valid_until=T0 + timedelta(days=5),
        redeemed_at=T0 - timedelta(hours=1) if redeemed else None,
    )


@pytest.fixture
def seeded(db):  # type: ignore[no-untyped-def]
    """Promotion P (1 to 12 November): email A and SMS B in it, email C outside it.

    - m1 got A and B, clicked A (3 days before) then B's SMS link (2 days before), and ordered
      100: credited to B's click (the last), counted once.
    - m2 got A, clicked it, ordered 50: credited to A.
    - m3 got A and C, clicked A then C, ordered 70: credited to C, outside the promotion.
    - m4 got A with coupon CODE-M4, ordered 30 with it: credited to A by the coupon.
    - coupons of A: m4's (redeemed) and m1's (not); C issued one of its own (redeemed).
    - sign-ups: m5 and m6 during the promotion (m6 twice), m7 before it.
    """
    with db.session() as session:
        members = []
        for n in range(1, 8):
            contact, _ = contacts.upsert(
                session, {"external_id": f"m{n}", "email": f"m{n}@example.com"}, source="test"
            )
            session.flush()
            members.append(contact.id)
        m1, m2, m3, m4, m5, m6, m7 = members
        promotion = Promotion(
            name="Double 11",
            kind="holiday",
            starts_at=datetime(2026, 10, 31, 16, 0, tzinfo=UTC),
            ends_at=datetime(2026, 11, 11, 16, 0, tzinfo=UTC),
            goal_metric="revenue",
            goal_target=Decimal("150"),
            budget=Decimal("1000"),
        )
        session.add(promotion)
        session.flush()
        run_a = _campaign(session, "A teaser", "email", promotion.id)
        run_b = _campaign(session, "B sms", "sms", promotion.id)
        run_c = _campaign(session, "C elsewhere", "email", None)
        a = {m: _send(session, run_a, m) for m in (m1, m2, m3, m4)}
        b1 = _send(session, run_b, m1)
        _send(session, run_b, m2)
        c3 = _send(session, run_c, m3)
        day = timedelta(days=1)
        session.add_all(
            [
                _click(a[m1], "email.clicked", T0 - 3 * day),
                _click(b1, "sms.clicked", T0 - 2 * day),
                _order(m1, T0 - day, "100.00"),
                _click(a[m2], "email.clicked", T0 - 2 * day),
                _order(m2, T0 - day, "50.00"),
                _click(a[m3], "email.clicked", T0 - 2 * day),
                _click(c3, "email.clicked", T0 - 1.5 * day),
                _order(m3, T0 - day, "70.00"),
                _coupon(run_a, a[m4], "CODE-M4", redeemed=True),
                _coupon(run_a, a[m1], "CODE-M1", redeemed=False),
                _coupon(run_c, c3, "CODE-C3", redeemed=True),
                _order(m4, T0 - day, "30.00", "code-m4"),
                Event(contact_id=m5, type="customer.created", occurred_at=T0 - 4 * day),
                Event(contact_id=m6, type="customer.created", occurred_at=T0 - 3 * day),
                Event(contact_id=m6, type="customer.created", occurred_at=T0 - 2 * day),
                Event(contact_id=m7, type="customer.created", occurred_at=T0 - 20 * day),
            ]
        )
        session.commit()
        return promotion.id


def test_the_report_counts_each_order_once_and_only_the_promotions(db, seeded):
    with db.session() as session:
        report = metrics.promotion_report(session, session.get(Promotion, seeded))
    assert report["orders"] == 3  # m1's 100 (via B), m2's 50 (A), m4's 30 (A's coupon)
    assert report["revenue"] == 180.0
    assert report["coupons"] == {"issued": 2, "redeemed": 1}
    assert report["goal"] == {
        "metric": "revenue",
        "target": 150.0,
        "value": 180.0,
        "progress": 1.2,
        "reached": True,
    }
    totals = report["totals"]
    assert (totals["recipients"], totals["sent"], totals["delivered"]) == (6, 6, 6)
    assert totals["unique_clicks"] == 4  # A: m1, m2, m3; B: m1
    assert (totals["conversions"], totals["revenue"]) == (3, 180.0)
    assert totals["conversion_rate"] == pytest.approx(3 / 6)
    assert totals["coupons_issued"] == 2 and totals["coupons_redeemed"] == 1
    email, sms = report["channels"]["email"], report["channels"]["sms"]
    assert set(report["channels"]) == {"email", "sms"}
    assert (email["sent"], email["unique_clicks"], email["conversions"], email["revenue"]) == (
        4,
        3,
        2,
        80.0,
    )
    assert email["click_rate"] == pytest.approx(3 / 4)
    assert (sms["sent"], sms["unique_clicks"], sms["conversions"], sms["revenue"]) == (
        2,
        1,
        1,
        100.0,
    )
    assert report["promotion"]["name"] == "Double 11"


@pytest.mark.parametrize(
    ("metric", "target", "value", "reached"),
    [
        ("orders", "3", 3, True),
        ("orders", "4", 3, False),
        ("signups", "2", 2, True),  # m5 and m6 (twice, counted once); m7 signed up before
        ("signups", "3", 2, False),
        ("revenue", "180.01", 180.0, False),
    ],
)
def test_the_goal_is_reached_or_not(db, seeded, metric, target, value, reached):
    with db.session() as session:
        promotion = session.get(Promotion, seeded)
        promotion.goal_metric, promotion.goal_target = metric, Decimal(target)
        session.flush()
        goal = metrics.promotion_report(session, promotion)["goal"]
    assert (goal["value"], goal["reached"]) == (value, reached)


def test_the_report_through_the_api_is_the_metrics_modules(client, auth, db, seeded):
    answer = client.get(f"/api/v1/promotions/{seeded}/report", headers=auth)
    assert answer.status_code == 200
    assert answer.json["orders"] == 3
    assert answer.json["revenue"] == 180.0
    assert answer.json["goal"]["reached"] is True
    assert answer.json["channels"]["sms"]["revenue"] == 100.0
    assert client.get("/api/v1/promotions/999/report", headers=auth).status_code == 404
