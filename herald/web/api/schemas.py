"""JSON Schemas used in the OpenAPI document; kept beside the code that answers them."""

from __future__ import annotations

from typing import Any

from herald.audiences.models import TIERS
from herald.campaigns.metrics import COUNTS, COUPON_MONEY, COUPON_RATES, INTERVALS, MONEY, RATES
from herald.campaigns.schedules import TYPES
from herald.campaigns.status import CAMPAIGN_STATUSES

ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["code", "message"],
        }
    },
}

CONTACT_IN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "external_id": {"type": "string", "maxLength": 255},
        "email": {"type": "string", "format": "email"},
        "phone": {"type": "string", "description": "E.164, or national in the default region"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "locale": {"type": "string"},
        "timezone": {"type": "string", "description": "IANA zone"},
        "tier": {"type": "string", "enum": list(TIERS)},
        "points": {"type": "integer", "minimum": 0},
        "birthday": {"type": "string", "format": "date"},
        "attributes": {"type": "object"},
        "consent": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also allows null (OpenAPI 3.1: a type list)."""
    kind = schema.get("type")
    if kind is None:
        return schema
    kinds = kind if isinstance(kind, list) else [kind]
    # an enum or format applies to its type only; null is listed beside them
    out = {**schema, "type": [*kinds, "null"] if "null" not in kinds else kinds}
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


# fields a member may lack are null in answers
CONTACT_NULLABLE = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "timezone",
    "birthday",
)
CONTACT = {
    "type": "object",
    "additionalProperties": True,
    "required": ["id", "tier", "points", "attributes", "consent"],
    "properties": {
        **{
            name: nullable(spec) if name in CONTACT_NULLABLE else spec
            for name, spec in CONTACT_IN["properties"].items()
        },
        "id": {"type": "integer"},
        "orders_count": {"type": "integer"},
        "total_spent": {"type": "number"},
        "last_order_at": {"type": ["string", "null"], "format": "date-time"},
        "rfm": {
            "type": "object",
            "description": "RFM scores (1-5, quintiles over members with orders; 5 is the most"
            " recent, frequent, highest spend) and named group, recomputed daily; null"
            " without orders",
            "properties": {
                "recency": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "frequency": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "monetary": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "group": {
                    "type": ["string", "null"],
                    "enum": [
                        "champions",
                        "loyal",
                        "potential",
                        "new",
                        "at_risk",
                        "cant_lose",
                        "hibernating",
                        "lost",
                        None,
                    ],
                },
            },
        },
        "favourite_category": {
            "type": ["string", "null"],
            "description": "the category with the most spend",
        },
        "referral_code": {
            "type": ["string", "null"],
            "description": "the member's own code; a customer.created with"
            " customer.referred_by = this code credits the member",
        },
        "referred_by_id": {"type": ["integer", "null"]},
        "points_expiring": {
            "type": ["integer", "null"],
            "description": "points of the nearest lot still to expire",
        },
        "points_expire_at": {"type": ["string", "null"], "format": "date"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "best_hour": {
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": 23,
            "description": "the hour of day in the member's zone at which they have most often "
            "opened or clicked (human events, last 90 days; ties: the earliest hour); null "
            "without such events. Recomputed hourly.",
        },
    },
}

METRICS = {
    "type": "object",
    "properties": {
        **{name: {"type": "integer"} for name in COUNTS},
        "revenue": {"type": "number"},
        **{name: {"type": "number", "minimum": 0, "maximum": 1} for name in RATES},
        **{name: {"type": "number", "minimum": 0} for name in MONEY},
        **{name: {"type": "number", "minimum": 0, "maximum": 1} for name in COUPON_RATES},
        **{name: {"type": "number", "minimum": 0} for name in COUPON_MONEY},
    },
}
INTERVAL = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
VARIANT_METRICS = {
    "type": "object",
    "properties": {
        **METRICS["properties"],
        "ci": {"type": "object", "properties": {name: INTERVAL for name in INTERVALS}},
    },
}

VARIANT = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "subject": {"type": "string"},
        "html": {"type": "string"},
        "text": {"type": "string"},
        "from": {"type": "string"},
        "body": {"type": "string"},
        "status": {"type": "string"},
        "visibility": {"type": "string"},
        "benefits": {
            "type": ["object", "string"],
            "description": 'per tier a coupon spec (or "tier_default"), or "tier_defaults": '
            "the member-day benefit configured for each tier",
        },
        "notify": {"type": "array", "items": {"type": "string"}},
        "coupon": {
            "type": "object",
            "description": "email and SMS: one unique code per recipient, seen as `coupon` in "
            'templates; {"type": "coupon", "percent_off": 15 | "amount_off": 30, "min_spend": '
            '200} | {"type": "free_shipping"} | {"type": "gift", "sku": "..."} | {"type": '
            '"points_multiplier", "multiplier": 3}, each with valid_days or valid_until; or '
            '{"tier_benefit": "birthday_gift" | "member_day"}',
        },
    },
}

CAMPAIGN_IN = {
    "type": "object",
    "required": ["name", "channel", "variants"],
    "properties": {
        "name": {"type": "string"},
        "channel": {"type": "string", "enum": ["email", "sms", "social", "member_day"]},
        "segment_id": {"type": ["integer", "null"]},
        "promotion_id": {"type": ["integer", "null"], "description": "the promotion it belongs to"},
        "variants": {"type": "array", "items": VARIANT, "minItems": 1},
        "ab_test": {
            "type": ["object", "null"],
            "properties": {
                "test_fraction": {"type": "number"},
                "metric": {"type": "string"},
                "decide_after_hours": {"type": "number"},
                "confidence": {"type": "number"},
                "fallback": {"type": "string"},
            },
        },
        "schedule": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": list(TYPES)},
                "at": {"type": "string", "format": "date-time"},
                "cron": {"type": "string"},
                "timezone": {"type": "string"},
                "date": {"type": "string", "format": "date"},
                "time": {"type": "string"},
                "fallback_time": {
                    "type": "string",
                    "description": "smart: the wall-clock time for members without a best hour",
                },
            },
        },
    },
}

CAMPAIGN = {
    **CAMPAIGN_IN,
    "properties": {
        **CAMPAIGN_IN["properties"],
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": list(CAMPAIGN_STATUSES)},
        "pause_reason": {"type": ["string", "null"]},
        "next_run_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

STATS = {
    "type": "object",
    "properties": {
        "total": METRICS,
        "variants": {"type": "object", "additionalProperties": VARIANT_METRICS},
        "winner": {"type": ["string", "null"]},
        "decision": {"type": ["object", "null"]},
    },
}
