"""An order placed with a member-day coupon marks the coupon redeemed at once."""

from __future__ import annotations

from datetime import timedelta

from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Campaign, Run
from herald.core import clock
from tests.campaigns.test_triggers import _member, _webhook, settings  # noqa: F401


def test_an_order_with_a_coupon_redeems_it(client, db, settings):  # noqa: F811
    _member(client, "gu")
    now = clock.now()
    with db.session() as session:
        campaign = Campaign(name="Member day", channel="member_day", status="sent", schedule={})
        session.add(campaign)
        session.flush()
        run = Run(campaign_id=campaign.id, status="sent", due_at=now)
        session.add(run)
        session.flush()
        session.add(
            Coupon(
                code="MD7K2Q9",
                campaign_id=campaign.id,
                run_id=run.id,
                percent_off=15,
                valid_from=now,
                valid_until=now + timedelta(days=1),
            )
        )
    order = {
        "id": "o-77",
        "customer_external_id": "gu",
        "total": "300.00",
        "currency": "CNY",
        "coupon_code": "md7k2q9",
        "placed_at": now.isoformat(),
        "items": [],
    }
    _webhook(client, {"type": "order.placed", "data": {"order": order}}, "order-77")
    with db.session() as session:
        coupon = session.query(Coupon).one()
    assert coupon.redeemed_at is not None and coupon.order_id == "o-77"
