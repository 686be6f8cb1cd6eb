"""Member days against a real local shop API (Standard Webhooks signatures verified), a real SMTP
server and a Twilio-shaped server for the notices; coupons unique, reused on retry, and counted
as conversions when an order redeems them."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from herald.audiences.models import Event
from herald.campaigns import coupons, metrics, service
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Batch, Delivery
from herald.campaigns.senders import close_all
from herald.core import clock
from herald.core.errors import ValidationError
from tests.channels.fake_provider import Answer, fake_provider
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain

SECRET = "whsec_" + base64.b64encode(b"shop-secret-0123456789abcdef").decode()
SID = "AC42"
GOLD_AND_PLATINUM = {
    "gold": {"type": "coupon", "percent_off": 15, "valid_days": 2},
    "platinum": {"type": "points_multiplier", "multiplier": 3},
}
NOTICES = {
    "notify": ["email", "sms"],
    "subject": "Member day: {{ coupon.percent_off }}% off",
    "html": "<p>Hi {{ contact.first_name }}, your code is {{ coupon.code }}</p>",
    "text": "Hi {{ contact.first_name }}, your code is {{ coupon.code }}",
    "sms_body": "Member day! Code {{ coupon.code }} ({{ coupon.percent_off }}% off)",
}


@pytest.fixture(autouse=True)
def _fresh_channels():
    yield
    close_all()


def day_settings(tmp_path, database_url, shop: str, sms: str = "http://127.0.0.1:9", smtp=2525):
    return make_settings(
        tmp_path,
        database_url,
        shop_api_url=shop,
        shop_api_secret=SECRET,
        sms_api_url=sms,
        sms_account_sid=SID,
        sms_auth_token="tok",
        sms_from="+15005550006",
        sms_quiet_hours="off",
        smtp_port=str(smtp),
    )


def start_member_day(db, name: str = "Member day", **content) -> int:
    variant = {"name": "A", "benefits": GOLD_AND_PLATINUM, **content}
    return start_campaign(db, {"name": name, "channel": "member_day", "variants": [variant]})


def shop_ok(seen) -> Answer:
    return Answer(200, {"ok": True})


def deliveries(db) -> dict[int, Delivery]:
    with db.session() as session:
        return {d.contact_id: d for d in session.scalars(select(Delivery))}


def all_coupons(db) -> list[Coupon]:
    with db.session() as session:
        return list(session.scalars(select(Coupon).order_by(Coupon.id)))


def test_each_eligible_member_gets_their_tier_benefit_signed_and_a_notice(
    db, tmp_path, database_url, smtp_server
):
    recorder, smtp_port = smtp_server
    gold = add_member(
        db,
        external_id="g1",
        email="gold@example.com",
        phone="+8613800138000",
        first_name="Gail",
        tier="gold",
        consent={"email": True, "sms": True},
    )
    plat = add_member(db, external_id="p1", email="plat@example.com", tier="platinum")
    add_member(db, external_id="s1", email="silver@example.com", tier="silver")
    with fake_provider(shop_ok) as shop, fake_provider(Answer(201, {"sid": "SM1"})) as twilio:
        settings = day_settings(tmp_path, database_url, shop.url, twilio.url, smtp_port)
        campaign_id = start_member_day(db, **NOTICES)
        drain(db, settings)

    assert len(shop.seen) == 2
    signer = Webhook(SECRET)
    bodies = {}
    for request in shop.seen:
        assert (request.method, request.path) == ("POST", "/member-benefits")
        headers = {k.lower(): v for k, v in request.headers.items()}
        payload = signer.verify(request.body, headers)  # raises unless the signature verifies
        bodies[payload["member"]["external_id"]] = (headers["webhook-id"], payload)

    (code,) = [c.code for c in all_coupons(db)]
    rows = deliveries(db)
    assert set(rows) == {gold, plat}  # silver is not eligible: filtered out at plan time
    webhook_id, body = bodies["g1"]
    assert webhook_id == f"herald-md-{rows[gold].run_id}-{rows[gold].id}"
    valid_from = body["benefit"]["valid_from"]
    assert body == {
        "campaign_id": campaign_id,
        "run_id": rows[gold].run_id,
        "member": {"external_id": "g1", "email": "gold@example.com"},
        "tier": "gold",
        "benefit": {
            "type": "coupon",
            "code": code,
            "percent_off": 15,
            "valid_from": valid_from,
            "valid_until": body["benefit"]["valid_until"],
        },
    }
    assert bodies["p1"][1]["benefit"]["multiplier"] == 3
    assert bodies["p1"][1]["benefit"]["code"] is None

    (mail,) = recorder.messages
    message = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert mail.recipients == ["gold@example.com"]
    assert message["Subject"] == "Member day: 15% off"
    assert code in message.get_body(("plain",)).get_content()
    (sms,) = twilio.seen
    assert sms.form()["Body"] == f"Member day! Code {code} (15% off)"
    assert sms.form()["To"] == "+8613800138000"

    assert rows[gold].status == "sent"
    assert rows[gold].reason == "benefit posted; email notice sent; sms notice sent"
    assert rows[plat].reason == ("benefit posted; email notice: no consent; sms notice: no phone")
    with db.session() as session:
        coupon = session.scalars(select(Coupon)).one()
        assert (coupon.campaign_id, coupon.contact_id, coupon.delivery_id) == (
            campaign_id,
            gold,
            rows[gold].id,
        )
        assert coupon.valid_until - coupon.valid_from == timedelta(days=2)


def test_a_retry_reuses_the_coupon_and_the_webhook_id(db, tmp_path, database_url):
    add_member(db, external_id="g1", email="gold@example.com", tier="gold")
    with fake_provider(Answer(503, {"message": "maintenance"}), shop_ok) as shop:
        settings = day_settings(tmp_path, database_url, shop.url)
        start_member_day(db)
        drain(db, settings)
        (row,) = deliveries(db).values()
        assert row.reason == "retrying: the shop API 503: maintenance"
        clock.shift(timedelta(seconds=3))
        drain(db, settings)
    first, second = shop.seen
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.json()["benefit"]["code"] == second.json()["benefit"]["code"]
    assert len(all_coupons(db)) == 1
    (row,) = deliveries(db).values()
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_refusal_by_the_shop_fails_with_its_message(db, tmp_path, database_url):
    add_member(db, external_id="g1", email="gold@example.com", tier="gold")
    with fake_provider(Answer(404, {"message": "no member g1"})) as shop:
        settings = day_settings(tmp_path, database_url, shop.url)
        start_member_day(db)
        drain(db, settings)
    (row,) = deliveries(db).values()
    assert (row.status, row.reason) == ("failed", "the shop API 404: no member g1")


def test_a_shop_that_hangs_is_retried_until_the_ceiling(db, tmp_path, database_url, monkeypatch):
    from herald.channels import http

    monkeypatch.setattr(http, "READ_TIMEOUT", 0.2)
    add_member(db, external_id="g1", email="gold@example.com", tier="gold")
    with fake_provider(Answer(200, {}, delay=0.8)) as shop:
        settings = day_settings(tmp_path, database_url, shop.url)
        start_member_day(db)
        for _ in range(6):
            drain(db, settings)
            with db.session() as session:
                session.execute(update(Delivery).values(not_before=None))
                session.execute(update(Batch).values(lease_until=None, enqueued_at=None))
    (row,) = deliveries(db).values()
    assert (row.status, row.reason) == (
        "failed",
        "gave up after 5 attempts: the shop API did not answer in time",
    )
    assert len(all_coupons(db)) == 1


def test_coupon_codes_are_unique_across_campaigns(db, tmp_path, database_url):
    for i in range(25):
        add_member(db, external_id=f"g{i}", email=f"g{i}@example.com", tier="gold")
    with fake_provider(shop_ok) as shop:
        settings = day_settings(tmp_path, database_url, shop.url)
        first = start_member_day(db, name="March")
        drain(db, settings)
        second = start_member_day(db, name="April")
        drain(db, settings)
    issued = all_coupons(db)
    assert len(issued) == 50 and len({c.code for c in issued}) == 50
    assert {c.campaign_id for c in issued} == {first, second}
    assert all(re.fullmatch(r"M\d+-[34679ACDEFGHJKMNPQRTUVWXY]{4}-[^-]{4}", c.code) for c in issued)


def test_a_colliding_code_is_replaced_by_a_fresh_one(db, tmp_path, database_url):
    add_member(db, external_id="g1", email="gold@example.com", tier="gold")
    add_member(db, external_id="g2", email="gold2@example.com", tier="gold")
    with fake_provider(shop_ok) as shop:
        start_member_day(db)
        drain(db, day_settings(tmp_path, database_url, shop.url))
    taken = all_coupons(db)[0]
    codes = iter([taken.code, "M1-FRESH-CODE"])
    with db.session() as session:
        other = session.scalar(select(Delivery).where(Delivery.id != taken.delivery_id))
        session.execute(
            update(Coupon).where(Coupon.delivery_id == other.id).values(delivery_id=None)
        )
        coupon = coupons.issue(
            session,
            campaign_id=taken.campaign_id,
            run_id=taken.run_id,
            contact_id=other.contact_id,
            delivery_id=other.id,
            percent_off=15,
            valid_from=clock.now(),
            valid_until=clock.now() + timedelta(days=1),
            generate=lambda _campaign: next(codes),
        )
        assert coupon.code == "M1-FRESH-CODE"


def test_a_redeemed_coupon_counts_as_a_conversion_once(db, tmp_path, database_url, client, auth):
    gold = add_member(db, external_id="g1", email="gold@example.com", tier="gold")
    with fake_provider(shop_ok) as shop:
        settings = day_settings(tmp_path, database_url, shop.url)
        campaign_id = start_member_day(db)
        drain(db, settings)
    (coupon,) = all_coupons(db)
    with db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        ref = {
            "delivery_id": delivery.id,
            "run_id": delivery.run_id,
            "campaign_id": campaign_id,
            "contact_id": gold,
        }
        session.add(
            Event(
                type="order.placed",
                contact_id=gold,
                occurred_at=clock.now() + timedelta(minutes=5),
                data={"total": 120.5, "coupon_code": coupon.code.lower(), "order_id": "o-1"},
            )
        )
        # an order without the coupon is not the campaign's
        session.add(
            Event(
                type="order.placed",
                contact_id=gold,
                occurred_at=clock.now() - timedelta(days=1),
                data={"total": 9, "order_id": "o-0"},
            )
        )
    with db.session() as session:
        assert coupons.redeem_from_orders(session) == 1
        assert coupons.redeem_from_orders(session) == 0
    (coupon,) = all_coupons(db)
    assert coupon.order_id == "o-1" and coupon.redeemed_at is not None

    stats = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).json
    assert stats["total"]["conversions"] == 1
    assert stats["total"]["revenue"] == 120.5
    with db.session() as session:
        # the coupon order is also reachable through a click: still one conversion
        session.add(
            Event(
                type="email.clicked",
                occurred_at=clock.now() - timedelta(minutes=1),
                data={"url": "https://shop.example"},
                **ref,
            )
        )
    with db.session() as session:
        direct = metrics.campaign_stats(session, service.get_campaign(session, campaign_id))
    assert (direct["total"]["conversions"], direct["total"]["revenue"]) == (1, 120.5)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"benefits": {"diamond": {"type": "coupon", "percent_off": 10}}}, "benefits.diamond"),
        ({"benefits": {"gold": {"type": "coupon", "percent_off": 0}}}, "benefits.gold"),
        ({"benefits": {"gold": {"type": "coupon", "percent_off": 101}}}, "benefits.gold"),
        ({"benefits": {"gold": {"type": "points_multiplier", "multiplier": 1}}}, "benefits.gold"),
        ({"benefits": {"gold": {"type": "cashback"}}}, "benefits.gold"),
        ({"benefits": {}}, "benefits"),
        ({"benefits": GOLD_AND_PLATINUM, "notify": ["fax"]}, "notify"),
        ({"benefits": GOLD_AND_PLATINUM, "notify": ["sms"], "sms_body": "{{ x"}, "sms_body"),
        ({"benefits": GOLD_AND_PLATINUM, "notify": ["email"], "text": "hi"}, "subject"),
    ],
)
def test_member_day_variants_are_checked_at_save_time(db, content, field):
    with pytest.raises(ValidationError) as problem:
        start_campaign(db, {"channel": "member_day", "variants": [{"name": "A", **content}]})
    assert f"variants[0].{field}" in problem.value.fields


def test_every_occurrence_of_a_recurring_member_day_issues_fresh_codes(db, tmp_path, database_url):
    from herald.campaigns.models import Campaign, Run
    from tests.channels.members import UTC

    add_member(db, external_id="g1", email="gold@example.com", tier="gold")
    payload = {
        "name": "Monthly member day",
        "channel": "member_day",
        "variants": [{"name": "A", "benefits": GOLD_AND_PLATINUM}],
        "schedule": {"type": "recurring", "cron": "0 10 8 * *", "timezone": "Asia/Shanghai"},
    }
    with db.session() as session:
        campaign = service.create_campaign(session, payload, UTC)
        service.arm(session, campaign, UTC)
        campaign_id, first_due = campaign.id, campaign.next_run_at
    with fake_provider(shop_ok) as shop:
        settings = day_settings(tmp_path, database_url, shop.url)
        for _ in range(2):
            with db.session() as session:
                due = session.get(Campaign, campaign_id).next_run_at
            clock.shift(due - clock.now() + timedelta(seconds=1))
            drain(db, settings)
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.status == "scheduled" and campaign.next_run_at > clock.now()
        runs = list(session.scalars(select(Run).where(Run.campaign_id == campaign_id)))
    assert len(runs) == 2 and runs[0].due_at == first_due
    assert first_due.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%d %H:%M") == "08 10:00"
    issued = all_coupons(db)
    assert len(issued) == 2 and issued[0].code != issued[1].code
    assert [c.run_id for c in issued] == [r.id for r in runs]
    assert len(shop.seen) == 2


def test_in_sms_quiet_hours_a_member_with_sms_consent_waits_and_others_do_not(
    db, tmp_path, database_url, smtp_server
):
    _, smtp_port = smtp_server
    texter = add_member(
        db,
        external_id="q1",
        email="q1@example.com",
        phone="+8613800138001",
        tier="gold",
        timezone="Asia/Shanghai",
        consent={"email": True, "sms": True},
    )
    reader = add_member(
        db, external_id="q2", email="q2@example.com", tier="gold", consent={"email": True}
    )
    # 23:00 in Shanghai: inside 21:00-09:00
    night = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).replace(hour=23, minute=0)
    clock.shift(night - clock.now())
    with fake_provider(shop_ok) as shop, fake_provider(Answer(201, {"sid": "SM9"})) as twilio:
        settings = make_settings(
            tmp_path,
            database_url,
            shop_api_url=shop.url,
            shop_api_secret=SECRET,
            sms_api_url=twilio.url,
            sms_account_sid=SID,
            sms_auth_token="tok",
            sms_from="+15005550006",
            sms_quiet_hours="21:00-09:00",
            smtp_port=str(smtp_port),
        )
        start_member_day(db, **NOTICES)
        drain(db, settings)
        rows = deliveries(db)
        assert rows[reader].status == "sent"
        assert (rows[texter].status, rows[texter].reason) == ("pending", "quiet hours")
        assert len(twilio.seen) == 0 and len(shop.seen) == 1
        clock.shift(timedelta(hours=10))  # 09:00 the next morning in Shanghai
        drain(db, settings)
        rows = deliveries(db)
        assert rows[texter].status == "sent" and "sms notice sent" in rows[texter].reason
        assert len(twilio.seen) == 1 and len(shop.seen) == 2
