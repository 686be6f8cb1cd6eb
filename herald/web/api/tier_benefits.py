"""Tier benefits (contract 15, issue 13): what each tier gets, as configuration a marketer edits;
and the coupons campaigns issued, for the shop's and the marketer's look-ups."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from herald.campaigns import coupon_specs, tier_benefits
from herald.campaigns.coupons import Coupon
from herald.core.errors import NotFound, ValidationError
from herald.core.tiers import TIERS
from herald.web import deps
from herald.web.api import MAX_ID, json_body, operation

SPEC = {
    "type": ["object", "null"],
    "description": 'a coupon spec, e.g. {"type": "coupon", "amount_off": 30, "min_spend": 200, '
    '"valid_days": 7}',
    "properties": {
        "type": {"type": "string", "enum": list(coupon_specs.TYPES)},
        "percent_off": {"type": "integer", "minimum": 1, "maximum": 100},
        "amount_off": {"type": "number"},
        "min_spend": {"type": "number"},
        "sku": {"type": "string"},
        "multiplier": {"type": "number"},
        "valid_days": {"type": "integer", "minimum": 1, "maximum": 366},
        "valid_until": {"type": "string", "format": "date-time"},
    },
}
BENEFITS_IN = {
    "type": "object",
    "properties": {
        "points_rate": {"type": "number", "minimum": 0, "maximum": 100},
        "birthday_gift": SPEC,
        "member_day": SPEC,
        "free_shipping_over": {"type": ["number", "null"], "minimum": 0},
        "lines": {"type": "array", "items": {"type": "string"}},
    },
}
BENEFITS = {
    "type": "object",
    "properties": {
        **BENEFITS_IN["properties"],
        "tier": {"type": "string", "enum": list(TIERS)},
        "birthday_gift_description": {"type": ["string", "null"]},
        "member_day_description": {"type": ["string", "null"]},
    },
}
TIER = [
    {
        "name": "tier",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(TIERS)},
    }
]
COUPON = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "campaign_id": {"type": "integer"},
        "contact_id": {"type": ["integer", "null"]},
        "type": {"type": "string"},
        "description": {"type": "string"},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": "string", "format": "date-time"},
        "redeemed_at": {"type": ["string", "null"], "format": "date-time"},
        "order_id": {"type": ["string", "null"]},
        "refused_reason": {"type": ["string", "null"]},
    },
}


@operation(
    "GET",
    "/tier-benefits",
    "Every tier's benefits (the handbook's defaults until a marketer changes them)",
    response_schema={
        "type": "object",
        "properties": {"items": {"type": "array", "items": BENEFITS}},
    },
)
def list_tier_benefits() -> Any:
    configured = tier_benefits.all_benefits(deps.session())
    return {"items": [tier_benefits.answer(t, b) for t, b in configured.items()]}


@operation(
    "PUT",
    "/tier-benefits/{tier}",
    "Replace one tier's benefits",
    request_schema=BENEFITS_IN,
    response_schema=BENEFITS,
    write=True,
    parameters=TIER,
)
def put_tier_benefits(tier: str) -> Any:
    if tier not in TIERS:
        raise NotFound(f"{tier!r} is not a tier ({', '.join(TIERS)})")
    session = deps.session()
    clean = tier_benefits.update(session, tier, json_body())
    session.commit()
    return tier_benefits.answer(tier, clean)


@operation(
    "GET",
    "/coupons",
    "Issued coupons, newest first (?campaign_id=, ?code=, ?limit=)",
    response_schema={
        "type": "object",
        "properties": {"items": {"type": "array", "items": COUPON}},
    },
    parameters=[
        {"name": "campaign_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "code", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    ],
)
def list_coupons() -> Any:
    query = select(Coupon).order_by(Coupon.id.desc())
    campaign = request.args.get("campaign_id")
    if campaign is not None:
        if not campaign.isdigit() or not 1 <= int(campaign) <= MAX_ID:
            raise ValidationError(
                "campaign_id must be a campaign's id", {"campaign_id": "not an id"}
            )
        query = query.where(Coupon.campaign_id == int(campaign))
    code = request.args.get("code")
    if code:
        query = query.where(Coupon.code == code.strip().upper()[:32])
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise ValidationError("limit must be a whole number from 1 to 500", {"limit": "1 to 500"})
    found = deps.session().scalars(query.limit(int(raw)))
    return {"items": [coupon_dict(c) for c in found]}


def coupon_dict(coupon: Coupon) -> dict[str, Any]:
    """The API shape of one issued coupon."""
    view = coupon.offer()
    return {
        "code": coupon.code,
        "campaign_id": coupon.campaign_id,
        "contact_id": coupon.contact_id,
        **{k: v for k, v in view.items() if k not in ("code", "valid_until")},
        "valid_from": coupon.valid_from.isoformat(),
        "valid_until": coupon.valid_until.isoformat(),
        "redeemed_at": coupon.redeemed_at.isoformat() if coupon.redeemed_at else None,
        "order_id": coupon.order_id,
        "refused_reason": coupon.refused_reason,
    }
