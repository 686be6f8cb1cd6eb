"""Reading lists (contract section 12): contacts, segments, campaigns and triggers, newest
first, with cursor paging and filters."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import or_, select

from herald.audiences import contacts
from herald.audiences.models import Contact, Segment
from herald.campaigns.models import Campaign, Trigger
from herald.campaigns.status import CAMPAIGN_STATUSES
from herald.channels.registry import CHANNELS
from herald.core import paging
from herald.core.errors import ValidationError
from herald.web import deps
from herald.web.api import operation
from herald.web.api.campaigns import campaign_dict
from herald.web.api.triggers import trigger_dict

PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]
MAX_QUERY = 200


def _page(query: Any, id_column: Any, shape: Any) -> dict[str, Any]:
    rows, cursor = paging.page(
        deps.session(), query, id_column, request.args.get("limit"), request.args.get("cursor")
    )
    return {"items": [shape(row) for row in rows], "next_cursor": cursor}


def _list_schema(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "description": item}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


@operation(
    "GET",
    "/contacts",
    "List contacts, newest first (?q= searches email, name and external id)",
    response_schema=_list_schema("contact"),
    parameters=[*PAGE_PARAMS, {"name": "q", "in": "query", "schema": {"type": "string"}}],
)
def list_contacts() -> Any:
    query = select(Contact).where(Contact.erased_at.is_(None))
    q = (request.args.get("q") or "").strip()
    if len(q) > MAX_QUERY or "\x00" in q:
        raise ValidationError(f"q is at most {MAX_QUERY} characters", {"q": "too long"})
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        query = query.where(
            or_(
                Contact.email.ilike(like, escape="\\"),
                Contact.first_name.ilike(like, escape="\\"),
                Contact.last_name.ilike(like, escape="\\"),
                Contact.external_id.ilike(like, escape="\\"),
            )
        )
    return _page(query, Contact.id, contacts.to_dict)


def _segment_row(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "rules": segment.rules,
        "created_at": segment.created_at.isoformat() if segment.created_at else None,
        "updated_at": segment.updated_at.isoformat() if segment.updated_at else None,
    }


@operation(
    "GET",
    "/segments",
    "List segments, newest first",
    response_schema=_list_schema("segment (without its count)"),
    parameters=PAGE_PARAMS,
)
def list_segments() -> Any:
    return _page(select(Segment), Segment.id, _segment_row)


@operation(
    "GET",
    "/campaigns",
    "List campaigns, newest first (?status=, ?channel= and ?promotion_id= filter)",
    response_schema=_list_schema("campaign"),
    parameters=[
        *PAGE_PARAMS,
        {"name": "status", "in": "query", "schema": {"enum": list(CAMPAIGN_STATUSES)}},
        {"name": "channel", "in": "query", "schema": {"type": "string"}},
        {"name": "promotion_id", "in": "query", "schema": {"type": "integer"}},
    ],
)
def list_campaigns() -> Any:
    query = select(Campaign)
    promotion = request.args.get("promotion_id")
    if promotion:
        if not promotion.isdigit() or not 1 <= int(promotion) <= 2_147_483_647:
            raise ValidationError(
                "promotion_id must be a promotion's id", {"promotion_id": "not an id"}
            )
        query = query.where(Campaign.promotion_id == int(promotion))
    wanted = request.args.get("status")
    if wanted:
        if wanted not in CAMPAIGN_STATUSES:
            raise ValidationError(
                f"status must be one of {', '.join(CAMPAIGN_STATUSES)}", {"status": "unknown"}
            )
        query = query.where(Campaign.status == wanted)
    channel = request.args.get("channel")
    if channel:
        if channel not in CHANNELS:
            raise ValidationError(
                f"channel must be one of {', '.join(CHANNELS)}", {"channel": "unknown"}
            )
        query = query.where(Campaign.channel == channel)
    return _page(query, Campaign.id, campaign_dict)


@operation(
    "GET",
    "/triggers",
    "List triggers, newest first",
    response_schema=_list_schema("trigger"),
    parameters=PAGE_PARAMS,
)
def list_triggers() -> Any:
    return _page(select(Trigger), Trigger.id, trigger_dict)
