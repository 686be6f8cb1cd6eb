"""Promotions (contract section 15): create, list, read, change, delete, their report, and the
holiday gallery that fills in a promotion and its draft campaigns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from sqlalchemy import select

from herald.campaigns import metrics, promotion_templates, promotions
from herald.campaigns.promotions import KINDS, METRICS, Promotion
from herald.core import paging
from herald.core.errors import ValidationError
from herald.web import deps
from herald.web.api import json_body, operation
from herald.web.api.schemas import METRICS as M

ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
KEY = [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}]
MOMENT = {"type": "string", "format": "date-time", "description": "with an offset or Z"}
AMOUNT = {"type": ["number", "null"], "minimum": 0}
PROMOTION_IN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "kind", "starts_at", "ends_at"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "kind": {"type": "string", "enum": list(KINDS)},
        "starts_at": MOMENT,
        "ends_at": MOMENT,
        "goal": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["metric", "target"],
            "properties": {
                "metric": {"type": "string", "enum": list(METRICS)},
                "target": {"type": "number", "minimum": 0},
            },
        },
        "budget": AMOUNT,
        "description": {"type": ["string", "null"], "maxLength": 5000},
    },
}
PROMOTION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "kind", "starts_at", "ends_at", "status"],
    "properties": {
        **PROMOTION_IN["properties"],
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["upcoming", "running", "ended"]},
        "template": {"type": ["string", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "campaign_ids": {"type": "array", "items": {"type": "integer"}},
    },
}
REPORT = {
    "type": "object",
    "required": ["promotion", "totals", "channels", "coupons", "orders", "revenue", "goal"],
    "properties": {
        "promotion": PROMOTION,
        "totals": M,
        "channels": {"type": "object", "additionalProperties": M},
        "coupons": {
            "type": "object",
            "properties": {"issued": {"type": "integer"}, "redeemed": {"type": "integer"}},
        },
        "orders": {"type": "integer"},
        "revenue": {"type": "number"},
        "goal": {
            "type": "object",
            "properties": {
                "metric": {"type": ["string", "null"]},
                "target": {"type": ["number", "null"]},
                "value": {"type": ["number", "null"]},
                "progress": {"type": ["number", "null"]},
                "reached": {"type": "boolean"},
            },
        },
    },
}
GALLERY_ITEM = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "description": {"type": "string"},
        "campaigns": {"type": "array", "items": {"type": "object"}},
        "next": {"type": ["object", "null"]},
    },
}
APPLY_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "year": {"type": ["integer", "null"]},
        "segment_id": {"type": ["integer", "null"]},
    },
}
APPLIED = {
    "type": "object",
    "properties": {
        "promotion": PROMOTION,
        "campaign_ids": {"type": "array", "items": {"type": "integer"}},
    },
}


def promotion_dict(promotion: Promotion) -> dict[str, Any]:
    """The API shape of a promotion, with its campaigns' ids."""
    session = deps.session()
    return {
        **promotions.to_dict(promotion),
        "campaign_ids": [c.id for c in promotions.campaigns_of(session, promotion.id)],
    }


@operation(
    "POST",
    "/promotions",
    "Create a promotion (a window with a goal and budget that campaigns belong to)",
    request_schema=PROMOTION_IN,
    response_schema=PROMOTION,
    status=201,
    write=True,
)
def create_promotion() -> Any:
    session = deps.session()
    promotion = promotions.create(session, json_body())
    session.commit()
    return promotion_dict(promotion)


@operation(
    "GET",
    "/promotions",
    "List promotions, newest first",
    response_schema={
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": PROMOTION},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    parameters=[
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
        },
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    ],
)
def list_promotions() -> Any:
    rows, cursor = paging.page(
        deps.session(),
        select(Promotion),
        Promotion.id,
        request.args.get("limit"),
        request.args.get("cursor"),
    )
    return {"items": [promotion_dict(p) for p in rows], "next_cursor": cursor}


@operation("GET", "/promotions/{id}", "Read a promotion", response_schema=PROMOTION, parameters=ID)
def get_promotion(id: int) -> Any:
    return promotion_dict(promotions.get(deps.session(), id))


@operation(
    "PATCH",
    "/promotions/{id}",
    "Change a promotion (fields given replace the stored ones)",
    request_schema={**PROMOTION_IN, "required": []},
    response_schema=PROMOTION,
    write=True,
    parameters=ID,
)
def patch_promotion(id: int) -> Any:
    session = deps.session()
    promotion = promotions.update_promotion(session, promotions.get(session, id), json_body())
    session.commit()
    return promotion_dict(promotion)


@operation(
    "DELETE",
    "/promotions/{id}",
    "Delete a promotion; its draft campaigns and journeys stay, without it. Refused (409) once "
    "one of its campaigns has sent: the promotion keeps its report",
    status=204,
    write=True,
    parameters=ID,
)
def delete_promotion(id: int) -> Any:
    session = deps.session()
    promotions.delete(session, promotions.get(session, id))
    session.commit()
    return "", 204


@operation(
    "GET",
    "/promotions/{id}/report",
    "What the promotion's campaigns did: metrics in total and per channel, coupons, orders, "
    "revenue and the goal",
    response_schema=REPORT,
    parameters=ID,
)
def promotion_report(id: int) -> Any:
    session = deps.session()
    return metrics.promotion_report(session, promotions.get(session, id))


@operation(
    "GET",
    "/promotion-templates",
    "The holiday gallery: ready-made promotions with their campaigns and next dates",
    response_schema={
        "type": "object",
        "properties": {"items": {"type": "array", "items": GALLERY_ITEM}},
    },
)
def list_promotion_templates() -> Any:
    zone = deps.settings().timezone
    return {
        "items": [
            promotion_templates.describe(t, zone) for t in promotion_templates.TEMPLATES.values()
        ]
    }


@operation(
    "POST",
    "/promotion-templates/{key}/apply",
    "Fill in a gallery promotion and its campaigns as drafts, dated for the next occurrence "
    "(or the year given)",
    request_schema=APPLY_IN,
    response_schema=APPLIED,
    status=201,
    write=True,
    parameters=KEY,
)
def apply_promotion_template(key: str) -> Any:
    session = deps.session()
    promotion_templates.get(key)  # an unknown key is a 404 before the body is looked at
    body = json_body() if request.data else {}
    if not isinstance(body, Mapping):
        raise ValidationError("the body must be a JSON object", {"": "must be an object"})
    unknown = sorted(set(body) - {"year", "segment_id"})
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}", {unknown[0]: "unknown field"})
    promotion, ids = promotion_templates.apply(
        session,
        key,
        body.get("year"),
        segment_id=body.get("segment_id"),
        zone=deps.settings().timezone,
    )
    session.commit()
    return {"promotion": promotion_dict(promotion), "campaign_ids": ids}
