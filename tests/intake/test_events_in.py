"""Events in: audiences store a shop event's facts and nothing more; intake then hands the event
to campaigns (coupons, triggers) in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from herald.audiences import shop
from herald.audiences.models import Contact, Event
from herald.campaigns import reactions
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Campaign, Run
from herald.core import clock
from herald.intake import shop as intake


def _coupon(session, code: str) -> None:  # type: ignore[no-untyped-def]
    now = clock.now()
    campaign = Campaign(name="Member day", channel="member_day", status="sent", schedule={})
    session.add(campaign)
    session.flush()
    run = Run(campaign_id=campaign.id, status="sent", due_at=now)
    session.add(run)
    session.flush()
    session.add(
        Coupon(
            code=code,
            campaign_id=campaign.id,
            run_id=run.id,
            percent_off=15,
            valid_from=now,
            valid_until=now + timedelta(days=1),
        )
    )


def _order(code: str, order_id: str) -> dict:  # type: ignore[type-arg]
    kind, data = intake.check(
        {
            "type": "order.placed",
            "data": {
                "order": {
                    "id": order_id,
                    "customer_external_id": "lin",
                    "total": "120.00",
                    "currency": "CNY",
                    "coupon_code": code,
                    "placed_at": clock.now().isoformat(),
                    "items": [],
                }
            },
        }
    )
    assert kind == "order.placed"
    return data


def test_storing_an_order_in_audiences_alone_does_not_redeem_its_coupon(db):
    with db.session() as session:
        _coupon(session, "KEEP01")
        event = shop.store(session, "order.placed", _order("keep01", "o-1"))
        assert event.id is not None
        coupon = session.scalar(select(Coupon))
        assert coupon is not None and coupon.redeemed_at is None
        assert session.scalar(select(Contact.orders_count)) == 1


def test_an_order_received_through_intake_stores_the_facts_and_redeems_the_coupon(db):
    with db.session() as session:
        _coupon(session, "USE01")
        event = intake.receive(session, "order.placed", _order("use01", "o-2"))
    with db.session() as session:
        coupon = session.scalar(select(Coupon))
        assert coupon is not None and coupon.order_id == "o-2"
        assert session.get(Event, event.id) is not None


def test_a_failing_reaction_leaves_nothing_half_written(db, monkeypatch):
    def broken(session, event):  # type: ignore[no-untyped-def]
        raise RuntimeError("a campaign reaction failed")

    monkeypatch.setattr(reactions, "on_shop_event", broken)
    with pytest.raises(RuntimeError), db.session() as session:
        intake.receive(session, "order.placed", _order("none", "o-3"))
    with db.session() as session:
        assert session.scalar(select(Event.id)) is None
        assert session.scalar(select(Contact.id)) is None
