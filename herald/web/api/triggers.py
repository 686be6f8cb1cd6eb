"""Triggers: create, read, switch on or off, stats."""

from __future__ import annotations

from typing import Any

from herald.campaigns import metrics
from herald.campaigns.models import Trigger
from herald.core.errors import ValidationError
from herald.journeys import triggers
from herald.web import deps
from herald.web.api import json_body, operation
from herald.web.api.schemas import STATS, VARIANT

ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
TRIGGER_IN = {
    "type": "object",
    "required": ["name", "event", "channel", "variants"],
    "properties": {
        "name": {"type": "string"},
        "event": {"type": "string", "enum": list(triggers.EVENTS)},
        "filter": {"type": "object", "description": "segment rules (contract section 7)"},
        "delay_minutes": {"type": "number", "minimum": 0},
        "cancel_on": {"type": "string", "enum": list(triggers.EVENTS)},
        "channel": {"type": "string"},
        "variants": {"type": "array", "items": VARIANT, "minItems": 1},
        "max_per_contact_days": {"type": "number", "minimum": 0},
        "transactional": {"type": "boolean"},
    },
}
TRIGGER = {
    **TRIGGER_IN,
    "properties": {
        **TRIGGER_IN["properties"],
        # stored as given: absent ones are null in answers
        "filter": {"type": ["object", "null"], "description": "segment rules (contract section 7)"},
        "cancel_on": {"type": ["string", "null"], "enum": [*triggers.EVENTS, None]},
        "max_per_contact_days": {"type": ["number", "null"], "minimum": 0},
        "id": {"type": "integer"},
        "active": {"type": "boolean"},
        "campaign_id": {"type": "integer"},
    },
}


def trigger_dict(trigger: Trigger) -> dict[str, Any]:
    """The API shape of a trigger."""
    return {
        "id": trigger.id,
        "name": trigger.name,
        "event": trigger.event,
        "filter": trigger.filter,
        "delay_minutes": trigger.delay_minutes,
        "cancel_on": trigger.cancel_on,
        "channel": trigger.campaign.channel,
        "variants": [{"name": v.name, **v.content} for v in trigger.campaign.variants],
        "max_per_contact_days": trigger.max_per_contact_days,
        "transactional": trigger.transactional,
        "active": trigger.active,
        "campaign_id": trigger.campaign_id,
    }


@operation(
    "POST",
    "/triggers",
    "Create a trigger (active at once)",
    request_schema=TRIGGER_IN,
    response_schema=TRIGGER,
    status=201,
    write=True,
)
def create_trigger() -> Any:
    session = deps.session()
    trigger = triggers.create_trigger(session, json_body(), deps.settings().timezone)
    session.commit()
    return trigger_dict(trigger)


@operation("GET", "/triggers/{id}", "Read a trigger", response_schema=TRIGGER, parameters=ID)
def get_trigger(id: int) -> Any:
    return trigger_dict(triggers.get_trigger(deps.session(), id))


@operation(
    "PATCH",
    "/triggers/{id}",
    'Switch a trigger on or off ({"active": false})',
    request_schema={"type": "object", "properties": {"active": {"type": "boolean"}}},
    response_schema=TRIGGER,
    write=True,
    parameters=ID,
)
def patch_trigger(id: int) -> Any:
    session = deps.session()
    trigger = triggers.get_trigger(session, id)
    body = json_body()
    if (
        not isinstance(body, dict)
        or set(body) != {"active"}
        or not isinstance(body["active"], bool)
    ):
        raise ValidationError('send {"active": true|false}', {"active": "must be true or false"})
    triggers.set_active(session, trigger, body["active"])
    session.commit()
    return trigger_dict(trigger)


@operation(
    "GET", "/triggers/{id}/stats", "A trigger's metrics", response_schema=STATS, parameters=ID
)
def trigger_stats(id: int) -> Any:
    session = deps.session()
    trigger = triggers.get_trigger(session, id)
    return metrics.campaign_stats(session, trigger.campaign)
