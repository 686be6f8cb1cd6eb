"""Tier benefits as configuration: the handbook's defaults over the API, a marketer's change
checked and stored, and member days that take each tier's configured benefit
(``"benefits": "tier_defaults"``) posted to a real local shop API."""

from __future__ import annotations

from sqlalchemy import select
from standardwebhooks import Webhook

from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Delivery
from tests.channels.fake_provider import fake_provider
from tests.channels.members import add_member, start_campaign
from tests.channels.test_member_day import (  # noqa: F401
    SECRET,
    _fresh_channels,
    day_settings,
    shop_ok,
)
from tests.helpers import drain

SILVER = {
    "points_rate": 1.2,
    "birthday_gift": {"type": "free_shipping", "valid_days": 7},
    "member_day": {"type": "coupon", "amount_off": 30, "min_spend": 200, "valid_days": 2},
    "free_shipping_over": 99,
    "lines": ["Priority shipping", "  ", "A yearly points-redemption event"],
}


def test_the_five_tiers_start_from_the_handbooks_defaults(client, auth):
    answer = client.get("/api/v1/tier-benefits", headers=auth)
    assert answer.status_code == 200
    items = answer.json["items"]
    assert [i["tier"] for i in items] == ["new", "bronze", "silver", "gold", "platinum"]
    gold = items[3]
    assert gold["member_day"] == {"type": "coupon", "percent_off": 15, "valid_days": 1}
    assert gold["member_day_description"] == "15% off"
    assert items[0]["birthday_gift"] is None and items[0]["birthday_gift_description"] is None
    assert "An upgraded birthday gift" in gold["lines"]


def test_a_marketer_changes_a_tier_and_bad_values_are_refused(client, auth):
    changed = client.put("/api/v1/tier-benefits/silver", json=SILVER, headers=auth)
    assert changed.status_code == 200, changed.json
    assert changed.json["member_day_description"] == "¥30 off orders over ¥200"
    assert changed.json["lines"] == ["Priority shipping", "A yearly points-redemption event"]
    silver = client.get("/api/v1/tier-benefits", headers=auth).json["items"][2]
    assert silver["member_day"]["amount_off"] == 30

    bad = {**SILVER, "member_day": {"type": "coupon", "amount_off": 30, "valid_days": 0}}
    refused = client.put("/api/v1/tier-benefits/silver", json=bad, headers=auth)
    assert refused.status_code == 422
    assert "member_day.valid_days" in refused.json["error"]["fields"]
    refused = client.put(
        "/api/v1/tier-benefits/silver", json={**SILVER, "points_rate": -1}, headers=auth
    )
    assert refused.status_code == 422 and "points_rate" in refused.json["error"]["fields"]
    # nothing half-written: the good values stay
    silver = client.get("/api/v1/tier-benefits", headers=auth).json["items"][2]
    assert silver["member_day"]["valid_days"] == 2 and silver["points_rate"] == 1.2
    assert client.put("/api/v1/tier-benefits/diamond", json=SILVER, headers=auth).status_code == 404


def test_a_member_day_with_tier_defaults_gives_each_tier_its_configured_benefit(
    client, auth, db, tmp_path, database_url
):
    client.put("/api/v1/tier-benefits/silver", json=SILVER, headers=auth)
    no_member_day = {**SILVER, "member_day": None}
    client.put("/api/v1/tier-benefits/bronze", json=no_member_day, headers=auth)
    silver = add_member(db, external_id="s1", email="silver@example.com", tier="silver")
    gold = add_member(db, external_id="g1", email="gold@example.com", tier="gold")
    add_member(db, external_id="b1", email="bronze@example.com", tier="bronze")
    add_member(db, external_id="n1", email="new@example.com", tier="new")
    with fake_provider(shop_ok) as shop:
        settings = day_settings(tmp_path, database_url, shop.url)
        start_campaign(
            db,
            {
                "name": "Member day",
                "channel": "member_day",
                "variants": [{"name": "A", "benefits": "tier_defaults"}],
            },
        )
        drain(db, settings)

    with db.session() as session:
        planned = {d.contact_id: d.status for d in session.scalars(select(Delivery))}
        issued = {c.contact_id: c for c in session.scalars(select(Coupon))}
    # bronze has no member-day benefit now, new never had one: neither is in the run
    assert planned == {silver: "sent", gold: "sent"}
    bodies = {}
    for request in shop.seen:
        headers = {k.lower(): v for k, v in request.headers.items()}
        payload = Webhook(SECRET).verify(request.body, headers)
        bodies[payload["tier"]] = payload["benefit"]
    assert bodies["silver"]["amount_off"] == 30 and bodies["silver"]["min_spend"] == 200
    assert bodies["silver"]["code"] == issued[silver].code
    assert bodies["gold"]["percent_off"] == 15 and bodies["gold"]["code"] == issued[gold].code
    assert issued[silver].min_spend == 200


def test_one_tier_may_take_its_configured_benefit_beside_explicit_ones():
    from herald.campaigns.member_days import resolve_benefits
    from herald.campaigns.tier_benefits import DEFAULTS

    explicit = {"type": "gift", "sku": "TEA-1", "valid_days": 3}
    resolved = resolve_benefits({"gold": "tier_default", "silver": explicit}, DEFAULTS)
    assert resolved == {"gold": DEFAULTS["gold"]["member_day"], "silver": explicit}
    # a tier without a configured member-day benefit is not eligible
    assert resolve_benefits({"new": "tier_default"}, DEFAULTS) == {}
    assert set(resolve_benefits("tier_defaults", DEFAULTS)) == {
        "bronze",
        "silver",
        "gold",
        "platinum",
    }
