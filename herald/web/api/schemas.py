"""JSON Schemas used in the OpenAPI document; kept beside the code that answers them."""

from __future__ import annotations

from typing import Any

from herald.audiences.models import TIERS
from herald.campaigns.metrics import COUNTS, RATES
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

CONTACT = {
    **CONTACT_IN,
    "additionalProperties": True,
    "properties": {**CONTACT_IN["properties"], "id": {"type": "integer"}},
}

METRICS = {
    "type": "object",
    "properties": {
        **{name: {"type": "integer"} for name in COUNTS},
        "revenue": {"type": "number"},
        **{name: {"type": "number", "minimum": 0, "maximum": 1} for name in RATES},
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
        "benefits": {"type": "object"},
        "notify": {"type": "array", "items": {"type": "string"}},
    },
}

CAMPAIGN_IN = {
    "type": "object",
    "required": ["name", "channel", "variants"],
    "properties": {
        "name": {"type": "string"},
        "channel": {"type": "string", "enum": ["email", "sms", "social", "member_day"]},
        "segment_id": {"type": ["integer", "null"]},
        "variants": {"type": "array", "items": VARIANT, "minItems": 1},
        "ab_test": {
            "type": "object",
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
    },
}

STATS = {
    "type": "object",
    "properties": {
        "total": METRICS,
        "variants": {"type": "object", "additionalProperties": METRICS},
        "winner": {"type": ["string", "null"]},
        "decision": {"type": ["object", "null"]},
    },
}
