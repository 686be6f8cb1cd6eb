"""Journeys (contract section 14): create a draft, list, read, change, activate, pause, stats."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import request
from sqlalchemy import select

from herald.core.errors import ValidationError
from herald.journeys import service
from herald.journeys.models import Journey
from herald.journeys.stats import journey_stats
from herald.web import deps
from herald.web.api import MAX_ID, json_body, operation

ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
JOURNEY_IN = {
    "type": "object",
    "required": ["name", "entry", "steps"],
    "properties": {
        "name": {"type": "string"},
        "entry": {"type": "object", "description": "event + filter, segment_id or date_field"},
        "exit_on": {"type": "array", "items": {"type": "string"}},
        "re_entry": {
            "description": '"never", "after_exit" or {"after_days": N} (with "count_exits": '
            "false, entries that ended on an exit_on goal do not count)"
        },
        "holdout": {"type": "number", "minimum": 0, "maximum": 1},
        "steps": {"type": "array", "items": {"type": "object"}, "minItems": 1},
        "promotion_id": {"type": ["integer", "null"], "description": "the promotion it belongs to"},
    },
}
JOURNEY = {
    **JOURNEY_IN,
    "properties": {
        **JOURNEY_IN["properties"],
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["draft", "active", "paused"]},
        "step_campaigns": {"type": "object"},
    },
}
PAGE = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": JOURNEY},
        "next_cursor": {"type": ["string", "null"]},
    },
}


def journey_dict(journey: Journey) -> dict[str, Any]:
    """The API shape of a journey: its definition, id, status and message steps' campaigns."""
    return {
        "id": journey.id,
        **journey.definition,
        "status": journey.status,
        "step_campaigns": journey.step_campaigns,
        "promotion_id": journey.promotion_id,
        "created_at": journey.created_at.isoformat(),
        "updated_at": journey.updated_at.isoformat(),
    }


@operation(
    "POST",
    "/journeys",
    "Create a journey (a draft)",
    request_schema=JOURNEY_IN,
    response_schema=JOURNEY,
    status=201,
    write=True,
)
def create_journey() -> Any:
    session = deps.session()
    journey = service.create(session, json_body(), deps.settings().timezone)
    session.commit()
    return journey_dict(journey)


def _limit() -> int:
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise ValidationError("limit: must be a whole number from 1 to 500", {"limit": "1-500"})
    return int(raw)


def _cursor() -> int | None:
    raw = request.args.get("cursor")
    if not raw:
        return None
    try:
        value = base64.urlsafe_b64decode(raw.encode() + b"==").decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise ValidationError("cursor: not a cursor this list gave", {"cursor": "unknown cursor"})
    return int(value)


@operation("GET", "/journeys", "List journeys, newest first", response_schema=PAGE)
def list_journeys() -> Any:
    limit, before = _limit(), _cursor()
    query = (
        select(Journey)
        .where(Journey.trigger_id.is_(None))
        .order_by(Journey.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Journey.id < before)
    found = list(deps.session().scalars(query))
    more = len(found) > limit
    items = found[:limit]
    cursor = None
    if more:
        cursor = base64.urlsafe_b64encode(str(items[-1].id).encode()).decode().rstrip("=")
    return {"items": [journey_dict(j) for j in items], "next_cursor": cursor}


@operation("GET", "/journeys/{id}", "Read a journey", response_schema=JOURNEY, parameters=ID)
def get_journey(id: int) -> Any:
    return journey_dict(service.get(deps.session(), id))


@operation(
    "PATCH",
    "/journeys/{id}",
    "Change a journey; members keep the steps they are at",
    request_schema=JOURNEY_IN,
    response_schema=JOURNEY,
    write=True,
    parameters=ID,
)
def patch_journey(id: int) -> Any:
    session = deps.session()
    journey = service.update(
        session, service.get(session, id), json_body(), deps.settings().timezone
    )
    session.commit()
    return journey_dict(journey)


@operation(
    "POST",
    "/journeys/{id}/activate",
    "Start or resume a journey",
    response_schema=JOURNEY,
    write=True,
    parameters=ID,
)
def activate_journey(id: int) -> Any:
    session = deps.session()
    journey = service.activate(session, service.get(session, id))
    session.commit()
    return journey_dict(journey)


@operation(
    "POST",
    "/journeys/{id}/pause",
    "Pause a journey: members keep their place",
    response_schema=JOURNEY,
    write=True,
    parameters=ID,
)
def pause_journey(id: int) -> Any:
    session = deps.session()
    journey = service.pause(session, service.get(session, id))
    session.commit()
    return journey_dict(journey)


@operation(
    "GET",
    "/journeys/{id}/stats",
    "A journey's entries, holdout lift and per-step metrics",
    response_schema={"type": "object"},
    parameters=ID,
)
def journey_stats_view(id: int) -> Any:
    session = deps.session()
    return journey_stats(session, service.get(session, id))
